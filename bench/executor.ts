/**
 * bench:executor — runInExecutor against Piscina called directly, side by
 * side in one process (ratios matter; the machine is shared):
 * - trivial tasks/s with 1,000 in flight: runInExecutor on the default pool,
 *   Piscina's run() with the same pool options, and Piscina's defaults;
 * - the same through a loop on a worker thread, which reaches the main
 *   thread's pool by BroadcastChannel (the cost of one process-wide pool);
 * - a CPU-bound task (~10 ms of hashing) 64 times in the executor vs inline,
 *   and split over plain worker threads: the speed-up the machine allows at
 *   that moment (the cores are shared with other work).
 * Rounds are interleaved and the best of each kept.
 */
import { once } from 'node:events';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { newEventLoop, type EventLoop, type Future } from '../runtime/index.js';
import { hashRounds } from './executor-tasks.js';
import { createReporter, timed } from './report.js';

const TASKS = 10_000;
const IN_FLIGHT = 1_000;
const ROUNDS = 3;
const CPU_TASKS = 64;
const CPU_TASK_SECONDS = 0.01;
const TASKS_MODULE = new URL('./executor-tasks.js', import.meta.url);
/** What the default pool uses per thread (executor_pool.ts), given to raw Piscina for the same-options figure. */
const TASKS_PER_THREAD = 16;

/** Trivial tasks/s through `loop.runInExecutor`, `IN_FLIGHT` at a time. */
async function executorRate(loop: EventLoop): Promise<number> {
  const trivial = (x: number) => x;
  const finished = loop.createFuture<void>();
  let submitted = 0;
  let completed = 0;
  const onDone = (): void => {
    if (++completed === TASKS) finished.setResult();
    else if (submitted < TASKS) submit();
  };
  const submit = (): void => {
    (loop.runInExecutor(null, trivial, submitted++) as Future<number>).addDoneCallback(onDone);
  };
  const seconds = await timed(async () => {
    for (let i = 0; i < IN_FLIGHT; i++) submit();
    await loop.runUntilComplete(finished);
  });
  return TASKS / seconds;
}

/** Trivial tasks/s through `pool.run`, `IN_FLIGHT` at a time. */
async function piscinaRate(pool: Piscina): Promise<number> {
  let submitted = 0;
  let completed = 0;
  const seconds = await timed(() => new Promise<void>((resolve) => {
    const onDone = (): void => {
      if (++completed === TASKS) resolve();
      else if (submitted < TASKS) submit();
    };
    const submit = (): void => {
      pool.run(submitted++).then(onDone);
    };
    for (let i = 0; i < IN_FLIGHT; i++) submit();
  }));
  return TASKS / seconds;
}

/** Trivial tasks/s from a loop on a new worker thread. */
function workerLoopRate(): Promise<number> {
  const worker = new Worker(new URL(import.meta.url), { workerData: { measure: 'executorRate' } });
  return new Promise<number>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  }).finally(() => worker.terminate());
}

/** How many hash rounds take about CPU_TASK_SECONDS inline (the fastest of a few timings, once compiled). */
function calibrateHash(): number {
  const probe = 500;
  hashRounds(probe);
  let seconds = Infinity;
  for (let i = 0; i < 5; i++) seconds = Math.min(seconds, timedSync(() => hashRounds(probe)));
  return Math.max(1, Math.round((probe * CPU_TASK_SECONDS) / seconds));
}

function timedSync(body: () => unknown): number {
  const start = performance.now();
  body();
  return (performance.now() - start) / 1000;
}

interface CpuSeconds {
  inline: number;
  executor: number;
  /** The same tasks split over plain worker threads with no executor: what the machine allows at the moment. */
  rawThreads: number;
}

