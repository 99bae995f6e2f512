/**
 * The exceptions of asyncio that multiloop users catch by class.
 *
 * Each sets `name` so that logs and `String(err)` say which one it is even
 * after the error has crossed a thread (structured clone keeps only
 * `name`, `message` and `stack`); through a loop's ring (`LoopRef.call`)
 * they arrive as instances of their class.
 */
import { registerErrorClass } from '../shared/codec.js';

/** Misuse of loop state: running a running loop, using a closed loop, ... */
export class RuntimeError extends Error {
  override name = 'RuntimeError';
}

/** A Future operation that its state does not allow (result of a pending future, setting a done one). */
export class InvalidStateError extends Error {
  override name = 'InvalidStateError';
}

/** The operation was cancelled; raised at a Task's await point by `Task.cancel()`. */
export class CancelledError extends Error {
  override name = 'CancelledError';
}

/** A deadline passed: `waitFor` and friends. */
export class TimeoutError extends Error {
  override name = 'TimeoutError';
}

/** A signal for a subprocess whose transport is closed (`code` 'ESRCH', as Node's `process.kill` reports a process that is gone). */
export class ProcessLookupError extends Error {
  override name = 'ProcessLookupError';
  readonly code = 'ESRCH';
}

for (const errorClass of [RuntimeError, InvalidStateError, CancelledError, TimeoutError, ProcessLookupError]) {
  registerErrorClass(errorClass, errorClass.name);
}
