/**
 * Runtime: many event loops in one process. The calling (main) thread
 * becomes the coordinator, with a loop of its own; worker threads each run
 * a loop for their whole life (LoopThread), set up by the user's module.
 * Every loop can call every other by name through LoopRefs.
 */
import os from 'node:os';
import type { LoopRef } from '../shared/loopref.js';
import { DEFAULT_RING_CAPACITY, Ring, checkRingCapacity } from '../shared/ring.js';
import type { EventLoop } from './event_loop.js';
import { newEventLoop, setEventLoop } from './events.js';
import { moduleUrl } from './executor.js';
import { setMaxExecutorThreads } from './executor_pool.js';
import { Coordinator, type RuntimeServerOptions, type WorkerEndpoint } from './coordinator.js';
import { createPolicy } from './dispatch.js';
import { LoopStats, type LoopStatsSnapshot } from './loop_stats.js';
import { LoopThread } from './loop_thread.js';
import type { RuntimeServer } from './runtime_server.js';
import { checkShutdownTimeout, drainThenClose, installShutdownSignals } from './shutdown.js';
import { Supervisor } from './supervisor.js';
import type { ServeKind } from './worker_server.js';
import { SignalRelay } from './worker_signals.js';
import { registryOf } from './registry.js';
import { _getRunningLoop } from './running.js';
import { describe } from './validate.js';
import { RuntimeError } from './errors.js';

export interface RuntimeOptions {
  /** Loop threads to start (default: the machine's available parallelism). */
  workers?: number;
  /** The module each worker loads (a path or URL); its default export is `setup(loop, ctx)`, which may be async. */
  module: string | URL;
  /** Bytes of each loop's ring (a power of two, default 1 MiB). */
  ringSize?: number;
  /** The dispatch policy of servers that name none: 'round-robin' (default), 'least-connections' or 'least-loaded'. */
  policy?: string;
  /** Start a new worker in place of one that dies (default true). */
  replaceWorkers?: boolean;
  /** SIGINT and SIGTERM call `shutdown()` (default true). */
  handleSignals?: boolean;
  /**
   * The process-wide default executor: `maxThreads` bounds its threads,
   * shared by every loop (default: the machine's available parallelism).
   */
  executor?: { maxThreads?: number };
}

/** A started loop thread and its statistics memory. */
interface Launched {
  thread: LoopThread;
  stats: LoopStats;
}

/** The second argument of a worker module's `setup(loop, ctx)`. */
export interface SetupContext {
  /** This worker's index, 0 .. workers - 1. */
  index: number;
  workers: number;
  /**
   * LoopRefs of every worker loop, by index (this one's included). The
   * array stays current: when a worker is replaced, its entry becomes the
   * new loop's LoopRef before the new worker gets connections (a LoopRef
   * kept from before fails with RingClosedError).
   */
  loops: LoopRef[];
  /** A LoopRef to the coordinator's loop. */
  coordinator: LoopRef;
}

/** Running loops that coordinate an open (or starting) Runtime: one Runtime per coordinator loop. */
const coordinatorLoops = new WeakSet<EventLoop>();

export class Runtime {
  /** The coordinator's own loop: the loop running on this thread when `start` was called, or one the runtime runs until `close`. */
  readonly loop: EventLoop;
  /** LoopRefs of the worker loops: `loops[i]` is the worker whose `ctx.index` is i (a replaced worker's new loop, once it serves). */
  get loops(): readonly LoopRef[] {
    return this.#refs;
  }
  /** A LoopRef to `loop`. */
  readonly coordinator: LoopRef;
  readonly #threads: LoopThread[];
  readonly #refs: LoopRef[];
  /** The runtime's servers: listening sockets here, connections in the workers. */
  readonly #servers: Coordinator;
  readonly #signals: SignalRelay;
  readonly #supervisor: Supervisor;
  readonly #policy: string;
  readonly #relaunch: (index: number) => Promise<Launched>;
  readonly #uninstallSignals: () => void;
  #shutdown: Promise<number> | null = null;
  /** The runForever of a loop the runtime made, which `close` stops and closes. */
  readonly #ownRun: Promise<void> | null;
  #closed: Promise<void> | null = null;

