/**
 * BaseEventLoop: the loop core — running, callbacks, timers, tasks, errors
 * and debug — on one thread. I/O, the executor and signals live in their
 * own modules and are reached through `EventLoop` (event_loop.ts).
 *
 * How an asyncio loop runs on Node. Node cannot block a thread, so one
 * asyncio iteration (`_run_once`: drain the inbox hooks, move due timers to
 * the ready queue, run the callbacks that were ready when the iteration
 * began) runs from a Node task. Iterations chain through microtasks — which
 * lets the coroutines woken in one iteration run before the next, as in
 * asyncio — for at most `SLICE_SECONDS`; then the loop yields to Node's
 * event loop with `setImmediate` so that I/O is never starved. An idle loop
 * (nothing ready, no hook pending) costs nothing: it sleeps on one Node
 * timer for its earliest deadline and is woken by `callSoon` and friends.
 */
import { performance } from 'node:perf_hooks';
import { inspect } from 'node:util';
import { RuntimeError } from './errors.js';
import { Future } from './futures.js';
import { Handle, NO_ARGS, TimerHandle } from './handles.js';
import { logger } from './log.js';
import { ReadyQueue } from './ready_queue.js';
import { _getRunningLoop, _noteLoopMade, _setRunningLoop } from './running.js';
import { Task, _outsideTasks, currentTask, ensureFuture, type Coroutine } from './tasks.js';
import { TimerQueue } from './timers.js';
import { checkCallback, checkSeconds, type AnyCallback } from './validate.js';

/** How long the loop runs iterations back to back before yielding to Node's I/O. */
const SLICE_SECONDS = 0.002;
/** Node's setTimeout clamps longer delays to 1 ms, so longer waits are taken in steps. */
const MAX_NODE_DELAY_MS = 2 ** 31 - 1;

export type ExceptionContext = Record<string, unknown> & { message: string; exception?: unknown };
export type ExceptionHandler = (loop: BaseEventLoop, context: ExceptionContext) => void;

export class BaseEventLoop {
  /** Callbacks that run longer than this (seconds) are reported in debug mode. */
  slowCallbackDuration = 0.1;

  private readonly ready = new ReadyQueue<Handle>();
  private callbacksRun = 0;
  private readonly timers = new TimerQueue();
  private iterationHooks: (() => boolean)[] = [];
  /** A hook reported pending work in the last iteration: the loop must not sleep. */
  private hooksPending = false;
  private running = false;
  private stopping = false;
  /**
   * stop() came from a coroutine resumed by the last iteration: the run ends
   * without another iteration (see stop()).
   */
  private stopAtTail = false;
  /**
   * The last iteration of a run is over, but coroutines it resumed still run
   * in microtasks (a native `await` resumes there, hops deep for nested
   * calls): until they drain, the loop stays theirs — running and current,
   * running no iteration and delivering no I/O — as if they ran inside that
   * iteration, as asyncio's task steps do.
   */
  private draining = false;
  private closed = false;
  private debug = debugFromEnvironment();
  private exceptionHandler: ExceptionHandler | null = null;
  /** A pump (microtask or setImmediate) is queued. */
  private pumpQueued = false;
  /** True while `runOnce` runs, when scheduling needs no wake-up. */
  private inIteration = false;
  private sliceDeadline = 0;
  private nodeTimer: NodeJS.Timeout | null = null;
  private nodeTimerDeadline = Infinity;
  /** Keeps the process (or worker thread) alive while runForever runs, as a blocked asyncio thread would. */
  private keepAlive: NodeJS.Timeout | null = null;
  private finishRun: (() => void) | null = null;

  constructor() {
    _noteLoopMade(this);
  }

  // ---------------------------------------------------------------- running

  /** Runs until `stop()` is called; settles when the loop has stopped. Throws RuntimeError if closed or already running. */
  runForever(): Promise<void> {
    this.checkRunnable();
    this.running = true;
    _setRunningLoop(this);
    this.keepAlive = setInterval(noop, MAX_NODE_DELAY_MS);
    return new Promise<void>((resolve) => {
      this.finishRun = resolve;
      this.sliceDeadline = performance.now() / 1000 + SLICE_SECONDS;
      this.queuePump(true);
    });
  }

