/**
 * Supervisor: what happens when a worker loop's thread dies (an uncaught
 * error, `process.exit` in the worker, out of memory).
 *
 * The death is reported to the coordinator loop's exception handler; the
 * worker gets no new connection, the fds on their way to it are closed
 * (handoff.ts), and its signal requests are dropped. The connections it was
 * serving were handles of its own libuv loop, which Node closes when the
 * thread ends, so their peers see them closed. Then, unless the runtime was
 * started with `replaceWorkers: false` or is shutting down, a new worker
 * takes its index: it loads the module, is told every open server, and
 * only then gets connections. Other workers serve on throughout.
 */
import type { Coordinator, WorkerEndpoint } from './coordinator.js';
import type { EventLoop } from './event_loop.js';
import type { SignalRelay } from './worker_signals.js';

/**
 * Starts a new worker loop for `index`, resolving once its module's setup
 * ran. The runtime owns the new thread from the start (its close ends it),
 * even if the supervisor stops before putting it to work.
 */
export type WorkerSpawner = (index: number) => Promise<WorkerEndpoint>;

export class Supervisor {
  readonly #loop: EventLoop;
  readonly #coordinator: Coordinator;
  readonly #signals: SignalRelay;
  readonly #spawn: WorkerSpawner;
  readonly #replace: boolean;
  #stopped = false;
  readonly #replacing = new Set<Promise<void>>();

  constructor(loop: EventLoop, coordinator: Coordinator, signals: SignalRelay, spawn: WorkerSpawner, replace: boolean) {
    this.#loop = loop;
    this.#coordinator = coordinator;
    this.#signals = signals;
    this.#spawn = spawn;
    this.#replace = replace;
  }

  /**
   * Worker `index` ended unexpectedly, with `error` (an uncaught exception)
   * or `exitCode`. Reports it, stops routing to it, and replaces it.
   */
  workerDied(index: number, error: Error | null, exitCode: number): void {
    const orphans = this.#coordinator.workerGone(index);
    this.#signals.forget(index);
    const cause = error === null ? '' : ', of an uncaught exception';
    const untaken = orphans > 0 ? `, and ${orphans} handed to it and not yet taken` : '';
    const next = this.#replace && !this.#stopped ? 'a new worker takes its place' : 'it is not replaced';
    const context = {
      message: `loop worker ${index} ended unexpectedly (exit code ${exitCode})${cause}; its connections were closed${untaken}; ${next}`,
      ...(error === null ? {} : { exception: error }),
    };
    if (!this.#loop.isClosed()) this.#loop.callExceptionHandler(context);
    if (this.#replace && !this.#stopped) this.#startReplacement(index);
  }

  /** No more replacements (the runtime is shutting down); settles once those under way ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all(this.#replacing);
  }

  #startReplacement(index: number): void {
    const replacement = this.#spawn(index)
      .then((endpoint) => (this.#stopped ? undefined : this.#coordinator.workerReplaced(endpoint)))
      .catch((exception: unknown) => {
        if (!this.#loop.isClosed()) this.#loop.callExceptionHandler({ message: `worker loop ${index} could not be replaced`, exception });
      })
      .finally(() => this.#replacing.delete(replacement));
    this.#replacing.add(replacement);
  }
}
