/**
 * bench:threadsafe — cross-thread calls through a loop's ring against
 * MessagePort.postMessage, between the same threads, in one run.
 *
 * 1. Throughput: 1 and 3 producer threads send small messages (a name, an
 *    int, two floats; the same number per round, split among them) to the
 *    main thread's loop, through `LoopRef.callSoonThreadsafe` and through
 *    `postMessage`, in alternating rounds after a warm-up round (the steady
 *    state, not the JIT's start).
 * 2. Round trip between two idle loops (main, and a worker running a loop):
 *    ping with callSoonThreadsafe and pong back, against a postMessage
 *    ping-pong; plus `LoopRef.call`'s round trip; the three take turns.
 * 3. Wake-up: a raw ring ping-pong between two idle threads, woken by the
 *    wake word's native doorbell, by a MessagePort message, or by
 *    Atomics.waitAsync (wakers.ts).
 *
 * This file is also the worker threads' entry (`role` in workerData).
 */
import { MessageChannel, type MessagePort, Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { LoopRef, type LoopRefData } from '../shared/loopref.js';
import { Ring } from '../shared/ring.js';
import { RingReader } from '../shared/ring_reader.js';
import { RingWriter } from '../shared/ring_writer.js';
import { getLoopRef, newEventLoop, type EventLoop } from '../runtime/index.js';
import { makeWaker, WAKE_KINDS, type WakeKind } from './wakers.js';

/** Messages per throughput round, split among the producers. */
const MESSAGES_PER_ROUND = 300_000;
/**
 * Throughput rounds per path: a warm-up, then the measured ones (their
 * median is reported). The machine runs in phases (cross-thread rates of
 * both paths can halve for seconds), so the ratio is taken round by round,
 * between the ring's round and the postMessage round right after it.
 */
const ROUNDS = 8;
/** Quiet time before each throughput round (seconds): see settle(). */
const SETTLE_SECONDS = 0.25;
const RTT_SAMPLES = 600;
/**
 * Round trips run first, back to back, and not counted, so that both paths
 * are measured with their code optimized: 300 trips with idle gaps left the
 * first path measured ~1.8x slower than the same path measured later.
 */
const RTT_WARMUP = 3000;
/** Pause between round trips (seconds), so that both sides are idle (asleep) when each ping arrives. */
const RTT_GAP = 0.002;

type Role =
  | { role: 'ring-producer'; ref: LoopRefData; go: SharedArrayBuffer; rounds: number; count: number }
  | { role: 'port-producer'; port: MessagePort; go: SharedArrayBuffer; rounds: number; count: number }
  | { role: 'echo-loop'; main: LoopRefData; port: MessagePort }
  | { role: 'raw-echo'; kind: WakeKind; inbox: SharedArrayBuffer; outbox: SharedArrayBuffer; port: MessagePort; words: SharedArrayBuffer };

const SELF = new URL(import.meta.url);

function emit(figure: string, value: number, unit: string): void {
  console.log(JSON.stringify({ bench: 'threadsafe', figure, value: Number(value.toPrecision(4)), unit }));
}

// ------------------------------------------------------------ main thread

async function main(): Promise<void> {
  for (const producers of [1, 3]) {
    const { ring, port, ratio } = await throughput(producers);
    emit(`threadsafe${producers}_msgs_per_s`, ring.perSecond, 'msg/s');
    emit(`postMessage${producers}_msgs_per_s`, port.perSecond, 'msg/s');
    emit(`threadsafe${producers}_vs_postMessage`, ratio, 'x');
    // On shared cores the wall clock also measures the neighbours; CPU time measures the work.
    emit(`threadsafe${producers}_msgs_per_cpu_s`, ring.perCpuSecond, 'msg/cpu-s');
    emit(`postMessage${producers}_msgs_per_cpu_s`, port.perCpuSecond, 'msg/cpu-s');
    emit(`threadsafe${producers}_vs_postMessage_per_cpu_s`, ring.perCpuSecond / port.perCpuSecond, 'x');
  }
  const rtt = await roundTrips();
  emit('rtt_threadsafe_p50', rtt.ring.p50 * 1e6, 'us');
  emit('rtt_threadsafe_p99', rtt.ring.p99 * 1e6, 'us');
  emit('rtt_postMessage_p50', rtt.port.p50 * 1e6, 'us');
  emit('rtt_postMessage_p99', rtt.port.p99 * 1e6, 'us');
  emit('rtt_vs_postMessage', rtt.ring.p50 / rtt.port.p50, 'x');
  emit('rtt_call_p50', rtt.call.p50 * 1e6, 'us');
  emit('rtt_call_p99', rtt.call.p99 * 1e6, 'us');
  const wake = await rawWakeRoundTrips();
  for (const [kind, times] of wake) emit(`wake_rtt_${kind}_p50`, times.p50 * 1e6, 'us');
  emit('wake_rtt_bell_vs_port', wake.get('bell')!.p50 / wake.get('port')!.p50, 'x');
  emit('wake_rtt_bell_vs_waitAsync', wake.get('bell')!.p50 / wake.get('waitAsync')!.p50, 'x');
}

interface Rate {
  perSecond: number;
  perCpuSecond: number;
}

/**
 * Messages from `producers` threads into this thread's loop, by ring and
 * by postMessage, in alternating rounds between the same threads: the
 * median round's messages per second of wall time, and messages per
 * second of the process's CPU time (all threads: producers and consumer);
 * and `ratio`, the median over rounds of the ring's rate over the rate of
 * the postMessage round that followed it.
 * The producers live through every round, and the first round of each
 * path is a warm-up, so both are measured with their code optimized on
 * both sides.
 */
async function throughput(producers: number): Promise<{ ring: Rate; port: Rate; ratio: number }> {
  const loop = newEventLoop();
  let received = 0;
  let expected = 0;
  let done = loop.createFuture<number>();
  const onMessage = (): void => {
    if (++received === expected) done.setResult(performance.now());
  };
  loop.register('m', (_i: number, _a: number, _b: number) => onMessage());
  const ports: MessagePort[] = [];
  const groups = (['ring', 'port'] as const).map((via) => {
    const go = new SharedArrayBuffer(4);
    const count = MESSAGES_PER_ROUND / producers;
    const workers = Array.from({ length: producers }, () => {
      if (via === 'ring') return spawn({ role: 'ring-producer', ref: getLoopRef(loop), go, rounds: ROUNDS, count });
      const { port1, port2 } = new MessageChannel();
      port1.on('message', (m: [string, number, number, number]) => loop._callIo(onMessage, ...m));
      ports.push(port1);
      return spawn({ role: 'port-producer', port: port2, go, rounds: ROUNDS, count }, [port2]);
    });
    return { go: new Int32Array(go), workers, rates: [] as number[], cpu: 0, counted: 0 };
  });
  // Every producer has loaded its modules and waits on its group's start word.
  await Promise.all(groups.flatMap((g) => g.workers.map((w) => w.message)));
  for (let round = 1; round <= ROUNDS; round++) {
    for (const group of groups) {
      received = 0;
      expected = messagesIn(round, MESSAGES_PER_ROUND);
      done = loop.createFuture<number>();
      await settle(loop);
      const start = performance.now();
      const cpu = process.cpuUsage();
      Atomics.store(group.go, 0, round);
      Atomics.notify(group.go, 0);
      const end = await loop.runUntilComplete(done);
      const { user, system } = process.cpuUsage(cpu);
      if (round === 1) continue;
      group.rates.push(expected / ((end - start) / 1000));
      group.cpu += (user + system) / 1e6;
      group.counted += expected;
    }
  }
  await Promise.all(groups.flatMap((g) => g.workers.map((w) => w.exited)));
  for (const port of ports) port.close();
  loop.close();
  const [ring, port] = groups.map((g) => ({ perSecond: median(g.rates), perCpuSecond: g.counted / g.cpu }));
  const [ringRates, portRates] = groups.map((g) => g.rates);
  return { ring: ring!, port: port!, ratio: median(ringRates!.map((rate, i) => rate / portRates![i]!)) };
}

/**
 * A pause before each round: a postMessage round leaves hundreds of
 * thousands of messages' garbage in this thread and in its producers,
 * collected by V8's background threads, which on two cores ran on the next
 * round's clock (that round, whichever its path, measured up to 40% slower).
 */
async function settle(loop: EventLoop): Promise<void> {
  const slept = loop.createFuture<void>();
  loop.callLater(SETTLE_SECONDS, () => slept.setResult(undefined));
  await loop.runUntilComplete(slept);
}

/** Of `count` messages per round, those sent in `round` (the first, a warm-up, is shorter). */
function messagesIn(round: number, count: number): number {
  return round === 1 ? count / 4 : count;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1]!;
}