  /**
   * Runs until `future` (or the Task made of a coroutine) is done, and
   * settles with its result or rejects with its exception. Rejects with
   * RuntimeError if the loop stops first.
   */
  runUntilComplete<T>(future: Future<T> | Coroutine<T>): Promise<T> {
    // Checked before the coroutine becomes a Task, so a refused run schedules nothing.
    this.checkRunnable();
    const fut = ensureFuture(future, this, 'runUntilComplete: future');
    const stopWhenDone = (): void => this.stop();
    fut.addDoneCallback(stopWhenDone);
    return this.runForever().then(() => {
      fut.removeDoneCallback(stopWhenDone);
      if (!fut.done()) throw new RuntimeError('Event loop stopped before Future completed.');
      return fut.result();
    });
  }

  private checkRunnable(): void {
    this._checkClosed();
    if (this.running) throw new RuntimeError('This event loop is already running');
    if (_getRunningLoop() !== null) throw new RuntimeError('Cannot run the event loop while another loop is running');
  }

  /**
   * Stops the loop after the current batch of callbacks: callbacks already
   * scheduled when the loop stops run at the next `runForever`.
   */
  stop(): void {
    // A Task's coroutine resumed by an iteration runs in the microtasks after
    // it, but belongs to that iteration (see `draining`): as a task step's
    // stop() does in asyncio, its stop() ends the run there. One more
    // iteration would run the callbacks it scheduled, even after stop().
    // A stop() from Node's own events (a message, a timer) keeps running
    // the one iteration its wake-up brings, as a call_soon_threadsafe(stop).
    if (this.running && !this.inIteration && !this.draining && currentTask()?._loop === this) this.stopAtTail = true;
    this.stopping = true;
    this._wakeup();
  }

  isRunning(): boolean {
    return this.running;
  }

  isClosed(): boolean {
    return this.closed;
  }

  /**
   * Closes the loop: drops pending callbacks and timers. Idempotent and
   * irreversible; throws RuntimeError while the loop runs.
   */
  close(): void {
    if (this.running) throw new RuntimeError('Cannot close a running event loop');
    if (this.closed) return;
    this.closed = true;
    this.ready.clear();
    this.timers.clear();
    this.iterationHooks = [];
    this.clearNodeTimer();
  }

  // ------------------------------------------------------------- scheduling

  /** Schedules `callback(...args)` for the next iteration (FIFO). */
  callSoon(callback: AnyCallback, ...args: unknown[]): Handle;
  callSoon(callback: AnyCallback): Handle {
    checkCallback(callback, 'callSoon');
    this._checkClosed();
    // `arguments` rather than a rest parameter: no array is allocated for
    // the common call without arguments (measured about 2x cheaper).
    const args = arguments.length > 1 ? argumentsFrom(arguments, 1) : NO_ARGS;
    const handle = new Handle(callback, args, this, this.debug ? captureStack(1) : undefined);
    this.ready.push(handle);
    if (!this.inIteration) this._wakeup();
    return handle;
  }

  /** `callSoon`, callable from any callback on this thread; cross-thread calls go through a LoopRef. */
  callSoonThreadsafe(callback: AnyCallback, ...args: unknown[]): Handle {
    return this.callSoon(callback, ...args);
  }

  /** Schedules `callback(...args)` `delay` seconds from now (a negative delay means now). */
  callLater(delay: number, callback: AnyCallback, ...args: unknown[]): TimerHandle;
  callLater(delay: number, callback: AnyCallback): TimerHandle {
    checkSeconds(delay, 'callLater', 'delay');
    checkCallback(callback, 'callLater');
    return this.schedule(this.time() + delay, callback, arguments.length > 2 ? argumentsFrom(arguments, 2) : NO_ARGS);
  }

  /** Schedules `callback(...args)` at loop time `when` (the `time()` clock). */
  callAt(when: number, callback: AnyCallback, ...args: unknown[]): TimerHandle;
  callAt(when: number, callback: AnyCallback): TimerHandle {
    checkSeconds(when, 'callAt', 'when');
    checkCallback(callback, 'callAt');
    return this.schedule(when, callback, arguments.length > 2 ? argumentsFrom(arguments, 2) : NO_ARGS);
  }

  /** The loop's monotonic clock, in seconds. */
  time(): number {
    return performance.now() / 1000;
  }

  createFuture<T = unknown>(): Future<T> {
    this._checkClosed();
    return new Future<T>(this);
  }

