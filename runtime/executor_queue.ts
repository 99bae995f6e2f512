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
import type { BaseEventLoop } from './base_events.js';
import type { Executor } from './executor.js';
import type { ExecutorTask, Transferable } from './executor_task.js';
import type { Future } from './futures.js';
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
}

/** A call whose outcome settles a Future of `loop`, as a loop callback (as asyncio's executor does through call_soon_threadsafe). */
export class LoopCall implements PendingCall {
  constructor(
    readonly loop: BaseEventLoop,
    readonly future: Future<unknown>,
    readonly task: ExecutorTask,
    readonly transferList: Transferable[] | null,
  ) {}

  abandoned(): boolean {
    // Only the executor settles the future, so done before that means cancelled.
    return this.future.done() || this.loop.isClosed();
  }

  resolve(value: unknown): void {
    this.loop._callIo(settleResult, this.future, value);
  }

  reject(error: unknown): void {
    this.loop._callIo(settleException, this.future, error);
  }
}

function settleResult(future: Future<unknown>, value: unknown): void {
  if (!future.done()) future.setResult(value);
}

function settleException(future: Future<unknown>, error: unknown): void {
  if (!future.done()) future.setException(error);
}

/** Where the task runner is, for `Executor.run`: Piscina takes a path or a file URL. */
export interface RunnerLocation {
  readonly filename: string;
  readonly name: string;
}

export class ExecutorQueue {
  private readonly waiting = new ReadyQueue<PendingCall>(64);
  private running = 0;
  /** Reused for every call without transfers, so the common case allocates no options object. */
  private readonly plainOptions: RunnerLocation;

  /** `capacity`: how many calls `executor` may hold at once (Infinity: all). */
  constructor(
    private readonly executor: Executor,
    private readonly capacity: number,
    private readonly runner: RunnerLocation,
  ) {
    this.plainOptions = { filename: runner.filename, name: runner.name };
  }

  /** Calls in the executor plus calls waiting for room. */
  get size(): number {
    return this.running + this.waiting.length;
  }

  /** Runs `call` in the executor as soon as it has room, after every call submitted before it. */
  submit(call: PendingCall): void {
    if (this.running < this.capacity && this.waiting.length === 0) {
      this.start(call);
    } else {
      this.waiting.push(call);
    }
  }

  private start(call: PendingCall): void {
    this.running++;
    const options = call.transferList === null
      ? this.plainOptions
      : { filename: this.runner.filename, name: this.runner.name, transferList: call.transferList };
    let outcome: Promise<unknown>;
    try {
      outcome = this.executor.run(call.task, options);
    } catch (error) {
      // A user executor that throws instead of rejecting still settles the call.
      outcome = Promise.reject(error);
    }
    outcome.then(
      (value) => this.finish(call, value, true),
      (error: unknown) => this.finish(call, error, false),
    );
  }

  private finish(call: PendingCall, outcome: unknown, ok: boolean): void {
    this.running--;
    if (!call.abandoned()) {
      if (ok) call.resolve(outcome);
      else call.reject(outcome);
    }
    while (this.running < this.capacity && this.waiting.length > 0) {
      const next = this.waiting.shift();
      if (!next.abandoned()) this.start(next);
    }
  }
}