interface Percentiles {
  p50: number;
  p99: number;
}

/** Round trips between this thread's loop and a worker's, both idle between pings. */
async function roundTrips(): Promise<{ ring: Percentiles; port: Percentiles; call: Percentiles }> {
  const loop = newEventLoop();
  const { port1, port2 } = new MessageChannel();
  const echo = spawn({ role: 'echo-loop', main: getLoopRef(loop), port: port2 }, [port2]);
  const [peerData] = await echo.message;
  const peer = LoopRef.from(peerData as LoopRefData);
  const [ring, port, call] = await loop.runUntilComplete(sample(loop, [
    (pong) => {
      loop.register('pong', pong);
      return () => peer.callSoonThreadsafe('ping');
    },
    (pong) => {
      port1.on('message', () => loop._callIo(pong));
      return () => port1.postMessage('ping');
    },
    (pong) => () => void peer.call('echo').then(pong),
  ]));
  peer.callSoonThreadsafe('stop');
  await echo.exited;
  port1.close();
  loop.close();
  return { ring: ring!, port: port!, call: call! };
}

/**
 * Round trips by each of `paths`, taking turns trip by trip so that every
 * path meets the same machine: RTT_WARMUP each, back to back, then
 * RTT_SAMPLES each after RTT_GAP of idleness. A path's `setup(pong)` wires
 * its reply to call `pong` and returns how to send a ping.
 */
