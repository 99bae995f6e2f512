/**
 * Argument checks shared by the public methods: they throw at the call,
 * naming the argument, so that a bad value never surfaces later inside the
 * loop where the caller cannot be found.
 */

// Callbacks are called with arbitrary arguments: `Function` is the honest type.
// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
export type AnyCallback = (...args: any[]) => unknown;

export function checkCallback(value: unknown, method: string, arg = 'callback'): asserts value is AnyCallback {
  if (typeof value !== 'function') {
    throw new TypeError(`${method}: ${arg} must be a function, got ${describe(value)}`);
  }
}

/** A finite number of seconds (negative allowed: it means "now"). */
export function checkSeconds(value: unknown, method: string, arg: string): asserts value is number {
  if (typeof value !== 'number') {
    throw new TypeError(`${method}: ${arg} must be a number of seconds, got ${describe(value)}`);
  }
  if (Number.isNaN(value)) throw new RangeError(`${method}: ${arg} must not be NaN`);
}

export function describe(value: unknown): string {
  // Alone: `${typeof value} ${value}` would read "undefined undefined".
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'function') return `function ${value.name || '(anonymous)'}`;
  if (typeof value === 'object') return (value as object).constructor?.name ?? 'object';
  if (typeof value === 'string') return `string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)}`;
  return `${typeof value} ${String(value)}`;
}
