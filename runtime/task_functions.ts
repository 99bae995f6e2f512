/**
 * The task functions of asyncio: sleep, gather, waitFor, shield, wait.
 *
 * Each returns a Future of the running loop (outside one, of the loop
 * `_futureLoop` names: the one made last), so it can be awaited in a Task
 * or passed to `runUntilComplete`.
 */
import { CancelledError, RuntimeError, TimeoutError } from './errors.js';
import { Future, isFuture } from './futures.js';
import { _futureLoop, type LoopCore } from './running.js';
import { ensureFuture, type Coroutine } from './tasks.js';
import { checkSeconds } from './validate.js';

export type Awaitable<T> = Future<T> | Coroutine<T>;

/** Resolves with `result` after `delay` seconds; cancelling it cancels the timer. */
export function sleep<T = undefined>(delay: number, result?: T): Future<T> {
  checkSeconds(delay, 'sleep', 'delay');
  const loop = _futureLoop();
  if (delay <= 0) {
    // As callLater would, refused on a closed loop.
    if (loop.isClosed()) throw new RuntimeError('Event loop is closed');
    // asyncio's sleep(0) is a bare yield: the caller resumes after exactly
    // one iteration. A done future does that (its awaiter is woken by a
    // callSoon); a timer would take two (fire, then wake the awaiter).
    const done = new Future<T>(loop);
    done.setResult(result as T);
    return done;
  }
  const future = new Future<T>(loop);
  const timer = loop.callLater(delay, resolveIfPending, future, result);
  future.addDoneCallback(() => timer.cancel());
  return future;
}

export interface GatherOptions {
  /** Return exceptions in the results list instead of failing with the first one. */
  returnExceptions?: boolean;
}

/**
 * Runs the awaitables concurrently; resolves with their results in
 * argument order. The first exception fails the gather (the others run
 * on) unless `returnExceptions`. Cancelling the gather cancels every child.
 * Options go last: `gather(a, b, { returnExceptions: true })`.
 */
export function gather(...args: (Awaitable<unknown> | GatherOptions)[]): Future<unknown[]> {
  let options: GatherOptions = {};
  const last = args[args.length - 1];
  if (isGatherOptions(last)) {
    options = last;
    args = args.slice(0, -1);
  }
  const loop = loopOfFirst(args[0]);
  const children = args.map((aw, i) => ensureChild(aw as Awaitable<unknown>, loop, `gather: argument ${i}`));
  const outer = new GatherFuture(loop, children);
  if (children.length === 0) {
    outer.setResult([]);
    return outer;
  }
  let remaining = children.length;
  const onChildDone = (child: Future<unknown>): void => {
    remaining--;
    if (outer.done()) {
      if (!child.cancelled()) child.exception(); // mark retrieved: gather already reported
      return;
    }
    if (!options.returnExceptions) {
      if (child.cancelled()) return outer.setException(child.cancelledError());
      const error = child.exception();
      if (error !== null) return outer.setException(error);
    }
    if (remaining > 0) return;
    const results = children.map((c) => (c.cancelled() ? c.cancelledError() : c.exception() ?? c._result));
    if (outer.cancelRequested) outer.setException(new CancelledError(outer.cancelMessage ?? ''));
    else outer.setResult(results);
  };
  for (const child of children) child.addDoneCallback(onChildDone);
  return outer;
}

class GatherFuture extends Future<unknown[]> {
  cancelRequested = false;
  /** cancel()'s message, carried by the CancelledError even when the children's are returned as results. */
  cancelMessage: string | undefined = undefined;
  constructor(loop: LoopCore, private readonly children: Future<unknown>[]) {
    super(loop);
  }
  /** Cancels the children; the gather fails with CancelledError once they are done. */
  override cancel(msg?: string): boolean {
    if (this.done()) return false;
    let any = false;
    for (const child of this.children) if (child.cancel(msg)) any = true;
    if (any && !this.cancelRequested) {
      this.cancelRequested = true;
      this.cancelMessage = msg;
    }
    return any;
  }
}

/**
 * Waits for `aw` at most `timeout` seconds (null: no limit). On timeout the
 * awaitable is cancelled and waited for: the result fails with TimeoutError
 * once it has ended cancelled (one that catches the cancellation and
 * finishes gives its own outcome, as in asyncio). A timeout of 0 or less
 * cancels at once: a coroutine not started never runs.
 */
export function waitFor<T>(aw: Awaitable<T>, timeout: number | null): Future<T> {
  if (timeout !== null) checkSeconds(timeout, 'waitFor', 'timeout');
  const loop = _futureLoop();
  const inner = ensureChild(aw, loop, 'waitFor: aw');
  if (timeout === null) return inner;
  let timedOut = false;
  let timer: { cancel(): void } | null = null;
  const outer = new WaitForFuture<T>(loop, inner, () => timer?.cancel());
  // The TimeoutError waits for the cancelled awaitable to end, so that its
  // cleanup is over when waitFor fails (asyncio's _cancel_and_wait).
  const expire = (): void => {
    if (outer.done() || outer.cancelRequested) return;
    timedOut = true;
    inner.cancel();
  };
  // asyncio's wait_for with timeout <= 0 cancels before the awaitable's first step.
  if (timeout > 0) timer = loop.callLater(timeout, expire);
  else if (!inner.done()) expire();
  inner.addDoneCallback(() => {
    timer?.cancel();
    if (!outer.done() && inner.cancelled()) {
      if (timedOut && !outer.cancelRequested) outer.setException(new TimeoutError(`waitFor: timed out after ${timeout} seconds`));
      else outer._endCancelled(inner._cancelMessage);
    } else {
      copyOutcome(inner, outer);
    }
  });
  return outer;
}

