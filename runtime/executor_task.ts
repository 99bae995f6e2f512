/**
 * What crosses from a loop to an executor thread: the task record, and the
 * `transfer` marker that asks for ArrayBuffers to be moved rather than
 * copied.
 *
 * This module loads nothing else, so the executor threads use it without
 * loading the event loop.
 */
import type { MessagePort } from 'node:worker_threads';

/**
 * One call for an executor thread. Exactly one of `source` (a self-contained
 * function's text, compiled once per thread) or `module` + `name` (an
 * exported function of a module, `module` an absolute URL) is set. `args`
 * are structured-cloned.
 */
export interface ExecutorTask {
  readonly source: string | undefined;
  readonly module: string | undefined;
  readonly name: string | undefined;
  readonly args: unknown[];
  /**
   * This call's word in the default pool's cancel flags (the pool's
   * `workerData.cancelFlags`): nonzero once its Future was cancelled, so
   * the executor thread skips it if it has not started. Absent for other
   * executors.
   */
  cancelSlot?: number;
}

/**
 * The key that marks a value to send by transfer. It is a registered symbol
 * so that a self-contained function, which cannot import `transfer`, can
 * still return `{ [Symbol.for('multiloop.transfer')]: [buffer], value }`.
 */
export const TRANSFER_KEY: unique symbol = Symbol.for('multiloop.transfer');

/** A value whose listed buffers are moved to the receiving thread, not copied. */
export interface Transfer<T = unknown> {
  readonly [TRANSFER_KEY]: readonly Transferable[];
  readonly value: T;
}

/** What postMessage can move between threads. */
export type Transferable = ArrayBuffer | MessagePort;

/**
 * Marks `value` to be sent by transfer: the buffers in `list` (by default
 * `value` itself, or its underlying buffer when `value` is a typed array or
 * DataView) are moved to the other thread and become detached (length 0)
 * here. Use it for an argument of `runInExecutor` or for a task's return
 * value; only top-level arguments and the whole result are inspected. From
 * a loop on a worker thread, marked buffers are copied once to the main
 * thread and moved from there (see executor_bridge.ts), and MessagePorts
 * cannot be sent.
 */
export function transfer<T>(value: T, list?: readonly Transferable[]): Transfer<T> {
  if (list === undefined) {
    list = [defaultTransferable(value)];
  } else if (!Array.isArray(list)) {
    throw new TypeError('transfer: list must be an array of ArrayBuffers or MessagePorts');
  }
  return { [TRANSFER_KEY]: list, value };
}

function defaultTransferable(value: unknown): Transferable {
  if (value instanceof ArrayBuffer) return value;
  if (ArrayBuffer.isView(value) && value.buffer instanceof ArrayBuffer) return value.buffer;
  throw new TypeError('transfer: value must be an ArrayBuffer or a view of one when no list is given');
}

/** The transfer marker in `value`, or undefined: the check is cheap enough for every argument. */
export function transferOf(value: unknown): Transfer | undefined {
  return typeof value === 'object' && value !== null && TRANSFER_KEY in value ? (value as Transfer) : undefined;
}

/** The key that marks an error sent back from an executor thread as plain data (see `carryError`). */
const CARRIED_ERROR = 'multiloop.error';

/** An Error as plain data: what structured clone keeps whole. */
export interface CarriedError {
  readonly [CARRIED_ERROR]: true;
  readonly name: string;
  readonly message: string;
  readonly stack: string | undefined;
  /** The error's own enumerable properties that can be cloned: `code`, `errno`, `syscall`, `path`, ... */
  readonly props: Record<string, unknown>;
}

/**
 * In the executor thread: `error` as plain data. Structured clone keeps an
 * Error's message and stack but drops its own properties (an fs error's
 * `code`, `errno`, `path`) and, for any class not built in, its name.
 */
export function carryError(error: Error): CarriedError {
  const props: Record<string, unknown> = {};
  for (const key of Object.keys(error)) {
    if (key === 'name' || key === 'message' || key === 'stack') continue;
    const value = (error as unknown as Record<string, unknown>)[key];
    try {
      structuredClone(value);
      props[key] = value;
    } catch {
      // A property that cannot cross (a function, a socket) stays behind.
    }
  }
  return { [CARRIED_ERROR]: true, name: error.name, message: error.message, stack: error.stack, props };
}

/** True when `value` is what `carryError` made. */
export function isCarriedError(value: unknown): value is CarriedError {
  return typeof value === 'object' && value !== null && (value as Partial<CarriedError>)[CARRIED_ERROR] === true;
}
