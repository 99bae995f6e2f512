/**
 * `Atomics.waitAsync` (ES2024, in Node since 16) for the project's ES2023
 * lib: the only declaration shared/ needs beyond it.
 */
interface Atomics {
  waitAsync(
    typedArray: Int32Array | BigInt64Array,
    index: number,
    value: number | bigint,
    timeout?: number,
  ): { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> };
}
