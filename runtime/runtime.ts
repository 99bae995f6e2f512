/**
 * Runtime: many event loops in one process. The calling (main) thread
 * becomes the coordinator, with a loop of its own; worker threads each run
 * a loop for their whole life (LoopThread), set up by the user's module.
 * Every loop can call every other by name through LoopRefs.
 */
import os from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { LoopRef } from '../shared/loopref.js';
import { DEFAULT_RING_CAPACITY, Ring, checkRingCapacity } from '../shared/ring.js';
import type { EventLoop } from './event_loop.js';
import { newEventLoop, setEventLoop } from './events.js';
import { LoopThread } from './loop_thread.js';
import { registryOf } from './registry.js';
import { _getRunningLoop } from './running.js';
import { describe } from './validate.js';

export interface RuntimeOptions {
  /** Loop threads to start (default: the machine's available parallelism). */
  workers?: number;
  /** The module each worker loads (a path or URL); its default export is `setup(loop, ctx)`, which may be async. */
  module: string | URL;
  /** Bytes of each loop's ring (a power of two, default 1 MiB). */
  ringSize?: number;
}

/** The second argument of a worker module's `setup(loop, ctx)`. */
export interface SetupContext {
  /** This worker's index, 0 .. workers - 1. */
  index: number;
  workers: number;
  /** LoopRefs of every worker loop, by index (this one's included). */
  loops: LoopRef[];
  /** A LoopRef to the coordinator's loop. */
  coordinator: LoopRef;
}

export class Runtime {
  /** The coordinator's own loop: the loop running on this thread when `start` was called, or one the runtime runs until `close`. */
  readonly loop: EventLoop;
  /** LoopRefs of the worker loops: `loops[i]` is the worker whose `ctx.index` is i. */
  readonly loops: readonly LoopRef[];
  /** A LoopRef to `loop`. */
  readonly coordinator: LoopRef;
  readonly #threads: LoopThread[];
  /** The runForever of a loop the runtime made, which `close` stops and closes. */
  readonly #ownRun: Promise<void> | null;
  #closed: Promise<void> | null = null;

  private constructor(loop: EventLoop, ownRun: Promise<void> | null, threads: LoopThread[]) {
    this.loop = loop;
    this.#ownRun = ownRun;
    this.#threads = threads;
    this.loops = Object.freeze(threads.map((thread) => thread.ref));
    this.coordinator = registryOf(loop).ref;
    for (const thread of threads) {
      thread.onUnexpectedExit((error, exitCode) => {
        if (loop.isClosed()) return;
        loop._callIo(() =>
          loop.callExceptionHandler({
            message: `loop worker ${thread.index} ended unexpectedly (exit code ${exitCode}); calls to it now fail`,
            ...(error === null ? {} : { exception: error }),
          }),
        );
      });
    }
  }

  /**
   * Starts `workers` loop threads, each loading `module` and awaiting its
   * `setup(loop, ctx)`, and resolves once all are ready. If any module
   * throws, rejects with that error after ending every thread.
   */
  static async start(options: RuntimeOptions): Promise<Runtime> {
    const { workers, module, ringSize } = checkOptions(options);
    const running = _getRunningLoop() as EventLoop | null;
    const loop = running ?? newEventLoop();
    const coordinator = registryOf(loop, running === null ? Ring.create(ringSize) : undefined).ref;
    const rings = Array.from({ length: workers }, () => Ring.create(ringSize));
    const starts = rings.map((ring, index) => LoopThread.start({ index, workers, module, ring, loops: rings, coordinator }));
    const outcomes = await Promise.allSettled(starts);
    const threads = outcomes.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value] : []));
    const failure = outcomes.find((outcome) => outcome.status === 'rejected');
    if (failure !== undefined) {
      await Promise.all(threads.map((thread) => thread.stop()));
      for (const ring of rings) ring.close();
      if (running === null) loop.close();
      throw failure.reason;
    }
    let ownRun: Promise<void> | null = null;
    if (running === null) {
      setEventLoop(loop);
      ownRun = loop.runForever();
    }
    return new Runtime(loop, ownRun, threads);
  }

  /**
   * Stops every worker loop and ends its thread, then stops and closes the
   * coordinator loop if the runtime started it. Idempotent.
   */
  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  async #close(): Promise<void> {
    await Promise.all(this.#threads.map((thread) => thread.stop()));
    this.#threads.length = 0;
    if (this.#ownRun !== null) {
      this.loop.stop();
      await this.#ownRun;
      this.loop.close();
      // As asyncio.run does: the thread is left with no current loop rather than a closed one.
      setEventLoop(null);
    }
  }
}

function checkOptions(options: RuntimeOptions): { workers: number; module: string; ringSize: number } {
  if (options === null || typeof options !== 'object') throw new TypeError(`Runtime.start: options must be an object, got ${describe(options)}`);
  const workers = options.workers ?? os.availableParallelism();
  if (typeof workers !== 'number' || !Number.isInteger(workers)) throw new TypeError(`Runtime.start: workers must be an integer, got ${describe(workers)}`);
  if (workers < 1) throw new RangeError(`Runtime.start: workers must be at least 1, got ${workers}`);
  const ringSize = options.ringSize ?? DEFAULT_RING_CAPACITY;
  if (typeof ringSize !== 'number') throw new TypeError(`Runtime.start: ringSize must be a number of bytes, got ${describe(ringSize)}`);
  checkRingCapacity(ringSize, 'Runtime.start', 'ringSize');
  return { workers, module: moduleUrl(options.module), ringSize };
}

/** `module` as a URL a worker can import: URLs as given, paths resolved against the current directory. */
function moduleUrl(module: unknown): string {
  if (module instanceof URL) return module.href;
  if (typeof module !== 'string' || module === '') throw new TypeError(`Runtime.start: module must be a path or URL, got ${describe(module)}`);
  if (/^[a-z][a-z0-9+.-]+:/i.test(module) && !isAbsolute(module)) return module;
  return pathToFileURL(resolve(module)).href;
}