async function sample(loop: EventLoop, paths: ((pong: () => void) => () => void)[]): Promise<Percentiles[]> {
  const times = paths.map((): number[] => []);
  let sentAt = 0;
  let next: (() => void) | null = null;
  const pings = paths.map((setup, k) => setup(() => {
    times[k]!.push(performance.now() - sentAt);
    next?.();
  }));
  for (let i = 0; i < RTT_WARMUP + RTT_SAMPLES; i++) {
    for (const ping of pings) {
      if (i >= RTT_WARMUP) await new Promise<void>((resolve) => loop.callLater(RTT_GAP, resolve));
      await new Promise<void>((resolve) => {
        next = resolve;
        sentAt = performance.now();
        ping();
      });
    }
  }
  return times.map((path) => percentiles(path.slice(RTT_WARMUP).map((ms) => ms / 1000)));
}

/**
 * Raw ring ping-pongs with threads that run no loop, one per wake-up kind
 * (see wakers.ts), taking turns trip by trip, each trip after RTT_GAP of
 * idleness: only the wake-up differs.
 */
async function rawWakeRoundTrips(): Promise<Map<WakeKind, Percentiles>> {
  const record = new Uint8Array(16);
  const sides = await Promise.all(WAKE_KINDS.map(async (kind) => {
    const inbox = Ring.create(4096);
    const outbox = Ring.create(4096);
    const { port1, port2 } = new MessageChannel();
    const words = new SharedArrayBuffer(16);
    const echo = spawn({ role: 'raw-echo', kind, inbox: outbox.buffer, outbox: inbox.buffer, port: port2, words }, [port2]);
    await echo.online;
    const reader = new RingReader(inbox);
    const writer = new RingWriter(outbox, noop);
    const waker = makeWaker(kind, 0, { port: port1, words }, reader);
    const ping = (): Promise<void> => new Promise<void>((resolve) => {
      const check = (): void => {
        if (reader.read(noop, 1) === 1) return resolve();
        if (!waker.sleep(check)) check();
      };
      writer.write(record, true);
      waker.signal();
      check();
    });
    const close = async (): Promise<void> => {
      outbox.close();
      waker.signal();
      await echo.exited;
      waker.close();
      inbox.close();
    };
    return { kind, ping, close, times: [] as number[] };
  }));
  for (let i = 0; i < RTT_WARMUP + RTT_SAMPLES; i++) {
    for (const side of sides) {
      if (i >= RTT_WARMUP) await new Promise((resolve) => setTimeout(resolve, RTT_GAP * 1000));
      const sentAt = performance.now();
      await side.ping();
      if (i >= RTT_WARMUP) side.times.push((performance.now() - sentAt) / 1000);
    }
  }
  for (const side of sides) await side.close();
  return new Map(sides.map((side) => [side.kind, percentiles(side.times)]));
}

