/**
 * bench:loop-core — the loop core's hot paths against Node's own limits,
 * side by side in one process (ratios matter; the machine is shared).
 */
import { newEventLoop, type EventLoop } from '../runtime/index.js';
import { createReporter, timed } from './report.js';

const N = 1_000_000;
const TIMERS = 200_000;
const FUTURES = 100_000;
const report = createReporter('loop-core');

async function callSoonChain(loop: EventLoop): Promise<number> {
  let n = 0;
  const step = (): void => {
    if (++n < N) loop.callSoon(step);
    else loop.stop();
  };
  loop.callSoon(step);
  return N / (await timed(() => loop.runForever()));
}

async function callSoonUpfront(loop: EventLoop): Promise<number> {
  let n = 0;
  const tick = (): void => {
    if (++n === N) loop.stop();
  };
  return N / (await timed(() => {
    for (let i = 0; i < N; i++) loop.callSoon(tick);
    return loop.runForever();
  }));
}

function bareClosures(): number {
  let n = 0;
  const closures: (() => void)[] = [];
  for (let i = 0; i < N; i++) closures.push(() => void n++);
  const start = performance.now();
  for (const fn of closures) fn();
  return N / ((performance.now() - start) / 1000);
}

async function nodeChain(schedule: (fn: () => void) => void): Promise<number> {
  return N / (await timed(() => new Promise<void>((resolve) => {
    let n = 0;
    const step = (): void => (++n < N ? schedule(step) : resolve());
    schedule(step);
  })));
}

/** Random delays within 10 ms, all scheduled up front: scheduled-and-fired per second. */
function randomDelays(): number[] {
  const delays: number[] = [];
  for (let i = 0; i < TIMERS; i++) delays.push(Math.random() * 0.01);
  return delays;
}

async function callLater(loop: EventLoop, delays: number[]): Promise<number> {
  let fired = 0;
  const tick = (): void => {
    if (++fired === TIMERS) loop.stop();
  };
  return TIMERS / (await timed(() => {
    for (const d of delays) loop.callLater(d, tick);
    return loop.runForever();
  }));
}

async function setTimeoutRate(delays: number[]): Promise<number> {
  return TIMERS / (await timed(() => new Promise<void>((resolve) => {
    let fired = 0;
    const tick = (): void => {
      if (++fired === TIMERS) resolve();
    };
    for (const d of delays) setTimeout(tick, d * 1000);
  })));
}

async function futures(loop: EventLoop): Promise<number> {
  return FUTURES / (await timed(() => loop.runUntilComplete(async () => {
    for (let i = 0; i < FUTURES; i++) {
      const fut = loop.createFuture<number>();
      loop.callSoon(() => fut.setResult(i));
      await fut;
    }
  })));
}

/** How late Node's 1 ms interval runs while a long callSoon chain floods the loop. */
async function ioLatencyUnderFlood(loop: EventLoop): Promise<{ p50: number; max: number }> {
  const lateness: number[] = [];
  let last = performance.now();
  const interval = setInterval(() => {
    const now = performance.now();
    lateness.push(now - last - 1);
    last = now;
  }, 1);
  await callSoonChain(loop);
  clearInterval(interval);
  lateness.sort((a, b) => a - b);
  return { p50: lateness[lateness.length >> 1] ?? NaN, max: lateness[lateness.length - 1] ?? NaN };
}

/**
 * The machine is shared and noisy: each pair is measured in interleaved
 * rounds and reported as medians, the ratio as the median of the rounds'
 * ratios. Without a collection before each side, one side's garbage was
 * collected during the other's run, which swung the callLater ratio by 20%.
 */
const ROUNDS = 7;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1]!;
}

async function pair(ours: () => Promise<number>, theirs: () => Promise<number>): Promise<{ ours: number; theirs: number; ratio: number }> {
  const a: number[] = [];
  const b: number[] = [];
  const ratios: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate who goes first, and collect the garbage before each side,
    // so neither pays for the other's allocations.
    if (round % 2 === 0) {
      a.push(await isolated(ours));
      b.push(await isolated(theirs));
    } else {
      b.push(await isolated(theirs));
      a.push(await isolated(ours));
    }
    ratios.push(a[round]! / b[round]!);
  }
  return { ours: median(a), theirs: median(b), ratio: median(ratios) };
}

/** Runs `measure` after a full collection when the bench runs with --expose-gc (npm run bench:loop-core does). */
function isolated(measure: () => Promise<number>): Promise<number> {
  (globalThis as { gc?: () => void }).gc?.();
  return measure();
}

const loop = newEventLoop();
await callSoonChain(loop); // warm-up
const chain = await pair(() => callSoonChain(loop), () => nodeChain(setImmediate));
const upfrontRounds: number[] = [];
for (let round = 0; round < 3; round++) upfrontRounds.push(await callSoonUpfront(loop));
const upfront = median(upfrontRounds);
const bare = bareClosures();
const microtask = await nodeChain(queueMicrotask);
const delays = randomDelays();
const later = await pair(() => callLater(loop, delays), () => setTimeoutRate(delays));
const futureRate = await futures(loop);
const flood = await ioLatencyUnderFlood(loop);
loop.close();

report.figure('callSoonChain', chain.ours, 'calls/s');
report.figure('callSoonUpfront', upfront, 'calls/s');
report.figure('bareClosures', bare, 'calls/s');
report.figure('setImmediateChain', chain.theirs, 'calls/s');
report.figure('queueMicrotaskChain', microtask, 'calls/s');
report.figure('callLater', later.ours, 'timers/s');
report.figure('setTimeout', later.theirs, 'timers/s');
report.figure('futures', futureRate, 'futures/s');
report.figure('nodeIntervalLatenessDuringChain_p50', flood.p50, 'ms');
report.figure('nodeIntervalLatenessDuringChain_max', flood.max, 'ms');
report.figure('callSoonChain_vs_setImmediateChain', chain.ratio, 'x');
report.figure('callLater_vs_setTimeout', later.ratio, 'x');
report.table();
