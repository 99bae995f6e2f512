/**
 * ExecutorQueue: the FIFO in front of an executor, which hands it at most
 * `capacity` calls at a time.
 *
 * Why a queue of our own rather than Piscina's queue plus an abort signal
 * per task: Piscina runs a task that carries a signal alone on its thread
 * (no other task may share the thread), which cut trivial tasks from 31k/s
 * to 11k/s on this machine with 16 tasks per thread; and aborting a task
 * that has started terminates its thread. Here a call waits in this queue
 * until the executor has room; a call abandoned meanwhile (its Future
 * cancelled, its loop closed) is skipped and never reaches a thread, and
 * the outcome of one abandoned after it started is dropped.
 */
import { reviveError } from '../shared/codec.js';
import type { BaseEventLoop } from './base_events.js';
import type { Executor } from './executor.js';
import { isCarriedError, type CarriedError, type ExecutorTask, type Transferable } from './executor_task.js';
import { Future } from './futures.js';
import { ReadyQueue } from './ready_queue.js';

/** A call waiting for, or running in, an executor. */
export interface PendingCall {
  readonly task: ExecutorTask;
  /** Buffers to move rather than copy to the executor thread; null when none. */
  readonly transferList: Transferable[] | null;
  /** True once nobody awaits the outcome: not started if still queued, outcome dropped if running. */
  abandoned(): boolean;
  resolve(value: unknown): void;
  reject(error: unknown): void;
  /** Ends an abandoned call in place of resolve/reject: every call ends exactly once, one way or the other. */
  drop(): void;
  /** Runs `fn` once if the call is abandoned from now on (its Future cancelled). */
  whenAbandoned(fn: () => void): void;
  /** The word of the executor's cancel flags the call holds while handed over, else -1 (ExecutorQueue's). */
  slot: number;
}

/** The Future of an executor call: cancelling it also tells the executor thread, if the call is already there. */
export class ExecutorFuture<T> extends Future<T> {
  /** @internal */ _onCancel: (() => void) | null = null;

  override cancel(msg?: string): boolean {
    if (!super.cancel(msg)) return false;
    const onCancel = this._onCancel;
    this._onCancel = null;
    onCancel?.();
    return true;
  }
}

/** How many of a loop's calls have not ended yet (for its statistics). */
export interface CallCount {
  pending: number;
}

/** A call whose outcome settles a Future of `loop`, as a loop callback (as asyncio's executor does through call_soon_threadsafe). */
export class LoopCall implements PendingCall {
  slot = -1;

  constructor(
    readonly loop: BaseEventLoop,
    readonly future: ExecutorFuture<unknown>,
    readonly task: ExecutorTask,
    readonly transferList: Transferable[] | null,
    private readonly count: CallCount,
  ) {
    count.pending++;
  }

  abandoned(): boolean {
    // Only the executor settles the future, so done before that means cancelled.
    return this.future.done() || this.loop.isClosed();
  }

  resolve(value: unknown): void {
    this.count.pending--;
    this.loop._callIo(settleResult, this.future, value);
  }

  reject(error: unknown): void {
    this.count.pending--;
    this.loop._callIo(settleException, this.future, error);
  }

  drop(): void {
    this.count.pending--;
  }

  whenAbandoned(fn: () => void): void {
    this.future._onCancel = fn;
  }
}

function settleResult(future: Future<unknown>, value: unknown): void {
  if (!future.done()) future.setResult(value);
}

function settleException(future: Future<unknown>, error: unknown): void {
  if (!future.done()) future.setException(isCarriedError(error) ? revived(error) : error);
}

/** The Error an executor thread sent as data: its class when this thread knows it by name, its properties back. */
function revived(carried: CarriedError): Error {
  return Object.assign(reviveError(carried.name, carried.message, carried.stack), carried.props);
}

/** Where the task runner is, for `Executor.run`: Piscina takes a path or a file URL. */
export interface RunnerLocation {
  readonly filename: string;
  readonly name: string;
}

/** The most calls sent as one executor task. */
export const MAX_BATCH = 64;

/**
 * Calls beyond the executor's room wait here and, once a backlog builds, go
 * to the executor in batches: one batch is one executor task (one message
 * each way) for up to MAX_BATCH calls, which is where a thread boundary's
 * cost goes. A batch takes the backlog's share of one slot
 * (backlog / capacity, rounded up), so a short backlog of heavy calls still
 * spreads over every thread, and with no backlog a call goes alone.
 */
export class ExecutorQueue {
  private readonly waiting = new ReadyQueue<PendingCall>(64);
  private running = 0;
  /** Reused for every executor task without transfers, so the common case allocates no options object. */
  private readonly plainOptions: RunnerLocation;

  /** Free words of `cancelFlags`. */
  private readonly freeSlots: number[] = [];