  /** Wraps a coroutine (generator, async function, started promise) in a Task scheduled on this loop. */
  createTask<T = unknown>(coro: Coroutine<T>): Task<T> {
    this._checkClosed();
    return new Task<T>(coro, this);
  }

  // ----------------------------------------------------------------- errors

  setExceptionHandler(handler: ExceptionHandler | null): void {
    if (handler !== null) checkCallback(handler, 'setExceptionHandler', 'handler');
    this.exceptionHandler = handler;
  }

  getExceptionHandler(): ExceptionHandler | null {
    return this.exceptionHandler;
  }

  /** Logs `context` through `logger.error`: the message, then every other key. */
  defaultExceptionHandler(context: ExceptionContext): void {
    const message = context.message || 'Unhandled exception in event loop';
    const details: string[] = [];
    for (const [key, value] of Object.entries(context)) {
      if (key === 'message' || key === 'exception') continue;
      details.push(`${key}: ${formatContextValue(value)}`);
    }
    const exception = context.exception;
    const parts: unknown[] = [message];
    if (details.length > 0) parts.push('\n' + details.join('\n'));
    if (exception !== undefined) parts.push('\n', exception);
    logger.error(...parts);
  }

  /** Passes `context` to the exception handler; never throws (a failing handler is reported by the default one). */
  callExceptionHandler(context: ExceptionContext): void {
    const handler = this.exceptionHandler;
    if (handler === null) {
      try {
        this.defaultExceptionHandler(context);
      } catch (exc) {
        logger.error('Exception in default exception handler', exc);
      }
      return;
    }
    try {
      handler(this, context);
    } catch (exc) {
      try {
        this.defaultExceptionHandler({ message: 'Unhandled error in exception handler', exception: exc, context });
      } catch (inner) {
        logger.error('Exception in default exception handler while handling an unexpected error in the custom exception handler', inner);
      }
    }
  }

  // ------------------------------------------------------------------ debug

  getDebug(): boolean {
    return this.debug;
  }

  setDebug(enabled: boolean): void {
    this.debug = Boolean(enabled);
  }

  // ------------------------------------------------- hooks for I/O modules

  /** @internal Throws RuntimeError if the loop is closed. */
  _checkClosed(): void {
    if (this.closed) throw new RuntimeError('Event loop is closed');
  }

  /**
   * @internal Delivers a callback triggered by a Node I/O event: now if the
   * loop runs (exceptions to the handler; in debug mode a slow one is
   * reported, as a slow callback is), else queued in order for the next run
   * (asyncio runs nothing while its loop is stopped).
   */
  _callIo(fn: AnyCallback, ...args: unknown[]): void {
    this.deliverIo(fn, args, this.debug);
  }

  /**
   * @internal `_callIo` for a callback that runs Handles through
   * `_runHandle` or `_runCallback` (the poll layer, the inbox): those time
   * themselves in debug mode, so the whole is not timed again.
   */
  _callIoUntimed(fn: AnyCallback, ...args: unknown[]): void {
    this.deliverIo(fn, args, false);
  }

  private deliverIo(fn: AnyCallback, args: unknown[], timed: boolean): void {
    if (this.closed) {
      if (this.debug) logger.warn(`I/O callback ${fn.name || '<anonymous>'}() dropped: the loop is closed`);
      return;
    }
    if (!this.running || this.draining || this.stopAtTail || this.ready.length > 0) {
      // Queued callbacks from a stopped period must not be overtaken; after a
      // coroutine's stop() the run is over, as when draining.
      this.callSoon(fn, ...args);
      return;
    }
    const start = timed ? this.time() : 0;
    try {
      _outsideTasks(fn, null, args);
    } catch (exception) {
      this.callExceptionHandler({ message: `Exception in I/O callback ${fn.name || '<anonymous>'}()`, exception });
    }
    if (timed) this.reportIfSlow(`I/O callback ${fn.name || '<anonymous>'}()`, this.time() - start, undefined);
  }

  /** @internal `hook` runs at the start of every iteration; it returns true while it has work pending. */
  _addIterationHook(hook: () => boolean): () => void {
    this._checkClosed();
    this.iterationHooks = [...this.iterationHooks, hook];
    // Added inside an iteration, where _wakeup() does nothing: the pump must
    // still run the next iteration rather than sleep before the hook ran once.
    this.hooksPending = true;
    this._wakeup();
    return () => {
      this.iterationHooks = this.iterationHooks.filter((h) => h !== hook);
    };
  }