/**
 * waitFor's future. Cancelling it cancels the awaitable and then mirrors
 * it, as asyncio's wait_for awaits the awaitable's end: the caller's
 * CancelledError comes once the awaitable's own cleanup is over, and an
 * awaitable that catches the cancellation and finishes gives its outcome.
 * So, like a Task's, its cancel() returns true before it is cancelled().
 */
class WaitForFuture<T> extends Future<T> {
  cancelRequested = false;
  constructor(loop: LoopCore, private readonly inner: Future<T>, private readonly stopTimer: () => void) {
    super(loop);
  }

  override cancel(msg?: string): boolean {
    if (this.done()) return false;
    this.cancelRequested = true;
    this.stopTimer();
    this.inner.cancel(msg);
    return true;
  }

  /** @internal Ends cancelled, once the awaitable has. */
  _endCancelled(msg: string | undefined): void {
    super.cancel(msg);
  }
}

/** A future that mirrors `aw` but whose cancellation does not cancel `aw`. */
export function shield<T>(aw: Awaitable<T>): Future<T> {
  const loop = loopOfFirst(aw);
  const inner = ensureChild(aw, loop, 'shield: aw');
  if (inner.done()) return inner;
  const outer = new Future<T>(loop);
  inner.addDoneCallback(() => copyOutcome(inner, outer));
  return outer;
}

export const FIRST_COMPLETED = 'FIRST_COMPLETED';
export const FIRST_EXCEPTION = 'FIRST_EXCEPTION';
export const ALL_COMPLETED = 'ALL_COMPLETED';
export type ReturnWhen = typeof FIRST_COMPLETED | typeof FIRST_EXCEPTION | typeof ALL_COMPLETED;

export interface WaitOptions {
  timeout?: number | null;
  returnWhen?: ReturnWhen;
}

/**
 * Waits for the awaitables until `returnWhen` holds or `timeout` passes;
 * resolves with `[done, pending]` sets of Futures. Cancels nothing.
 */
export function wait<T>(aws: Iterable<Awaitable<T>>, options: WaitOptions = {}): Future<[Set<Future<T>>, Set<Future<T>>]> {
  const { timeout = null, returnWhen = ALL_COMPLETED } = options;
  if (timeout !== null) checkSeconds(timeout, 'wait', 'options.timeout');
  if (returnWhen !== FIRST_COMPLETED && returnWhen !== FIRST_EXCEPTION && returnWhen !== ALL_COMPLETED) {
    throw new RangeError(`wait: options.returnWhen must be FIRST_COMPLETED, FIRST_EXCEPTION or ALL_COMPLETED, got ${String(returnWhen)}`);
  }
  const loop = _futureLoop();
  const futures = new Set<Future<T>>();
  let i = 0;
  for (const aw of aws) futures.add(ensureChild(aw, loop, `wait: aws[${i++}]`));
  if (futures.size === 0) throw new RangeError('wait: aws must not be empty');
  const outer = new Future<[Set<Future<T>>, Set<Future<T>>]>(loop);
  const finish = (): void => {
    if (outer.done()) return;
    timer?.cancel();
    for (const f of futures) f.removeDoneCallback(onDone);
    const done = new Set<Future<T>>();
    const pending = new Set<Future<T>>();
    for (const f of futures) (f.done() ? done : pending).add(f);
    outer.setResult([done, pending]);
  };
  let remaining = futures.size;
  const onDone = (f: Future<T>): void => {
    remaining--;
    const failed = !f.cancelled() && f._hasException;
    if (remaining === 0 || returnWhen === FIRST_COMPLETED || (returnWhen === FIRST_EXCEPTION && failed)) finish();
  };
  const timer = timeout === null ? null : loop.callLater(timeout, finish);
  for (const f of futures) f.addDoneCallback(onDone);
  return outer;
}

/**
 * As in asyncio, gather and shield run on the loop of the Future they are
 * given first, so that `loop.runUntilComplete(gather(a, b))` works with a
 * loop that is not the current one; a coroutine goes to the running (else
 * current) loop.
 */
function loopOfFirst(aw: unknown): LoopCore {
  return isFuture(aw) ? aw._loop : _futureLoop();
}

function ensureChild<T>(aw: Awaitable<T>, loop: LoopCore, what: string): Future<T> {
  try {
    return ensureFuture(aw, loop);
  } catch (error) {
    if (error instanceof TypeError) throw new TypeError(`${what} is not awaitable: ${error.message}`);
    throw error;
  }
}

/**
 * Gives `to` the outcome of `from`. When `to` is already done (cancelled, or
 * timed out) nobody will read `from`'s exception through it: it is marked
 * retrieved rather than reported as never retrieved.
 */
function copyOutcome<T>(from: Future<T>, to: Future<T>): void {
  if (from.cancelled()) {
    if (!to.done()) to.cancel();
    return;
  }
  const error = from.exception();
  if (to.done()) return;
  if (error !== null) to.setException(error);
  else to.setResult(from._result as T);
}

function resolveIfPending<T>(future: Future<T>, result: T): void {
  if (!future.done()) future.setResult(result);
}

function isGatherOptions(x: unknown): x is GatherOptions {
  // A plain-object thenable is an awaitable (a started promise), not options.
  return typeof x === 'object' && x !== null && Object.getPrototypeOf(x) === Object.prototype
    && typeof (x as { then?: unknown }).then !== 'function';
}
