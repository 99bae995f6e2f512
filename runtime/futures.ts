/**
 * Future: a result that will be set later, asyncio's `asyncio.Future`.
 *
 * Guarantees: done callbacks run as loop callbacks (through `callSoon`), in
 * registration order, each exactly once, with the future as argument. A
 * Future is awaitable (`then`), so `await fut` inside a Task is how a Task
 * waits. A future that failed and whose exception nobody retrieved (by
 * `result()`, `exception()` or awaiting it) is reported to its loop's
 * exception handler when it is garbage collected.
 */
import { CancelledError, InvalidStateError } from './errors.js';
import { _futureLoop, type LoopCore } from './running.js';
import { checkCallback } from './validate.js';

const PENDING = 0;
const FINISHED = 1;
const CANCELLED = 2;

export type DoneCallback<T> = (future: Future<T>) => unknown;

/** What the GC report needs, held apart from the future so it can be collected. */
interface UnretrievedException {
  loop: LoopCore;
  exception: unknown;
  futureName: string;
}

const neverRetrieved = new FinalizationRegistry<UnretrievedException>((token) => {
  token.loop.callExceptionHandler({
    message: `${token.futureName} exception was never retrieved`,
    exception: token.exception,
  });
});

/**
 * @internal The Task that awaits a future, told when the future's outcome
 * goes back to its coroutine; it returns the CancelledError to raise there
 * instead when it was cancelled after the future completed (as asyncio does).
 */
export interface Awaiter {
  _awaitDone(future: Future<unknown>): CancelledError | null;
}

/**
 * @internal Called with every future that a coroutine awaits (from `then`);
 * tasks.ts installs it to learn which future a Task is waiting on, and
 * returns that Task (null when no Task awaits).
 */
let awaitHook: ((future: Future<unknown>) => Awaiter | null) | null = null;
export function _setAwaitHook(hook: (future: Future<unknown>) => Awaiter | null): void {
  awaitHook = hook;
}

export class Future<T = unknown> implements PromiseLike<T> {
  /** @internal */ _state = PENDING;
  /** @internal */ _result: T | undefined = undefined;
  /** @internal */ _exception: unknown = undefined;
  /** @internal */ _hasException = false;
  /** @internal */ _cancelMessage: string | undefined = undefined;
  /** @internal */ readonly _loop: LoopCore;
  private callbacks: DoneCallback<T>[] | null = null;
  private unretrieved: UnretrievedException | null = null;

  /** `loop` defaults to the running loop, else this thread's current loop. */
  constructor(loop?: LoopCore) {
    this._loop = loop ?? _futureLoop();
  }

  getLoop(): LoopCore {
    return this._loop;
  }

  done(): boolean {
    return this._state !== PENDING;
  }

  cancelled(): boolean {
    return this._state === CANCELLED;
  }

  /**
   * The result; throws the future's exception if it has one, CancelledError
   * if cancelled, InvalidStateError if not done yet.
   */
  result(): T {
    if (this._state === CANCELLED) throw this.cancelledError();
    if (this._state === PENDING) throw new InvalidStateError('Result is not ready.');
    if (this._hasException) {
      this.markRetrieved();
      throw this._exception;
    }
    return this._result as T;
  }

  /** The exception, or null when the future has a result; throws as `result()` does when cancelled or pending. */
  exception(): unknown {
    if (this._state === CANCELLED) throw this.cancelledError();
    if (this._state === PENDING) throw new InvalidStateError('Exception is not set.');
    if (!this._hasException) return null;
    this.markRetrieved();
    return this._exception;
  }

  /** Cancels a pending future and schedules its callbacks; returns false if it was already done. */
  cancel(msg?: string): boolean {
    if (this._state !== PENDING) return false;
    this._state = CANCELLED;
    this._cancelMessage = msg;
    this.scheduleCallbacks();
    return true;
  }