/** Seconds for CPU_TASKS hashing tasks inline, in the executor and on plain threads, best of ROUNDS interleaved rounds, after a warm-up. */
async function cpuSeconds(loop: EventLoop, threads: number): Promise<CpuSeconds> {
  const rounds = calibrateHash();
  const descriptor = { module: TASKS_MODULE, name: 'hashRounds' };
  const inline = (): number => timedSync(() => {
    for (let i = 0; i < CPU_TASKS; i++) hashRounds(rounds);
  });
  const inExecutor = (): Promise<number> => timed(() => loop.runUntilComplete(async () => {
    const futures = Array.from({ length: CPU_TASKS }, () => loop.runInExecutor(null, descriptor, rounds));
    for (const future of futures) await future;
  }));
  const hashers = await Promise.all(Array.from({ length: threads }, () => startHasher(rounds, CPU_TASKS / threads)));
  const onRawThreads = (): Promise<number> => timed(() => Promise.all(hashers.map((hash) => hash())).then(() => {}));
  // Warm-up: each thread imports the module and compiles the hash loop.
  await inExecutor();
  await onRawThreads();
  const best = { inline: Infinity, executor: Infinity, rawThreads: Infinity };
  for (let round = 0; round < ROUNDS; round++) {
    best.inline = Math.min(best.inline, inline());
    best.executor = Math.min(best.executor, await inExecutor());
    best.rawThreads = Math.min(best.rawThreads, await onRawThreads());
  }
  await Promise.all(hashers.map((hash) => hash(true)));
  return best;
}

/** A plain worker thread that runs `count` hash tasks of `rounds` each time it is asked (and ends when asked with `stop`). */
async function startHasher(rounds: number, count: number): Promise<(stop?: boolean) => Promise<void>> {
  const worker = new Worker(new URL(import.meta.url), { workerData: { measure: 'hash', rounds, count } });
  await once(worker, 'online');
  return async (stop = false) => {
    if (stop) {
      await worker.terminate();
      return;
    }
    worker.postMessage('go');
    await once(worker, 'message');
  };
}

async function main(): Promise<void> {
  const report = createReporter('executor');
  const threads = availableParallelism();
  const filename = fileURLToPath(TASKS_MODULE);
  const sameOptions = new Piscina({ filename, minThreads: threads, maxThreads: threads, concurrentTasksPerWorker: TASKS_PER_THREAD });
  const defaults = new Piscina({ filename });
  const loop = newEventLoop();

  const best = { executor: 0, same: 0, defaults: 0, worker: 0 };
  for (let round = 0; round < ROUNDS; round++) {
    best.executor = Math.max(best.executor, await executorRate(loop));
    best.same = Math.max(best.same, await piscinaRate(sameOptions));
    best.defaults = Math.max(best.defaults, await piscinaRate(defaults));
    best.worker = Math.max(best.worker, await workerLoopRate());
  }
  await Promise.all([sameOptions.destroy(), defaults.destroy()]);

  report.figure('executor_tasks_per_s', best.executor, 'tasks/s');
  report.figure('piscina_same_options_tasks_per_s', best.same, 'tasks/s');
  report.figure('piscina_default_options_tasks_per_s', best.defaults, 'tasks/s');
  report.figure('executor_vs_piscina', best.executor / best.same, 'x');
  report.figure('executor_vs_piscina_default', best.executor / best.defaults, 'x');
  report.figure('worker_loop_tasks_per_s', best.worker, 'tasks/s');
  report.figure('worker_loop_vs_main', best.worker / best.executor, 'x');

  const cpu = await cpuSeconds(loop, threads);
  report.figure('cpu_inline_s', cpu.inline, 's');
  report.figure('cpu_executor_s', cpu.executor, 's');
  report.figure('cpu_raw_threads_s', cpu.rawThreads, 's');
  report.figure('cpu_speedup', cpu.inline / cpu.executor, 'x');
  report.figure('cpu_raw_threads_speedup', cpu.inline / cpu.rawThreads, 'x');
  report.figure('cpu_executor_vs_raw_threads', cpu.rawThreads / cpu.executor, 'x');
  report.figure('executor_threads', threads, 'threads');
  loop.close();
  report.table();
}

if (isMainThread) {
  await main();
} else if ((workerData as { measure?: string }).measure === 'hash') {
  const { rounds, count } = workerData as { rounds: number; count: number };
  parentPort?.on('message', () => {
    for (let i = 0; i < count; i++) hashRounds(rounds);
    parentPort?.postMessage('done');
  });
} else if ((workerData as { measure?: string }).measure === 'executorRate') {
  const loop = newEventLoop();
  await executorRate(loop); // warm: the session with the main thread, the threads' compile cache
  const rate = await executorRate(loop);
  loop.close();
  parentPort?.postMessage(rate);
}