  /**
   * `capacity`: how many executor tasks `executor` may hold at once
   * (Infinity: all). `cancelFlags`: words shared with the executor threads
   * (the default pool's), through which a call handed over but not yet
   * started is cancelled: Piscina holds up to `capacity` tasks ahead.
   */
  constructor(
    private readonly executor: Executor,
    private readonly capacity: number,
    private readonly runner: RunnerLocation,
    private readonly cancelFlags: Int32Array | null = null,
  ) {
    this.plainOptions = { filename: runner.filename, name: runner.name };
    if (cancelFlags !== null) for (let slot = cancelFlags.length - 1; slot >= 0; slot--) this.freeSlots.push(slot);
  }

  /** Runs `call` in the executor as soon as it has room, after every call submitted before it. */
  submit(call: PendingCall): void {
    if (this.running < this.capacity && this.waiting.length === 0) {
      this.startOne(call);
    } else {
      this.waiting.push(call);
    }
  }

  private startOne(call: PendingCall): void {
    this.run(this.handOver(call), call.transferList).then(
      (value) => this.finishOne(call, true, value),
      (error: unknown) => this.finishOne(call, false, error),
    );
  }

  private startBatch(calls: PendingCall[]): void {
    let transferList: Transferable[] | null = null;
    const tasks = calls.map((call) => {
      if (call.transferList !== null) (transferList ??= []).push(...call.transferList);
      return this.handOver(call);
    });
    this.run(tasks, transferList).then(
      (outcomes) => this.finishBatch(calls, outcomes as PromiseSettledResult<unknown>[]),
      (error: unknown) => {
        if (isCloneError(error)) this.splitBatch(calls);
        else this.finishBatch(calls, null, error);
      },
    );
  }

  /**
   * A batch that could not be sent (one call's arguments cannot be cloned)
   * never started: its calls go again one by one, so that only the bad one
   * fails. They go at once, briefly over capacity, as they were already
   * taken from the queue.
   */
  private splitBatch(calls: PendingCall[]): void {
    this.running--;
    for (const call of calls) {
      this.freeSlot(call);
      if (call.abandoned()) call.drop();
      else this.startOne(call);
    }
  }

  private run(task: ExecutorTask | ExecutorTask[], transferList: Transferable[] | null): Promise<unknown> {
    this.running++;
    const options = transferList === null
      ? this.plainOptions
      : { filename: this.runner.filename, name: this.runner.name, transferList };
    try {
      return this.executor.run(task, options);
    } catch (error) {
      // A user executor that throws instead of rejecting still settles its calls.
      return Promise.reject(error);
    }
  }

  /**
   * The task to send for `call`: with a cancel flag when the executor has
   * them and one is free (else it runs even if cancelled meanwhile, its
   * result dropped).
   */
  private handOver(call: PendingCall): ExecutorTask {
    const flags = this.cancelFlags;
    if (flags === null) return call.task;
    const slot = this.freeSlots.pop();
    if (slot === undefined) return call.task;
    Atomics.store(flags, slot, 0);
    call.slot = slot;
    call.task.cancelSlot = slot;
    // Only while the call holds the word: once it ended, the word may be another call's.
    call.whenAbandoned(() => {
      if (call.slot === slot) Atomics.store(flags, slot, 1);
    });
    return call.task;
  }

  private freeSlot(call: PendingCall): void {
    if (call.slot < 0) return;
    this.freeSlots.push(call.slot);
    call.slot = -1;
    // A call handed over again (a split batch) without a free word must not read this one's.
    call.task.cancelSlot = undefined;
  }

  private finishOne(call: PendingCall, ok: boolean, outcome: unknown): void {
    this.running--;
    this.freeSlot(call);
    settle(call, ok, outcome);
    this.fill();
  }

  /** `outcomes` null: the batch failed as a whole with `error`. */
  private finishBatch(calls: PendingCall[], outcomes: PromiseSettledResult<unknown>[] | null, error?: unknown): void {
    this.running--;
    for (let i = 0; i < calls.length; i++) {
      this.freeSlot(calls[i]!);
      const outcome = outcomes?.[i];
      if (outcome === undefined) settle(calls[i]!, false, error);
      else if (outcome.status === 'fulfilled') settle(calls[i]!, true, outcome.value);
      else settle(calls[i]!, false, outcome.reason);
    }
    this.fill();
  }

  private fill(): void {
    while (this.running < this.capacity && this.waiting.length > 0) {
      const size = Math.min(MAX_BATCH, Math.ceil(this.waiting.length / this.capacity));
      const batch: PendingCall[] = [];
      while (batch.length < size && this.waiting.length > 0) {
        const call = this.waiting.shift();
        if (call.abandoned()) call.drop();
        else batch.push(call);
      }
      if (batch.length === 1) this.startOne(batch[0]!);
      else if (batch.length > 1) this.startBatch(batch);
    }
  }
}

/** Ends `call` with its outcome, or drops it if nobody awaits it any more. */
export function settle(call: PendingCall, ok: boolean, outcome: unknown): void {
  if (call.abandoned()) call.drop();
  else if (ok) call.resolve(outcome);
  else call.reject(outcome);
}

function isCloneError(error: unknown): boolean {
  return error instanceof Error && error.name === 'DataCloneError';
}
