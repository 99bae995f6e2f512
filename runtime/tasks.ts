/**
 * Task: a Future that drives a coroutine on its loop.
 *
 * A coroutine is one of the three forms of API.md:
 * - a generator object yielding Futures (asyncio's `yield from`): the task
 *   steps it from loop callbacks and knows exactly which future it waits on;
 * - an async function not yet called: the task calls it inside its own
 *   async context, so that the futures it awaits, however deep the call
 *   chain, are attributed to this task (`AsyncLocalStorage`);
 * - an already-started Promise (or thenable): the task mirrors its outcome.
 *
 * `cancel()` raises CancelledError at the coroutine's current await point;
 * a coroutine that catches it and returns normally finishes with its
 * result, not cancelled. A started Promise cannot be interrupted: its task
 * ends as cancelled at once and the promise runs on, detached.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { CancelledError, RuntimeError } from './errors.js';
import { Future, _setAwaitHook, isFuture } from './futures.js';
import { _futureLoop, type LoopCore } from './running.js';
import { describe, type AnyCallback } from './validate.js';

/** The three coroutine forms a Task accepts. */
export type Coroutine<T> =
  | Generator<unknown, T, any>
  | (() => Promise<T> | T)
  | PromiseLike<T>;

const taskContext = new AsyncLocalStorage<Task<unknown>>();
let steppingTask: Task<unknown> | null = null;
/**
 * Async-function tasks not yet done. While there are none the async context
 * is disabled: enabled, Node tracks every promise of the thread, which made
 * promise-heavy code (and the loop's own pump) about 4x slower when measured.
 */
let liveAsyncTasks = 0;

// Every future an async-function task awaits passes through here (Future.then).
// `await` calls then() from a microtask, never from inside a loop callback: a
// then() called during an iteration is a plain call, whose async context may
// be a task's only because the loop's pump was queued from that task.
_setAwaitHook((future) => {
  const task = taskContext.getStore();
  if (task === undefined || task.done() || future._loop._inIteration()) return null;
  // Thrown from then(), these reject the await. A task awaiting itself would wait for its own end forever (asyncio raises this too);
  if (future === task) throw new RuntimeError(`Task cannot await on itself: ${task}`);
  // and the other loop cannot run while this one does, so its future would never settle.
  if (future._loop !== task._loop) throw new RuntimeError(`Task ${task} got a Future attached to a different loop`);
  task._awaiting(future);
  return task;
});

export class Task<T = unknown> extends Future<T> {
  private generator: Generator<unknown, T, any> | null = null;
  private waiter: Future<unknown> | null = null;
  private mustCancel = false;
  private pendingCancelMessage: string | undefined = undefined;
  private readonly detached: boolean;

  constructor(coro: Coroutine<T>, loop?: LoopCore) {
    super(loop ?? _futureLoop());
    if (isGenerator(coro)) {
      this.generator = coro;
      this.detached = false;
      this._loop.callSoon(this.stepGenerator, undefined, undefined);
    } else if (coro instanceof GeneratorFunction) {
      // Called, it would only return the generator as the task's result.
      throw new TypeError(`Task: coro must be the generator object, not the generator function ${describe(coro)}: call it`);
    } else if (typeof coro === 'function') {
      this.detached = false;
      this._loop.callSoon(this.startAsync, coro);
    } else if (isThenable(coro)) {
      this.detached = true;
      coro.then(
        (value) => this.finish(value),
        (error) => this.fail(error),
      );
    } else {
      throw new TypeError(`Task: coro must be a generator, an async function or a promise, got ${describe(coro)}`);
    }
  }

  /**
   * Requests cancellation: the awaited future is cancelled, which raises
   * CancelledError in the coroutine at its await point. Returns false if
   * the task is already done.
   */
  override cancel(msg?: string): boolean {
    if (this.done()) return false;
    if (this.detached) return super.cancel(msg);
    if (this.waiter !== null) {
      if (this.waiter.cancel(msg)) return true;
      // Cancelled by an earlier cancel() and not yet handed to the coroutine:
      // that CancelledError is on its way, and asyncio delivers only one.
      if (this.waiter.cancelled()) return true;
    }
    this.mustCancel = true;
    this.pendingCancelMessage = msg;
    return true;
  }

  /**
   * A Task's outcome is its coroutine's: as asyncio's Task does, it refuses
   * to be settled from outside (a result set so would be overwritten by, or
   * silently hide, what the still-running coroutine returns or throws).
   */
  override setResult(_result: T): void {
    throw new RuntimeError('Task does not support setResult');
  }

  override setException(_exception: unknown): void {
    throw new RuntimeError('Task does not support setException');
  }

  /**
   * @internal The outcome of `future` is being handed to the coroutine: it no
   * longer waits on it. A cancel() that came after the future completed is
   * raised at this await point instead of the outcome.
   */
  _awaitDone(future: Future<unknown>): CancelledError | null {
    if (this.waiter !== future) return null;
    this.waiter = null;
    if (!this.mustCancel) return null;
    this.mustCancel = false;
    return this.pendingCancellation();
  }

  /** @internal The future the coroutine now waits on (from the await hook, or yielded by a generator). */
  _awaiting(future: Future<unknown>): void {
    this.waiter = future;
    if (this.mustCancel && future.cancel(this.pendingCancelMessage)) this.mustCancel = false;
  }

  /** The CancelledError a cancel() that reached no awaited future raises at the next await point. */
  private pendingCancellation(): CancelledError {
    return new CancelledError(this.pendingCancelMessage ?? '');
  }