  setResult(result: T): void {
    if (this._state !== PENDING) throw new InvalidStateError(`${this.constructor.name} is already done: cannot set its result`);
    this._result = result;
    this._state = FINISHED;
    this.scheduleCallbacks();
  }

  setException(exception: unknown): void {
    if (this._state !== PENDING) throw new InvalidStateError(`${this.constructor.name} is already done: cannot set its exception`);
    if (typeof exception === 'function') exception = new (exception as new () => unknown)();
    this._exception = exception;
    this._hasException = true;
    this._state = FINISHED;
    this.unretrieved = { loop: this._loop, exception, futureName: this.constructor.name };
    neverRetrieved.register(this, this.unretrieved, this.unretrieved);
    this.scheduleCallbacks();
  }

  /** Calls `fn(future)` as a loop callback once the future is done (soon, if it already is). */
  addDoneCallback(fn: DoneCallback<T>): void {
    checkCallback(fn, 'addDoneCallback', 'fn');
    if (this._state !== PENDING) {
      this._loop.callSoon(fn, this);
    } else if (this.callbacks === null) {
      this.callbacks = [fn];
    } else {
      this.callbacks.push(fn);
    }
  }

  /** Removes every registration of `fn`; returns how many were removed. */
  removeDoneCallback(fn: DoneCallback<T>): number {
    const callbacks = this.callbacks;
    if (callbacks === null) return 0;
    const kept = callbacks.filter((cb) => cb !== fn);
    this.callbacks = kept;
    return callbacks.length - kept.length;
  }

  /**
   * Makes the future awaitable. The handlers run from a loop callback, so
   * a coroutine resumes while its loop runs, as in asyncio.
   */
  then<R1 = T, R2 = never>(
    onFulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onRejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    const awaiter = awaitHook === null ? null : awaitHook(this as Future<unknown>);
    return new Promise<R1 | R2>((resolve, reject) => {
      const settle = (): void => {
        const cancelled = awaiter === null ? null : awaiter._awaitDone(this as Future<unknown>);
        try {
          if (cancelled === null && this._state === FINISHED && !this._hasException) {
            resolve(onFulfilled ? onFulfilled(this._result as T) : (this._result as R1));
            return;
          }
          // An exception replaced by the awaiter's CancelledError stays unretrieved, so it is still reported.
          const error = cancelled ?? (this._state === CANCELLED ? this.cancelledError() : this._exception);
          if (cancelled === null) this.markRetrieved();
          if (onRejected) resolve(onRejected(error));
          else reject(error);
        } catch (exc) {
          reject(exc);
        }
      };
      // A closed loop runs no callback, but a done future still has its outcome: `await`
      // ignores the promise then() returns, so a refusal here would hang it (and reject unheard).
      if (this._state !== PENDING && this._loop.isClosed()) settle();
      else this.addDoneCallback(settle);
    });
  }

  catch<R = never>(onRejected?: ((reason: unknown) => R | PromiseLike<R>) | null): Promise<T | R> {
    return this.then(undefined, onRejected);
  }

  finally(onFinally?: (() => void) | null): Promise<T> {
    return Promise.resolve(this).finally(onFinally);
  }

  toString(): string {
    const state = ['pending', 'finished', 'cancelled'][this._state];
    return `<${this.constructor.name} ${state}>`;
  }

  /** @internal The error that awaiting a cancelled future raises. */
  cancelledError(): CancelledError {
    return new CancelledError(this._cancelMessage ?? '');
  }

  /** @internal For subclasses that finish through their own paths (Task). */
  protected markRetrieved(): void {
    if (this.unretrieved !== null) {
      neverRetrieved.unregister(this.unretrieved);
      this.unretrieved = null;
    }
  }

  private scheduleCallbacks(): void {
    const callbacks = this.callbacks;
    if (callbacks === null) return;
    this.callbacks = null;
    for (const fn of callbacks) this._loop.callSoon(fn, this);
  }
}

/** True for multiloop Futures (and Tasks). */
export function isFuture(value: unknown): value is Future<unknown> {
  return value instanceof Future;
}
