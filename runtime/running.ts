/**
 * Which loop is running, and which is current, on this thread.
 *
 * Module state is per thread in Node (each worker evaluates its own copy),
 * which is exactly asyncio's per-thread policy. Kept apart from the loop
 * classes so that futures and tasks can find a default loop without
 * importing the loop (that would be an import cycle).
 */
import { RuntimeError } from './errors.js';
import type { AnyCallback } from './validate.js';

/** The part of a loop that futures and tasks use; the loop classes implement it. */
export interface LoopCore {
  callSoon(callback: AnyCallback, ...args: unknown[]): unknown;
  callLater(delay: number, callback: AnyCallback, ...args: unknown[]): { cancel(): void };
  callExceptionHandler(context: Record<string, unknown>): void;
  createTask<T>(coro: unknown): PromiseLike<T>;
  getDebug(): boolean;
  isClosed(): boolean;
  time(): number;
  /** True while the loop runs the callbacks of an iteration (never true inside a microtask). */
  _inIteration(): boolean;
}

let runningLoop: LoopCore | null = null;
let currentLoop: LoopCore | null = null;
/** The loop most recently made, or made current, on this thread (see `_futureLoop`). */
let latestLoop: LoopCore | null = null;
let makeLoop: (() => LoopCore) | null = null;

/** @internal Set by the loop while it runs; null when it stops. */
export function _setRunningLoop(loop: LoopCore | null): void {
  runningLoop = loop;
}

/** @internal Registered by event_loop.ts: how getEventLoop() makes a loop. */
export function _setLoopFactory(factory: () => LoopCore): void {
  makeLoop = factory;
}

/** The loop running on this thread, or null. */
export function _getRunningLoop(): LoopCore | null {
  return runningLoop;
}

/** The running loop, else this thread's current loop, created on first use. */
export function _currentLoop(): LoopCore {
  if (runningLoop !== null) return runningLoop;
  if (currentLoop === null) {
    if (makeLoop === null) throw new RuntimeError('no event loop class registered');
    currentLoop = makeLoop();
  }
  return currentLoop;
}

/**
 * The loop that a Future made with no loop named belongs to (so also
 * `sleep`, `gather`, `waitFor`, ... and a Task's): the running loop, else
 * the loop most recently made or made current on this thread while it is
 * open, else the current loop. asyncio's coroutines find their loop when
 * they first run, inside `loop.run_until_complete(asyncio.sleep(1))`; a
 * Future needs one when made, and the loop about to run it is, in such
 * code, the one just made, current or not (CPython's own tests clear the
 * current loop with `set_event_loop(None)` and go on that way).
 */
export function _futureLoop(): LoopCore {
  if (runningLoop !== null) return runningLoop;
  if (latestLoop !== null && !latestLoop.isClosed()) return latestLoop;
  return _currentLoop();
}

/** @internal Called by every new loop: see `_futureLoop`. */
export function _noteLoopMade(loop: LoopCore): void {
  latestLoop = loop;
}

/** Makes `loop` this thread's current loop (null clears it, leaving `_futureLoop`'s latest loop as it is). */
export function _setCurrentLoop(loop: LoopCore | null): void {
  currentLoop = loop;
  if (loop !== null) latestLoop = loop;
}
