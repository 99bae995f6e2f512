/**
 * LoopThread: one worker thread running an event loop for its whole life,
 * as the coordinator (main thread) holds it.
 *
 * The hot path into the loop is its ring (a LoopRef); the thread's life is
 * driven over comlink, the control plane for rare calls: `setup` (load the
 * user's module, run its default export) and `stop` (stop and close the
 * loop). The thread is spawned with its own ring and the LoopRefs of its
 * peers; its entry point is workers/loop-worker.ts.
 */
import * as Comlink from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import { Worker } from 'node:worker_threads';
import { reviveError } from '../shared/codec.js';
import { LoopRef, type LoopRefData } from '../shared/loopref.js';
import type { Ring } from '../shared/ring.js';

/** What the loop worker exposes over comlink. */
export interface LoopWorkerControl {
  /** Loads the module and awaits `setup(loop, ctx)`; rejects with what either threw. */
  setup(): Promise<void>;
  /** Stops the loop and closes it (the thread may then be terminated). */
  stop(): Promise<void>;
  /** Worker `index` was replaced: `ctx.loops[index]` becomes a LoopRef to `loop`, the new one. */
  peerReplaced(index: number, loop: LoopRefData): void;
}

/** What the worker thread receives as workerData. */
export interface LoopWorkerData {
  index: number;
  workers: number;
  /** The user's module, as a URL. */
  module: string;
  /** The worker loop's own ring. */
  ring: SharedArrayBuffer;
  /** The worker loop's statistics memory (loop_stats.ts). */
  stats: SharedArrayBuffer;
  /** LoopRefs (as data) of every worker loop, by index. */
  loops: LoopRefData[];
  coordinator: LoopRefData;
}

export interface LoopThreadOptions {
  index: number;
  workers: number;
  module: string;
  ring: Ring;
  stats: SharedArrayBuffer;
  loops: readonly LoopRefData[];
  coordinator: LoopRefData;
}

/** How long a stopping loop gets to answer before its thread is terminated (seconds). */
const STOP_GRACE_SECONDS = 2;

const WORKER_ENTRY = new URL('../workers/loop-worker.js', import.meta.url);

export class LoopThread {
  readonly index: number;
  /** A LoopRef to the thread's loop. */
  readonly ref: LoopRef;
  readonly #ring: Ring;
  readonly #worker: Worker;
  readonly #control: Comlink.Remote<LoopWorkerControl>;
  /** Settles when the thread has ended, with its exit code. */
  readonly exited: Promise<number>;
  /** The uncaught exception that ended the thread, if one did. */
  #error: Error | null = null;
  #stopping = false;

  private constructor(options: LoopThreadOptions) {
    this.index = options.index;
    this.#ring = options.ring;
    this.ref = LoopRef.from(options.ring);
    const workerData: LoopWorkerData = {
      index: options.index,
      workers: options.workers,
      module: options.module,
      ring: options.ring.buffer,
      stats: options.stats,
      loops: options.loops.map((ref) => ({ buffer: ref.buffer })),
      coordinator: { buffer: options.coordinator.buffer },
    };
    this.#worker = new Worker(WORKER_ENTRY, { workerData, name: `multiloop worker ${options.index}` });
    this.#worker.on('error', (error) => (this.#error = error));
    this.exited = new Promise((resolve) => {
      this.#worker.once('exit', (code) => {
        // Whatever ended the thread, calls through its LoopRefs now fail instead of waiting forever.
        this.#ring.close();
        resolve(code);
      });
    });
    this.#control = Comlink.wrap<LoopWorkerControl>(nodeEndpoint(this.#worker));
  }

  /** Spawns the thread; `ready()` then runs the module's setup in it. */
  static spawn(options: LoopThreadOptions): LoopThread {
    return new LoopThread(options);
  }

  /**
   * Loads the module and runs its setup in the thread. Rejects with the
   * module's error (or with the thread's, if it dies first), after the
   * thread has ended: a failed start leaves no thread behind.
   */
  async ready(): Promise<void> {
    try {
      await Promise.race([this.#control.setup(), this.exited.then((code) => Promise.reject(this.#deathError(code)))]);
    } catch (error) {
      await this.stop();
      throw withItsClass(error);
    }
  }

  /** Tells the thread's loop that worker `index` now runs `ref`'s loop; settles once it knows, or once the thread has ended. */
  async peerReplaced(index: number, ref: LoopRef): Promise<void> {
    await Promise.race([this.#control.peerReplaced(index, { buffer: ref.buffer }), this.exited]);
  }

  /** The thread ended without being stopped: `onDeath(error, exitCode)` is called once it has. */
  onUnexpectedExit(onDeath: (error: Error | null, exitCode: number) => void): void {
    void this.exited.then((code) => {
      if (!this.#stopping) onDeath(this.#error, code);
    });
  }

  /**
   * Stops the loop and ends the thread; settles once it has ended. A loop
   * that does not answer within the grace period is terminated.
   */
  async stop(): Promise<void> {
    if (!this.#stopping) {
      this.#stopping = true;
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, STOP_GRACE_SECONDS * 1000)));
      await Promise.race([this.#control.stop().catch(() => {}), grace, this.exited]);
      clearTimeout(timer);
      await this.#worker.terminate();
    }
    await this.exited;
  }

  #deathError(code: number): Error {
    return this.#error ?? new Error(`loop worker ${this.index} exited with code ${code} before its module was set up`);
  }
}

/**
 * The setup's error with its class again: comlink sends an error as its
 * name, message and stack and rebuilds a plain Error bearing the name.
 * Classes this thread knows by name (built-in, or multiloop's) come back.
 */
function withItsClass(error: unknown): unknown {
  if (!(error instanceof Error) || error.constructor !== Error || error.name === 'Error') return error;
  const revived = reviveError(error.name, error.message, error.stack);
  return revived.constructor === Error ? error : revived;
}
