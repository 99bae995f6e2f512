/**
 * The module-level loop functions of asyncio: which loop a thread uses.
 * One loop runs at a time per thread; each worker thread has its own.
 */
import { RuntimeError } from './errors.js';
import { EventLoop } from './event_loop.js';
import { _currentLoop, _getRunningLoop, _setCurrentLoop } from './running.js';
import { describe } from './validate.js';

/** The running loop, else this thread's current loop (created on first use). */
export function getEventLoop(): EventLoop {
  return _currentLoop() as EventLoop;
}

/** The loop running on this thread; throws RuntimeError when none runs. */
export function getRunningLoop(): EventLoop {
  const loop = _getRunningLoop();
  if (loop === null) throw new RuntimeError('no running event loop');
  return loop as EventLoop;
}

/**
 * A new loop, not made current (pass it to `setEventLoop` for that); but
 * until another loop is made or set, Futures, `sleep()`, `gather()`, ...
 * made outside a running loop belong to it (running.ts, `_futureLoop`).
 */
export function newEventLoop(): EventLoop {
  return new EventLoop();
}

/** Makes `loop` this thread's current loop; null forgets the current one. */
export function setEventLoop(loop: EventLoop | null): void {
  if (loop !== null && !(loop instanceof EventLoop)) {
    throw new TypeError(`setEventLoop: loop must be an EventLoop or null, got ${describe(loop)}`);
  }
  _setCurrentLoop(loop);
}
