/**
 * Functions that the executor tests run through `{ module, name }`
 * descriptors: they import what they need, as real task modules do.
 */
import { threadId as executorThreadId } from 'node:worker_threads';
import { transfer } from 'multiloop';
import { LoopRef, type LoopRefData } from 'multiloop/shared';

export function multiply(a: number, b: number): number {
  return a * b;
}

export async function delayedEcho<T>(value: T): Promise<T> {
  await new Promise((resolve) => setImmediate(resolve));
  return value;
}

export function failWith(message: string): never {
  throw new RangeError(message);
}

export function threadId(): number {
  return executorThreadId;
}

/** A buffer of `size` bytes, each `fill`, moved back to the caller rather than copied. */
export function filledBuffer(size: number, fill: number) {
  const buffer = new ArrayBuffer(size);
  new Uint8Array(buffer).fill(fill);
  return transfer(buffer);
}

/**
 * Counts the tasks running at once in `counters[0]`, keeps the highest count
 * in `counters[1]`, and returns the executor thread's id. It spins for a
 * millisecond so that tasks overlap when threads are free to run them.
 */
export function probe(counters: SharedArrayBuffer): number {
  const cells = new Int32Array(counters);
  const active = Atomics.add(cells, 0, 1) + 1;
  for (let seen = Atomics.load(cells, 1); seen < active; seen = Atomics.load(cells, 1)) {
    Atomics.compareExchange(cells, 1, seen, active);
  }
  const end = performance.now() + 1;
  while (performance.now() < end);
  Atomics.sub(cells, 0, 1);
  return executorThreadId;
}

/**
 * Reports each of `steps` steps to `loop` (a LoopRef, arriving as data) by
 * calling its registered 'progress' function, then returns the step count:
 * a long task streaming its progress back.
 */
export function countWithProgress(loop: LoopRefData, steps: number): number {
  const ref = LoopRef.from(loop);
  for (let step = 0; step < steps; step++) ref.callSoonThreadsafe('progress', step);
  return steps;
}
