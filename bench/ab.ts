/**
 * bench:ab — two builds of multiloop's cross-thread path, A/B inside one
 * process, for judging a change: on this machine two runs of the same
 * process can differ by 2x. Three A/A runs of this file (two builds of the
 * same ring code) gave B over A: drain 0.99–1.01, send 0.92–0.94 (the
 * build loaded second sends faster), cross-thread 0.93–1.30: trust a drain
 * difference of a few percent, a send difference beyond 10%, and a
 * cross-thread one only when several runs agree.
 *
 *   npm run bench:ab -- <other checkout>     (built: its dist/ must exist)
 *
 * A is the other checkout, B this one. Both load into this process (each
 * its own module graph, loop and producer threads) and take turns, round
 * after round:
 * - drain: one thread queues 20,000 calls into its own loop's ring
 *   (`send`, ns per call), then runs the loop until all have run
 *   (`drain`, ns per call); medians of the rounds after a warm-up;
 * - cross-thread: PRODUCERS threads (env, default 1) send 200,000 calls
 *   into the main thread's loop; median messages per second, and B over A
 *   as the median of each round's B over the A beside it.
 * Prints one JSON line per figure, A's and B's, and B over A.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { createReporter } from './report.js';

/** The part of a build's runtime this bench uses (another checkout's: typed only here). */
interface Build {
  newEventLoop(): {
    register(name: string, fn: (...args: unknown[]) => void): void;
    createFuture<T>(): { setResult(value: T): void };
    runUntilComplete<T>(future: unknown): Promise<T>;
    close(): void;
  };
  getLoopRef(loop: unknown): { callSoonThreadsafe(name: string, ...args: unknown[]): void };
  LoopRef: { from(data: unknown): { callSoonThreadsafe(name: string, ...args: unknown[]): void } };
}

const DRAIN_CALLS = 20_000;
const DRAIN_ROUNDS = 200;
const CROSS_CALLS = 200_000;
const CROSS_ROUNDS = 32;
/** Rounds of each kind not counted: the JIT's warm-up. */
const WARMUP = 2;

async function load(root: string): Promise<Build> {
  return (await import(pathToFileURL(resolve(root, 'dist/runtime/index.js')).href)) as Build;
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[values.length >> 1]!;

/** One build's loop, a function counting the calls into it, and a Future settled at the expected count. */
function counter(build: Build) {
  const loop = build.newEventLoop();
  const state = { got: 0, expected: 0, done: loop.createFuture<number>() };
  loop.register('m', () => {
    if (++state.got === state.expected) state.done.setResult(performance.now());
  });
  const expect = (n: number): unknown => {
    state.got = 0;
    state.expected = n;
    state.done = loop.createFuture<number>();
    return state.done;
  };
  return { loop, expect };
}

async function main(): Promise<void> {
  const other = process.argv[2];
  if (other === undefined) throw new TypeError('bench:ab: give the other checkout: npm run bench:ab -- <path>');
  const here = fileURLToPath(new URL('../..', import.meta.url));
  const roots = [resolve(other), here];
  const producers = Number(process.env.PRODUCERS ?? 1);
  const report = createReporter('ab');
  const sides = await Promise.all(roots.map(async (root) => {
    const build = await load(root);
    const { loop, expect } = counter(build);
    const go = new Int32Array(new SharedArrayBuffer(4));
    const workers = Array.from({ length: producers }, () => new Worker(new URL(import.meta.url), {
      workerData: { root, ref: build.getLoopRef(loop), go: go.buffer, count: CROSS_CALLS / producers, rounds: CROSS_ROUNDS },
    }));
    const exited = workers.map((w) => new Promise((resolved) => w.once('exit', resolved)));
    await Promise.all(workers.map((w) => new Promise((resolved) => w.once('message', resolved))));
    return { root, build, loop, expect, ref: build.getLoopRef(loop), go, exited, send: [] as number[], drain: [] as number[], rates: [] as number[] };
  }));
  for (let round = 0; round < DRAIN_ROUNDS; round++) {
    for (const side of round % 2 === 0 ? sides : [...sides].reverse()) {
      const done = side.expect(DRAIN_CALLS);
      const start = performance.now();
      for (let i = 0; i < DRAIN_CALLS; i++) side.ref.callSoonThreadsafe('m', i, 1.5, 2.5);
      const sent = performance.now();
      await side.loop.runUntilComplete(done);
      if (round < WARMUP) continue;
      side.send.push(((sent - start) * 1e6) / DRAIN_CALLS);
      side.drain.push(((performance.now() - sent) * 1e6) / DRAIN_CALLS);
    }
  }
  for (let round = 1; round <= CROSS_ROUNDS; round++) {
    for (const side of round % 2 === 0 ? sides : [...sides].reverse()) {
      const done = side.expect(CROSS_CALLS);
      const start = performance.now();
      Atomics.store(side.go, 0, round);
      Atomics.notify(side.go, 0);
      const end = await side.loop.runUntilComplete<number>(done);
      if (round > WARMUP) side.rates.push(CROSS_CALLS / ((end - start) / 1000));
    }
  }
  const [a, b] = sides;
  for (const [label, side] of [['A', a!], ['B', b!]] as const) {
    await Promise.all(side.exited);
    side.loop.close();
    report.figure(`send_${label}`, median(side.send), 'ns/call');
    report.figure(`drain_${label}`, median(side.drain), 'ns/call');
    report.figure(`cross${producers}_${label}`, median(side.rates), 'msg/s');
  }
  report.figure('send_B_over_A', median(b!.send) / median(a!.send), 'x');
  report.figure('drain_B_over_A', median(b!.drain) / median(a!.drain), 'x');
  // Each round's B against the A next to it: pairs taken close in time cancel the machine's slower and faster phases.
  report.figure(`cross${producers}_B_over_A`, median(b!.rates.map((rate, i) => rate / a!.rates[i]!)), 'x');
}

/** A producer thread of one build: sends its share when the main thread starts each round. */
async function producer(data: { root: string; ref: unknown; go: SharedArrayBuffer; count: number; rounds: number }): Promise<void> {
  const build = await load(data.root);
  const ref = build.LoopRef.from(data.ref);
  const go = new Int32Array(data.go);
  parentPort!.postMessage('ready');
  for (let round = 1; round <= data.rounds; round++) {
    for (let seen = Atomics.load(go, 0); seen < round; seen = Atomics.load(go, 0)) Atomics.wait(go, 0, seen);
    for (let i = 0; i < data.count; i++) ref.callSoonThreadsafe('m', i, 1.5, 2.5);
  }
}

if (isMainThread) await main();
else await producer(workerData as { root: string; ref: unknown; go: SharedArrayBuffer; count: number; rounds: number });