  private constructor(
    loop: EventLoop,
    ownRun: Promise<void> | null,
    launched: Launched[],
    relaunch: (index: number) => Promise<Launched>,
    options: { policy: string; replaceWorkers: boolean; handleSignals: boolean },
  ) {
    this.loop = loop;
    this.#ownRun = ownRun;
    this.#threads = launched.map(({ thread }) => thread);
    this.#refs = this.#threads.map((thread) => thread.ref);
    this.coordinator = registryOf(loop).ref;
    coordinatorLoops.add(loop);
    this.#policy = options.policy;
    this.#relaunch = relaunch;
    this.#servers = new Coordinator(loop, launched.map(({ thread, stats }) => ({ index: thread.index, ref: thread.ref, stats })));
    this.#signals = new SignalRelay(() => this.#servers.candidates);
    this.#signals.install(loop);
    this.#supervisor = new Supervisor(loop, this.#servers, this.#signals, (index) => this.#replace(index), options.replaceWorkers);
    for (const thread of this.#threads) this.#watch(thread);
    this.#uninstallSignals = options.handleSignals ? installShutdownSignals(loop, () => this.shutdown()) : () => {};
  }

  /**
   * A server whose listening sockets are in this thread and whose
   * connections are served by the worker loops, each with a new protocol
   * from the factory the worker registered as `name` (called with no
   * arguments). `opts` as `loop.createServer`'s (`ssl` as the options of
   * `tls.createSecureContext`), plus `policy` and `reusePort`.
   */
  createServer(name: string, host: string | string[] | null = null, port: number | string | null = null, opts: RuntimeServerOptions = {}): Promise<RuntimeServer> {
    return this.#serve('protocol', name, host, port, opts);
  }

  /** `createServer` with streams: the function the workers registered as `name` gets `(reader, writer)` per connection. */
  startServer(name: string, host: string | string[] | null = null, port: number | string | null = null, opts: RuntimeServerOptions = {}): Promise<RuntimeServer> {
    return this.#serve('streams', name, host, port, opts);
  }

  /** `createServer` for HTTP: the function the workers registered as `name` is a Node `(req, res)` handler (express, fastify's handler...). */
  serveHttp(name: string, host: string | string[] | null = null, port: number | string | null = null, opts: RuntimeServerOptions = {}): Promise<RuntimeServer> {
    return this.#serve('http', name, host, port, opts);
  }

  /** Each worker loop's statistics, read from shared memory (lags in seconds, ring depth in bytes). */
  stats(): Promise<LoopStatsSnapshot[]> {
    return Promise.resolve(this.#servers.stats());
  }

  /**
   * Graceful stop: stops accepting, lets open connections finish within
   * `timeout` seconds (default 10), closes the rest, then `close()`s.
   * Settles with the number of connections closed at the deadline. Idempotent.
   */
  shutdown(options: { timeout?: number } = {}): Promise<number> {
    // Checked here: `options?.timeout` alone took null or a number for "no options" and began a 10 s shutdown.
    if (options === null || typeof options !== 'object') throw new TypeError(`shutdown: options must be an object, got ${describe(options)}`);
    const timeout = checkShutdownTimeout(options.timeout);
    this.#shutdown ??= drainThenClose(this.#servers, this.#supervisor, timeout, () => this.close());
    return this.#shutdown;
  }

  #serve(kind: ServeKind, name: string, host: string | string[] | null, port: number | string | null, opts: RuntimeServerOptions): Promise<RuntimeServer> {
    if (this.#closed !== null) return Promise.reject(new RuntimeError('the runtime is closed'));
    // Checked before the spread below, which would turn 5 or 'x' into {} (and throw a bare TypeError on null).
    if (opts === null || typeof opts !== 'object') return Promise.reject(new TypeError(`opts must be an object, got ${describe(opts)}`));
    return this.#servers.serve(kind, name, host, port, { ...opts, policy: opts.policy ?? this.#policy });
  }

  /** Hands the unexpected end of `thread` to the supervisor, on the coordinator loop. */
  #watch(thread: LoopThread): void {
    thread.onUnexpectedExit((error, exitCode) => {
      if (this.loop.isClosed()) return;
      this.loop._callIo(() => this.#supervisor.workerDied(thread.index, error, exitCode));
    });
  }

  /** Starts a new loop thread for `index`; the runtime owns it from the start (a closing runtime stops it). */
  async #replace(index: number): Promise<WorkerEndpoint> {
    const { thread, stats } = await this.#relaunch(index);
    // Peers learn of the new loop before it gets connections, so a connection's handler on any worker reaches it.
    if (this.#closed === null) {
      await Promise.all(this.#threads.filter((peer) => peer.index !== index).map((peer) => peer.peerReplaced(index, thread.ref)));
    }
    // Checked after the peers too: a peer stuck in a callback answers only when close() ends its thread.
    if (this.#closed !== null) {
      await thread.stop();
      throw new RuntimeError('the runtime closed while a worker was being replaced');
    }
    this.#threads[index] = thread;
    this.#refs[index] = thread.ref;
    this.#watch(thread);
    return { index, ref: thread.ref, stats };
  }

  /**
   * Starts `workers` loop threads, each loading `module` and awaiting its
   * `setup(loop, ctx)`, and resolves once all are ready. If any module
   * throws, rejects with that error after ending every thread. A loop
   * coordinates one Runtime at a time: RuntimeError on a running loop that
   * already does, or when another loop began to run on this thread while
   * the workers were set up.
   */
  static async start(options: RuntimeOptions): Promise<Runtime> {
    const { workers, module, ringSize, executorThreads, ...behaviour } = checkOptions(options);
    if (executorThreads !== undefined) setMaxExecutorThreads(executorThreads);
    const running = _getRunningLoop() as EventLoop | null;
    // Both runtimes would register their signal relay and SIGINT/SIGTERM handlers on the one loop: the last one wins.
    if (running !== null && coordinatorLoops.has(running)) {
      throw new RuntimeError('Runtime.start: the running loop already coordinates a Runtime; close it first');
    }
    const loop = running ?? newEventLoop();
    const coordinator = registryOf(loop, running === null ? Ring.create(ringSize) : undefined).ref;
    const rings = Array.from({ length: workers }, () => Ring.create(ringSize));
    const spawn = (index: number): Launched => {
      const stats = LoopStats.create();
      const thread = LoopThread.spawn({ index, workers, module, ring: rings[index]!, loops: rings, coordinator, stats: stats.buffer });
      return { thread, stats };
    };
    // A replacement gets a new ring (the dead worker's is closed); #replace then updates the peers' ctx.loops.
    const relaunch = async (index: number): Promise<Launched> => {
      rings[index] = Ring.create(ringSize);
      const launched = spawn(index);
      await launched.thread.ready();
      return launched;
    };
    const launched = rings.map((_, index) => spawn(index));
    // No await since the check above: a concurrent start on this loop sees it taken.
    if (running !== null) coordinatorLoops.add(running);
    let ownRun: Promise<void> | null = null;
    try {
      await Promise.all(launched.map(({ thread }) => thread.ready()));
      // Throws RuntimeError if another loop began to run on this thread meanwhile (a concurrent Runtime.start).
      if (running === null) ownRun = loop.runForever();
    } catch (error) {
      // The first failure ends every thread, those still setting up included (each closes its ring as it ends).
      await Promise.all(launched.map(({ thread }) => thread.stop()));
      if (running === null) loop.close();
      else coordinatorLoops.delete(running);
      throw error;
    }
    // Only once it runs: a failed start leaves the thread's current loop as it was.
    if (running === null) setEventLoop(loop);
    return new Runtime(loop, ownRun, launched, relaunch, behaviour);
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
    this.#servers.closeServers();
    // No replacement from now on. Awaited after the threads end: one under way may wait for a peer
    // stuck in a callback, which only the end of that peer's thread releases.
    const replacing = this.#supervisor.stop();
    this.#signals.close();
    this.#uninstallSignals();
    await Promise.all(this.#threads.map((thread) => thread.stop()));
    await replacing;
    this.#threads.length = 0;
    coordinatorLoops.delete(this.loop);
    if (this.#ownRun !== null) {
      this.loop.stop();
      await this.#ownRun;
      this.loop.close();
      // As asyncio.run does: the thread is left with no current loop rather than a closed one.
      setEventLoop(null);
    }
  }
}

function checkOptions(options: RuntimeOptions): {
  workers: number;
  module: string;
  ringSize: number;
  policy: string;
  replaceWorkers: boolean;
  handleSignals: boolean;
  executorThreads: number | undefined;
} {
  if (options === null || typeof options !== 'object') throw new TypeError(`Runtime.start: options must be an object, got ${describe(options)}`);
  const workers = options.workers ?? os.availableParallelism();
  if (typeof workers !== 'number' || !Number.isInteger(workers)) throw new TypeError(`Runtime.start: workers must be an integer, got ${describe(workers)}`);
  if (workers < 1) throw new RangeError(`Runtime.start: workers must be at least 1, got ${workers}`);
  const ringSize = options.ringSize ?? DEFAULT_RING_CAPACITY;
  if (typeof ringSize !== 'number') throw new TypeError(`Runtime.start: ringSize must be a number of bytes, got ${describe(ringSize)}`);
  checkRingCapacity(ringSize, 'Runtime.start', 'ringSize');
  const policy = options.policy ?? 'round-robin';
  createPolicy(policy);
  const replaceWorkers = checkFlag(options.replaceWorkers, 'replaceWorkers');
  const handleSignals = checkFlag(options.handleSignals, 'handleSignals');
  const executor = options.executor ?? {};
  if (executor === null || typeof executor !== 'object') throw new TypeError(`Runtime.start: executor must be an object, got ${describe(executor)}`);
  const executorThreads = executor.maxThreads;
  if (executorThreads !== undefined && typeof executorThreads !== 'number') {
    throw new TypeError(`Runtime.start: executor.maxThreads must be a positive integer, got ${describe(executorThreads)}`);
  }
  if (executorThreads !== undefined && (!Number.isInteger(executorThreads) || executorThreads < 1)) {
    throw new RangeError(`Runtime.start: executor.maxThreads must be a positive integer, got ${describe(executorThreads)}`);
  }
  return { workers, module: checkModule(options.module), ringSize, policy, replaceWorkers, handleSignals, executorThreads };
}

function checkFlag(value: unknown, name: string): boolean {
  if (value === undefined) return true;
  if (typeof value !== 'boolean') throw new TypeError(`Runtime.start: ${name} must be a boolean, got ${describe(value)}`);
  return value;
}

/** `module` as a URL a worker can import (see moduleUrl); a TypeError unless it is a path or URL. */
function checkModule(module: unknown): string {
  if (!(module instanceof URL) && (typeof module !== 'string' || module === '')) {
    throw new TypeError(`Runtime.start: module must be a path or URL, got ${describe(module)}`);
  }
  return moduleUrl(module);
}
