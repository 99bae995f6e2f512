/**
 * The default executor of the whole process: one Piscina pool in the main
 * thread, created on first use, bounded to `maxExecutorThreads()` threads
 * (default: the machine's available parallelism), shared by every loop.
 *
 * Loops on the main thread submit to it directly. Loops on worker threads
 * reach it through the main thread (executor_bridge.ts), so that however
 * many loops and threads a process runs, it never has more executor threads
 * than the bound. The other design, a pool per loop with sizes that add up
 * to the bound, cannot give every loop a thread once loops outnumber the
 * bound (a Runtime on a 2-core machine has 3 loops), and it idles threads
 * that a busy loop could use; the shared pool costs worker loops one hop
 * through the main thread (figure `worker_loop_vs_main` in bench/RESULTS.md).
 *
 * The pool lives while some loop (or worker thread) holds it. When the last
 * one lets go it is closed without waiting, as asyncio's loop.close() shuts
 * its executor down: running tasks finish, then the threads end.
 */
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { isMainThread } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { RuntimeError } from './errors.js';
import { ExecutorQueue, MAX_BATCH, type RunnerLocation } from './executor_queue.js';
import { logger } from './log.js';

/**
 * Where every executor finds multiloop's task runner. A path, not a URL:
 * Piscina parses a file URL again for every task.
 */
export const RUNNER: RunnerLocation = {
  filename: fileURLToPath(new URL('../workers/executor-worker.js', import.meta.url)),
  name: 'default',
};

/**
 * Runner tasks (single calls or batches) handed to each thread at once. One
 * (Piscina's default) leaves a thread idle while its next task crosses the
 * thread boundary; 16 ran trivial tasks 1.5x faster here. The calls beyond
 * threads × 16 wait in our queue, where cancelling them is free; a cancelled
 * one Piscina already holds is skipped by its thread (`cancelFlags`).
 */
const TASKS_PER_THREAD = 16;

let bound = availableParallelism();
let pool: Piscina | null = null;
let queue: ExecutorQueue | null = null;
let holders = 0;

/** The most executor threads the default pool may run at once, process-wide. */
export function maxExecutorThreads(): number {
  return bound;
}

/**
 * Sets the process-wide bound on executor threads. Call it in the main
 * thread, before the first `runInExecutor` or once every loop has closed:
 * a running pool cannot be resized. Throws RangeError for a count that is
 * not a positive integer, RuntimeError from a worker thread or while the
 * pool runs.
 */
export function setMaxExecutorThreads(threads: number): void {
  if (!Number.isInteger(threads) || threads < 1) {
    throw new RangeError(`setMaxExecutorThreads: threads must be a positive integer, got ${String(threads)}`);
  }
  if (!isMainThread) {
    throw new RuntimeError('setMaxExecutorThreads: the executor thread bound is process-wide: set it in the main thread');
  }
  if (pool !== null) {
    throw new RuntimeError('setMaxExecutorThreads: the default executor is running; set the bound before its first use');
  }
  bound = threads;
}

/** Takes a hold on the default pool (creating it if needed) and returns its queue. Main thread only. */
export function holdDefaultPool(): ExecutorQueue {
  if (queue === null) {
    // Every thread from the start: Piscina adds a thread only when the ones it
    // has are full, and one thread takes TASKS_PER_THREAD tasks, so a pool
    // grown on demand ran 16 CPU-bound tasks on one thread of two. Idle
    // threads are unref'd by Piscina and keep no process alive.
    // A word per call the threads may hold (TASKS_PER_THREAD tasks of up to MAX_BATCH calls each):
    // how a cancelled call that Piscina already holds is skipped before it starts.
    const cancelFlags = new Int32Array(new SharedArrayBuffer(4 * bound * TASKS_PER_THREAD * MAX_BATCH));
    pool = new Piscina({
      filename: RUNNER.filename,
      minThreads: bound,
      maxThreads: bound,
      concurrentTasksPerWorker: TASKS_PER_THREAD,
      workerData: { cancelFlags: cancelFlags.buffer },
    });
    queue = new ExecutorQueue(pool, bound * TASKS_PER_THREAD, RUNNER, cancelFlags);
  }
  holders++;
  return queue;
}

/** Lets go of a hold; the last one closes the pool without waiting: running tasks finish, then the threads end. */
export function releaseDefaultPool(): void {
  if (--holders > 0 || pool === null) return;
  const closing = pool;
  pool = null;
  queue = null;
  closing.close().catch((error: unknown) => logger.error('multiloop: closing the default executor failed', error));
}