function percentiles(values: number[]): Percentiles {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { p50: at(0.5), p99: at(0.99) };
}

function spawn(data: Role, transferList: MessagePort[] = []) {
  const worker = new Worker(SELF, { workerData: data, transferList });
  worker.on('error', (err) => {
    console.error(err);
    process.exitCode = 1;
  });
  return {
    online: new Promise<void>((resolve) => worker.once('online', resolve)),
    message: new Promise<unknown[]>((resolve) => worker.once('message', (m) => resolve([m]))),
    exited: new Promise<void>((resolve) => worker.once('exit', () => resolve())),
  };
}

// --------------------------------------------------------- worker threads

async function worker(data: Role): Promise<void> {
  switch (data.role) {
    case 'ring-producer': {
      const ref = LoopRef.from(data.ref);
      parentPort!.postMessage('ready');
      for (let round = 1; round <= data.rounds; round++) {
        awaitRound(data.go, round);
        sendByRing(ref, messagesIn(round, data.count));
      }
      return;
    }
    case 'port-producer': {
      parentPort!.postMessage('ready');
      for (let round = 1; round <= data.rounds; round++) {
        awaitRound(data.go, round);
        sendByPort(data.port, messagesIn(round, data.count));
      }
      data.port.close();
      return;
    }
    case 'echo-loop': {
      const main = LoopRef.from(data.main);
      const loop = newEventLoop();
      loop.register('ping', () => main.callSoonThreadsafe('pong'));
      loop.register('echo', () => 'pong');
      loop.register('stop', () => loop.stop());
      data.port.on('message', (m) => loop._callIo(() => data.port.postMessage(m)));
      parentPort!.postMessage(getLoopRef(loop));
      await loop.runForever();
      data.port.close();
      loop.close();
      return;
    }
    case 'raw-echo': {
      const inbox = Ring.from(data.inbox);
      const reader = new RingReader(inbox);
      const writer = new RingWriter(Ring.from(data.outbox), noop);
      const waker = makeWaker(data.kind, 1, data, reader);
      const record = new Uint8Array(16);
      const keepAlive = setInterval(noop, 1 << 30);
      const drain = (): void => {
        while (reader.read(noop, Infinity) > 0) {
          writer.write(record, true);
          waker.signal();
        }
        if (inbox.closed) {
          clearInterval(keepAlive);
          waker.close();
          return;
        }
        if (!waker.sleep(drain)) drain();
      };
      drain();
      return;
    }
  }
}

/** Blocks this producer thread until the main thread starts `round`. */
// The producers' loops live in plain functions: on Node 20, the same loop
// inlined in the async worker() body (compiled on-stack) ran the ring path
// at half the speed it reaches in a function of its own, or on Node 26.
function sendByRing(ref: LoopRef, count: number): void {
  for (let i = 0; i < count; i++) ref.callSoonThreadsafe('m', i, 1.5, 2.5);
}

function sendByPort(port: MessagePort, count: number): void {
  for (let i = 0; i < count; i++) port.postMessage(['m', i, 1.5, 2.5]);
}

function awaitRound(go: SharedArrayBuffer, round: number): void {
  const word = new Int32Array(go);
  for (let seen = Atomics.load(word, 0); seen < round; seen = Atomics.load(word, 0)) Atomics.wait(word, 0, seen);
}

function noop(): void {}

if (isMainThread) await main();
else await worker(workerData as Role);