  private readonly startAsync = (fn: () => Promise<T> | T): void => {
    // As in asyncio, a task cancelled before its first step never runs its coroutine.
    if (this.mustCancel) return this.fail(this.pendingCancellation());
    let outcome: Promise<T> | T;
    liveAsyncTasks++;
    try {
      outcome = taskContext.run(this as Task<unknown>, fn);
    } catch (error) {
      this.asyncEnded();
      this.fail(error);
      return;
    }
    Promise.resolve(outcome).then(
      (value) => {
        this.asyncEnded();
        this.finish(value);
      },
      (error) => {
        this.asyncEnded();
        this.fail(error);
      },
    );
  };

  private asyncEnded(): void {
    if (--liveAsyncTasks === 0) taskContext.disable();
  }

  private readonly stepGenerator = (value: unknown, error: unknown): void => {
    if (this.done()) return;
    if (this.mustCancel) {
      error = this.pendingCancellation();
      this.mustCancel = false;
    }
    this.waiter = null;
    const previous = steppingTask;
    steppingTask = this as Task<unknown>;
    let step: IteratorResult<unknown, T>;
    try {
      step = error !== undefined ? this.generator!.throw(error) : this.generator!.next(value);
    } catch (exc) {
      this.fail(exc);
      return;
    } finally {
      steppingTask = previous;
    }
    if (step.done) {
      this.finish(step.value);
      return;
    }
    this.waitOn(step.value);
  };

  private waitOn(yielded: unknown): void {
    if (yielded === undefined || yielded === null) {
      // A bare `yield` gives the other callbacks one iteration, like asyncio's sleep(0).
      this._loop.callSoon(this.stepGenerator, undefined, undefined);
      return;
    }
    let future: Future<unknown>;
    if (isFuture(yielded)) {
      future = yielded;
    } else if (isThenable(yielded)) {
      future = new Task(yielded, this._loop);
    } else {
      const error = new RuntimeError(`Task got bad yield: ${describe(yielded)} (yield a Future or a Promise)`);
      this._loop.callSoon(this.stepGenerator, undefined, error);
      return;
    }
    if (future === this) {
      // It would wait for its own end forever; asyncio raises this at the yield.
      const error = new RuntimeError(`Task cannot await on itself: ${this}`);
      this._loop.callSoon(this.stepGenerator, undefined, error);
      return;
    }
    if (future._loop !== this._loop) {
      const error = new RuntimeError(`Task ${this} got a Future attached to a different loop`);
      this._loop.callSoon(this.stepGenerator, undefined, error);
      return;
    }
    future.addDoneCallback(this.wakeUp);
    this._awaiting(future);
  }

  private readonly wakeUp = (future: Future<unknown>): void => {
    if (future.cancelled()) {
      this.stepGenerator(undefined, future.cancelledError());
      return;
    }
    const error = future.exception();
    if (error !== null) this.stepGenerator(undefined, error);
    else this.stepGenerator(future._result, undefined);
  };

  // A loop closed under a running coroutine can no longer run callbacks: the
  // outcome has nobody left to observe it.
  private finish(value: T): void {
    if (this.done() || this._loop.isClosed()) return;
    if (this.mustCancel) super.cancel(this.pendingCancelMessage);
    else super.setResult(value);
  }

  private fail(error: unknown): void {
    if (this.done() || this._loop.isClosed()) return;
    if (error instanceof CancelledError) super.cancel(error.message || this.pendingCancelMessage);
    else super.setException(error);
  }
}

/**
 * @internal Calls `fn` with `args` outside any Task's async context. The loop
 * wakes up and delivers I/O through this, so that the context of whatever
 * woke it (a Task's coroutine, a socket made inside one) does not leak into
 * its pumps and the callbacks they run, where a Task would take the futures
 * they await for its own.
 */
export function _outsideTasks(fn: AnyCallback, thisArg: unknown, args: readonly unknown[]): void {
  if (taskContext.getStore() === undefined) {
    Reflect.apply(fn, thisArg, args);
  } else {
    // run() with no store only swaps the store on the current resource: an
    // AsyncResource scope here measured 25-45% slower on the futures benchmark.
    taskContext.run(undefined as unknown as Task<unknown>, () => Reflect.apply(fn, thisArg, args));
  }
}

/** The task whose coroutine is running now on this thread, or null. */
export function currentTask(): Task<unknown> | null {
  return steppingTask ?? taskContext.getStore() ?? null;
}

/**
 * Wraps `x` in a Future of `loop`: a Future is returned as is, a coroutine
 * (generator, async function, started Promise) becomes a Task.
 */
export function ensureFuture<T>(x: Future<T> | Coroutine<T>, loop?: LoopCore, argument = 'ensureFuture: x'): Future<T> {
  if (isFuture(x)) {
    if (loop !== undefined && x._loop !== loop) throw new RangeError(`${argument} is attached to a different loop`);
    return x as Future<T>;
  }
  if (isGenerator(x) || typeof x === 'function' || isThenable(x)) {
    return (loop ?? _futureLoop()).createTask<T>(x) as unknown as Future<T>;
  }
  throw new TypeError(`${argument} must be a Future, a generator, an async function or a promise, got ${describe(x)}`);
}

const GeneratorFunction = Object.getPrototypeOf(function* () {}).constructor as FunctionConstructor;

function isGenerator(x: unknown): x is Generator<unknown, any, any> {
  return typeof x === 'object' && x !== null && typeof (x as Generator).next === 'function' && typeof (x as Generator).throw === 'function';
}

function isThenable(x: unknown): x is PromiseLike<any> {
  return (typeof x === 'object' || typeof x === 'function') && x !== null && typeof (x as PromiseLike<unknown>).then === 'function';
}
