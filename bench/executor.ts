/**
 * bench:executor — runInExecutor against Piscina called directly, side by
 * side in one process (ratios matter; the machine is shared):
 * - trivial tasks/s with 1,000 in flight: runInExecutor on the default pool,
 *   Piscina's run() with the same pool options, and Piscina's defaults;
 * - the same through a loop on a worker thread, which reaches the main
 *   thread's pool by BroadcastChannel (the cost of one process-wide pool);
 * - a CPU-bound task (~10 ms of hashing) 64 times in the executor vs inline.
 * Rounds are interleaved and the best of each kept.
 */
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

/** How many hash rounds take about CPU_TASK_SECONDS inline. */
function calibrateHash(): number {
  const probe = 200;
  hashRounds(probe);
  const seconds = Math.max(1e-4, timedSync(() => hashRounds(probe)));
  return Math.max(1, Math.round((probe * CPU_TASK_SECONDS) / seconds));
}

function timedSync(body: () => unknown): number {
  const start = performance.now();
  body();
  return (performance.now() - start) / 1000;
}

async function cpuSpeedup(loop: EventLoop): Promise<{ inline: number; executor: number }> {
  const rounds = calibrateHash();
  const descriptor = { module: TASKS_MODULE, name: 'hashRounds' };
  // Warm: the executor threads import the module once.
  await loop.runUntilComplete(loop.runInExecutor(null, descriptor, 1));
  const inline = timedSync(() => {
    for (let i = 0; i < CPU_TASKS; i++) hashRounds(rounds);
  });
  const executor = await timed(() => loop.runUntilComplete(async () => {
    const futures = Array.from({ length: CPU_TASKS }, () => loop.runInExecutor(null, descriptor, rounds));
    for (const future of futures) await future;
  }));
  return { inline, executor };
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

  const cpu = await cpuSpeedup(loop);
  report.figure('cpu_inline_s', cpu.inline, 's');
  report.figure('cpu_executor_s', cpu.executor, 's');
  report.figure('cpu_speedup', cpu.inline / cpu.executor, 'x');
  report.figure('executor_threads', threads, 'threads');
  loop.close();
  report.table();
}

if (isMainThread) {
  await main();
} else if ((workerData as { measure?: string } | null)?.measure === 'executorRate') {
  const loop = newEventLoop();
  await executorRate(loop); // warm: the session with the main thread, the threads' compile cache
  const rate = await executorRate(loop);
  loop.close();
  parentPort?.postMessage(rate);
}
