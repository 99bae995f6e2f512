/**
 * Handle and TimerHandle: a scheduled callback and its arguments.
 *
 * The loop runs a handle through `_run()`, which never throws: an exception
 * from the callback goes to the loop's exception handler with the handle in
 * the context (the very object the scheduling call returned).
 */
import type { AnyCallback } from './validate.js';

/** What a Handle needs from its loop; kept narrow so handles never import the loop. */
export interface HandleOwner {
  callExceptionHandler(context: Record<string, unknown>): void;
  /** Called by TimerHandle.cancel() so the loop can purge cancelled timers lazily. */
  _timerCancelled(handle: TimerHandle): void;
}

export class Handle {
  /** @internal */ _callback: AnyCallback | null;
  /** @internal */ _args: unknown[];
  /** @internal */ _cancelled = false;
  /** @internal */ readonly _loop: HandleOwner;
  /** Creation stack, kept in debug mode only. */
  /** @internal */ _sourceTraceback: string | undefined;

  constructor(callback: AnyCallback, args: unknown[], loop: HandleOwner, traceback?: string) {
    this._callback = callback;
    this._args = args;
    this._loop = loop;
    this._sourceTraceback = traceback;
  }

  /** Cancels the call. A cancelled handle is never run; cancelling twice is harmless. */
  cancel(): void {
    if (this._cancelled) return;
    this._cancelled = true;
    // Drop references so a cancelled handle does not keep its closure alive.
    this._callback = null;
    this._args = NO_ARGS;
  }

  cancelled(): boolean {
    return this._cancelled;
  }

  /** @internal Runs the callback; exceptions go to the loop's exception handler. */
  _run(): void {
    try {
      const args = this._args;
      const result: unknown = args.length === 0 ? this._callback!() : this._callback!(...args);
      // An async function fails by rejecting its promise, not by throwing: that goes to
      // the exception handler too (unheard, Node would end the process for it).
      if (result instanceof Promise) result.then(undefined, (exc: unknown) => this._report(exc));
    } catch (exc) {
      this._report(exc);
    }
  }

  /** @internal Reports `exc`, raised by the callback, to the loop's exception handler. */
  _report(exc: unknown): void {
    const context: Record<string, unknown> = {
      message: `Exception in callback ${describeCallback(this._callback)}`,
      exception: exc,
      handle: this,
    };
    if (this._sourceTraceback !== undefined) context.sourceTraceback = this._sourceTraceback;
    this._loop.callExceptionHandler(context);
  }

  toString(): string {
    const state = this._cancelled ? ' cancelled' : '';
    return `<${this.constructor.name}${state} ${describeCallback(this._callback)}>`;
  }
}

/** A Handle scheduled for a point in loop time (`callLater`, `callAt`). */
export class TimerHandle extends Handle {
  /** @internal */ readonly _when: number;
  /** @internal Whether the handle is still in the loop's timer heap. */ _scheduled = true;

  constructor(when: number, callback: AnyCallback, args: unknown[], loop: HandleOwner, traceback?: string) {
    super(callback, args, loop, traceback);
    this._when = when;
  }

  /** The absolute loop time (seconds, `loop.time()` clock) the callback is scheduled for. */
  when(): number {
    return this._when;
  }

  override cancel(): void {
    if (this._cancelled) return;
    super.cancel();
    if (this._scheduled) this._loop._timerCancelled(this);
  }
}

/** Shared by every handle scheduled without arguments, and by cancelled ones; never mutated. */
export const NO_ARGS: unknown[] = [];

function describeCallback(cb: AnyCallback | null): string {
  return cb === null ? '(cancelled)' : `${cb.name || '<anonymous>'}()`;
}
