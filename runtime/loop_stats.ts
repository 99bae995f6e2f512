/**
 * LoopStats: one worker loop's statistics in shared memory.
 *
 * The loop's own thread is the only writer of its counters; the coordinator
 * reads them at any time without a message (the dispatch policies read them
 * for every accepted connection, `runtime.stats()` once per call). Counters
 * that the dispatch path reads (open connections, connections taken) are
 * Int32 words under Atomics; the others are Float64 slots, written whole by
 * one thread and read as a snapshot, where a read that misses the latest
 * write by one sample is harmless.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

// Int32 words.
const OPEN = 0;
/** Hand-offs this loop has taken ownership of (modulo 2^32): see handoff.ts. */
const TAKEN = 1;
const INT_WORDS = 2;

// Float64 slots, after the Int32 words (8-byte aligned).
const TOTAL = 0;
const CALLBACKS = 1;
const LAG_P50 = 2;
const LAG_P99 = 3;
const EXECUTOR_TASKS = 4;
const FLOAT_SLOTS = 5;

const FLOAT_OFFSET = INT_WORDS * 4;
const BYTES = FLOAT_OFFSET + FLOAT_SLOTS * 8;

/** How often a loop thread publishes its lag percentiles (ms): the window they describe. */
const LAG_WINDOW_MS = 250;
/** The delay histogram's timer period (ms); each sample is this period plus the lag. */
const RESOLUTION_MS = 10;

/** One loop's line of `runtime.stats()`. Lags are in seconds. */
export interface LoopStatsSnapshot {
  index: number;
  connections: number;
  connectionsTotal: number;
  callbacks: number;
  lagP50: number;
  lagP99: number;
  ringDepth: number;
  executorTasks: number;
}

export class LoopStats {
  /** The shared memory: send it to the loop's thread and `LoopStats.from` it there. */
  readonly buffer: SharedArrayBuffer;
  readonly #ints: Int32Array;
  readonly #floats: Float64Array;

  private constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer;
    this.#ints = new Int32Array(buffer, 0, INT_WORDS);
    this.#floats = new Float64Array(buffer, FLOAT_OFFSET, FLOAT_SLOTS);
  }

  /** Zeroed statistics for a new loop. */
  static create(): LoopStats {
    return new LoopStats(new SharedArrayBuffer(BYTES));
  }

  /** The statistics living in `buffer` (made by `LoopStats.create`, in any thread). */
  static from(buffer: unknown): LoopStats {
    if (!(buffer instanceof SharedArrayBuffer) || buffer.byteLength !== BYTES) {
      throw new TypeError('LoopStats.from: buffer must be the SharedArrayBuffer of a LoopStats');
    }
    return new LoopStats(buffer);
  }

  // ---------------------------------------------- written by the loop's thread

  /** Counts a connection the loop now serves. */
  connectionOpened(): void {
    Atomics.add(this.#ints, OPEN, 1);
    this.#floats[TOTAL]! += 1;
  }

  /** Counts the end of a connection counted by `connectionOpened`. */
  connectionClosed(): void {
    Atomics.sub(this.#ints, OPEN, 1);
  }

  /** Counts one hand-off taken over by the loop (before it wraps the fd: see handoff.ts). */
  handoffTaken(): void {
    Atomics.add(this.#ints, TAKEN, 1);
  }

  setCallbacks(count: number): void {
    this.#floats[CALLBACKS] = count;
  }

  setExecutorTasks(count: number): void {
    this.#floats[EXECUTOR_TASKS] = count;
  }

  setLag(p50: number, p99: number): void {
    this.#floats[LAG_P50] = p50;
    this.#floats[LAG_P99] = p99;
  }

  // ------------------------------------------------------- read by any thread

  /** Connections the loop serves now. */
  get connections(): number {
    return Atomics.load(this.#ints, OPEN);
  }

  /** Hand-offs taken so far, modulo 2^32. */
  get taken(): number {
    return Atomics.load(this.#ints, TAKEN) >>> 0;
  }

  /** The loop's p99 lag over its last window, in seconds. */
  get lagP99(): number {
    return this.#floats[LAG_P99]!;
  }

  snapshot(index: number, ringDepth: number): LoopStatsSnapshot {
    const f = this.#floats;
    return {
      index,
      connections: this.connections,
      connectionsTotal: f[TOTAL]!,
      callbacks: f[CALLBACKS]!,
      lagP50: f[LAG_P50]!,
      lagP99: f[LAG_P99]!,
      ringDepth,
      executorTasks: f[EXECUTOR_TASKS]!,
    };
  }
}

/**
 * Samples the calling thread's event-loop delay (Node's histogram: the
 * multiloop loop runs on it, so its lag is this lag) and publishes p50/p99
 * of each window, plus whatever `sample` adds. Runs on an unreferenced
 * timer, outside the loop's callbacks, so it neither keeps the thread alive
 * nor shows in the loop's own statistics. Returns the stop function.
 */
export function startSampling(stats: LoopStats, sample: (stats: LoopStats) => void): () => void {
  const histogram: IntervalHistogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  histogram.enable();
  // Samples are in ns and include the timer's own period; an empty window reports 0.
  const lag = (percentile: number): number =>
    histogram.count > 0 ? Math.max(0, histogram.percentile(percentile) / 1e9 - RESOLUTION_MS / 1e3) : 0;
  const timer = setInterval(() => {
    const p50 = lag(50);
    const p99 = lag(99);
    histogram.reset();
    stats.setLag(p50, p99);
    sample(stats);
  }, LAG_WINDOW_MS);
  timer.unref();
  return () => {
    clearInterval(timer);
    histogram.disable();
  };
}