  /** @internal Makes an idle running loop run an iteration soon. */
  _wakeup(): void {
    if (!this.running || this.draining || this.pumpQueued || this.inIteration) return;
    _outsideTasks(this.queuePump, this, LATER_SLICE);
  }

  /**
   * @internal Runs `handle` as one of this loop's callbacks from outside the
   * ready queue (a call from another thread): counted, and timed in debug mode.
   */
  _runHandle(handle: Handle): void {
    this.callbacksRun++;
    if (!this.debug) return handle._run();
    // Described before it runs: a callback that closes its transport cancels its own handle.
    const what = String(handle);
    const start = this.time();
    handle._run();
    this.reportIfSlow(what, this.time() - start, handle._sourceTraceback);
  }

  /**
   * @internal Runs `fn(...args)` for a `LoopRef.call` request and returns
   * (or throws) what it does: counted as a callback and, in debug mode,
   * timed like one.
   */
  _runRequest(fn: AnyCallback, args: unknown[]): unknown {
    this.callbacksRun++;
    if (!this.debug) return fn(...args);
    const start = this.time();
    try {
      return fn(...args);
    } finally {
      this.reportIfSlow(`request ${fn.name || '<anonymous>'}()`, this.time() - start, undefined);
    }
  }

  /** Debug mode's report of a callback that held the loop `elapsed` seconds, if that is too long. */
  private reportIfSlow(what: string, elapsed: number, sourceTraceback: string | undefined): void {
    if (elapsed >= this.slowCallbackDuration) logger.warn(`Executing ${what} took ${elapsed.toFixed(3)} seconds`, sourceTraceback ?? '');
  }

  /**
   * @internal Runs `fn` with the first `argc` (0 to 3) of `a0, a1, a2` now,
   * as `_runHandle` runs a Handle of that call, making the Handle only when
   * one is needed (debug timing, or an exception to report): calls from
   * other threads allocate neither a Handle nor an argument array.
   */
  _runCallback(fn: AnyCallback, argc: number, a0: unknown, a1: unknown, a2: unknown): void {
    if (this.debug) return this._runHandle(this.handleOf(fn, argc, a0, a1, a2));
    this.callbacksRun++;
    let result: unknown;
    try {
      if (argc === 0) result = fn();
      else if (argc === 1) result = fn(a0);
      else if (argc === 2) result = fn(a0, a1);
      else result = fn(a0, a1, a2);
    } catch (exc) {
      this.handleOf(fn, argc, a0, a1, a2)._report(exc);
      return;
    }
    // As Handle._run: an async function's rejection is its exception.
    if (result instanceof Promise) result.then(undefined, (exc: unknown) => this.handleOf(fn, argc, a0, a1, a2)._report(exc));
  }

  /** The Handle `_runCallback` makes only when it needs one. */
  private handleOf(fn: AnyCallback, argc: number, a0: unknown, a1: unknown, a2: unknown): Handle {
    return new Handle(fn, [a0, a1, a2].slice(0, argc), this);
  }

  /** @internal How many callbacks this loop has run (runtime statistics). */
  _callbacksRun(): number {
    return this.callbacksRun;
  }

  /** @internal See LoopCore._inIteration. */
  _inIteration(): boolean {
    return this.inIteration;
  }

  /** @internal Called by TimerHandle.cancel(). */
  _timerCancelled(_handle: TimerHandle): void {
    this.timers.noteCancelled();
  }

  // -------------------------------------------------------------- internals

  private schedule(when: number, callback: AnyCallback, args: unknown[]): TimerHandle {
    this._checkClosed();
    const timer = new TimerHandle(when, callback, args, this, this.debug ? captureStack(2) : undefined);
    this.timers.push(timer);
    if (!this.inIteration && when < this.nodeTimerDeadline) this._wakeup();
    return timer;
  }

  /**
   * Queues the next pump. Within the current slice, a microtask keeps
   * iterations back to back; past it, setImmediate lets Node's I/O in.
   */
  private queuePump(sameSlice: boolean): void {
    this.pumpQueued = true;
    // A resolved promise's then() is several times cheaper than queueMicrotask,
    // which allocates an AsyncResource per call.
    if (sameSlice || performance.now() / 1000 < this.sliceDeadline) RESOLVED.then(this.pump);
    else setImmediate(this.pumpNewSlice);
  }

  private readonly pumpNewSlice = (): void => {
    this.sliceDeadline = performance.now() / 1000 + SLICE_SECONDS;
    this.pump();
  };

  private readonly pump = (): void => {
    this.pumpQueued = false;
    if (!this.running || this.draining) return;
    if (!this.stopAtTail) this.runOnce();
    if (this.stopping) {
      this.draining = true;
      this.clearNodeTimer();
      // A macrotask: the whole microtask queue drains before it.
      setImmediate(() => this.endRun());
    } else if (this.ready.length > 0 || this.hooksPending) {
      this.queuePump(false);
    } else {
      this.armNodeTimer(this.timers.nextDeadline());
    }
  };

  private readonly pushReady = (timer: TimerHandle): void => this.ready.push(timer);

  /** One asyncio iteration: inbox hooks, due timers, then the callbacks ready when it began. */
  private runOnce(): void {
    this.inIteration = true;
    try {
      let pending = false;
      for (const hook of this.iterationHooks) {
        try {
          if (hook()) pending = true;
        } catch (exception) {
          this.callExceptionHandler({ message: 'Exception in loop iteration hook', exception });
        }
      }
      this.hooksPending = pending;
      if (this.timers.size > 0) this.timers.popDue(this.time(), this.pushReady);
      const count = this.ready.length;
      if (this.debug) this.runReadyTimed(count);
      else this.runReady(count);
    } finally {
      this.inIteration = false;
    }
  }

  private runReady(count: number): void {
    const ready = this.ready;
    let run = 0;
    for (let i = 0; i < count; i++) {
      const handle = ready.shift();
      if (handle._cancelled) continue;
      handle._run();
      run++;
    }
    this.callbacksRun += run;
  }

  private runReadyTimed(count: number): void {
    const ready = this.ready;
    for (let i = 0; i < count; i++) {
      const handle = ready.shift();
      if (!handle._cancelled) this._runHandle(handle);
    }
  }

  private armNodeTimer(deadline: number): void {
    if (deadline === this.nodeTimerDeadline) return;
    this.clearNodeTimer();
    if (deadline === Infinity) return;
    const delayMs = Math.min(MAX_NODE_DELAY_MS, Math.max(0, Math.ceil((deadline - this.time()) * 1000)));
    this.nodeTimerDeadline = deadline;
    this.nodeTimer = setTimeout(this.onNodeTimer, delayMs);
  }

  private readonly onNodeTimer = (): void => {
    this.nodeTimer = null;
    this.nodeTimerDeadline = Infinity;
    if (!this.running || this.pumpQueued) return;
    this.pumpNewSlice();
  };

  private clearNodeTimer(): void {
    if (this.nodeTimer !== null) clearTimeout(this.nodeTimer);
    this.nodeTimer = null;
    this.nodeTimerDeadline = Infinity;
  }

  private endRun(): void {
    this.running = false;
    this.draining = false;
    this.stopping = false;
    this.stopAtTail = false;
    this.hooksPending = false;
    _setRunningLoop(null);
    if (this.keepAlive !== null) clearInterval(this.keepAlive);
    this.keepAlive = null;
    const finish = this.finishRun;
    this.finishRun = null;
    finish?.();
  }
}

function debugFromEnvironment(): boolean {
  return Boolean(process.env.PYTHONASYNCIODEBUG || process.env.MULTILOOP_DEBUG);
}

/**
 * A context value as one log entry: by its own toString (Handle, Future,
 * transports) when it has one, else inspected, so that a nested context (a
 * failing custom handler's) keeps its message and exception instead of
 * '[object Object]'.
 */
function formatContextValue(value: unknown): string {
  if (typeof value === 'string') return value;
  const ownText = typeof value === 'object' && value !== null && !Array.isArray(value)
    && typeof value.toString === 'function' && value.toString !== Object.prototype.toString;
  return ownText ? String(value) : inspect(value, { depth: 1 });
}

/** The caller's stack, without the `frames` frames of the loop's own methods. */
function captureStack(frames: number): string {
  return (new Error().stack ?? '').split('\n').slice(2 + frames).join('\n');
}

function noop(): void {}

/** queuePump's arguments for a wake-up. */
const LATER_SLICE = [false] as const;


function argumentsFrom(args: IArguments, start: number): unknown[] {
  const out = new Array<unknown>(args.length - start);
  for (let i = start; i < args.length; i++) out[i - start] = args[i];
  return out;
}

const RESOLVED = Promise.resolve();
