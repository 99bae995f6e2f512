import test from 'ava';

// One loop runs per thread at a time, so these tests run one after another.
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { CancelledError, EventLoop, Future, Handle, LoopRef, RingClosedError, RuntimeError, getLoopRef, sleep } from '../runtime/index.js';
import { registryOf } from '../runtime/registry.js';
import { encodeCall } from '../shared/messages.js';
import { HEADER_BYTES, Ring, SLEEPING, TAIL, WHOLE } from '../shared/ring.js';
import { loopFor, runOnce } from './helpers/loop.js';

const LOOP_WORKER = new URL('./loopref.worker.js', import.meta.url);
const PRODUCER = new URL('./loopref.producer.js', import.meta.url);

interface ProducerJob {
  name: string;
  producer: number;
  count: number;
  idleMs?: number;
  request?: string;
}

/** Starts a loop-less producer thread sending to `loop`; resolves with what it posts (if anything) once it has exited. */
function produce(loop: EventLoop, job: ProducerJob): Promise<unknown> {
  const worker = new Worker(PRODUCER, { workerData: { idleMs: 0, ...job, ref: getLoopRef(loop) } });
  let posted: unknown;
  worker.on('message', (m) => (posted = m));
  return new Promise((resolve, reject) => {
    worker.on('error', reject);
    worker.on('exit', () => resolve(posted));
  });
}

/** Starts a worker running a loop (loopref.worker.ts) that calls back into `loop`; resolves with its LoopRef. */
async function startLoopWorker(loop: EventLoop): Promise<{ ref: LoopRef; worker: Worker; exited: Promise<number> }> {
  const worker = new Worker(LOOP_WORKER, { workerData: getLoopRef(loop) });
  const exited = once(worker, 'exit').then(([code]) => code as number);
  const [data] = (await once(worker, 'message')) as [{ buffer: SharedArrayBuffer }];
  const ref = LoopRef.from(data);
  // What the Runtime's coordinator does when a loop thread ends: close its ring, so callers fail instead of hanging.
  void exited.then(() => Ring.from(ref.buffer).close());
  return { ref, worker, exited };
}

/** A Future of `loop` that `loop.register(name)` settles after `n` calls, with every call's arguments. */
function collect(loop: EventLoop, name: string, n: number) {
  const calls: unknown[][] = [];
  const done = loop.createFuture<unknown[][]>();
  loop.register(name, (...args: unknown[]) => {
    calls.push(args);
    if (calls.length === n) done.setResult(calls);
  });
  return done;
}

test.serial('callSoonThreadsafe from a thread without a loop runs the registered function on the loop with its arguments', async (t) => {
  const loop = loopFor(t);
  const got = collect(loop, 'hit', 3);
  const producer = produce(loop, { name: 'hit', producer: 7, count: 3 });
  t.deepEqual(await loop.runUntilComplete(got), [[7, 0], [7, 1], [7, 2]]);
  await producer;
});

test.serial('callSoonThreadsafe passes each number of arguments, 0 to 5, as that many arguments', async (t) => {
  const loop = loopFor(t);
  const got = collect(loop, 'arity', 6);
  const self = getLoopRef(loop);
  for (let n = 0; n <= 5; n++) self.callSoonThreadsafe('arity', ...Array.from({ length: n }, (_, i) => i * 1.5));
  const calls = await loop.runUntilComplete(got);
  t.deepEqual(calls, [[], [0], [0, 1.5], [0, 1.5, 3], [0, 1.5, 3, 4.5], [0, 1.5, 3, 4.5, 6]]);
});

for (const argc of [2, 5]) {
  test.serial(`an exception from a function called with ${argc} arguments from another thread reaches the exception handler with a Handle of them`, async (t) => {
    const loop = loopFor(t);
    const contexts: Record<string, unknown>[] = [];
    loop.setExceptionHandler((_l, context) => contexts.push(context));
    const error = new Error('boom');
    loop.register('fails', () => {
      throw error;
    });
    const done = loop.createFuture<void>();
    loop.register('done', () => done.setResult());
    const self = getLoopRef(loop);
    self.callSoonThreadsafe('fails', ...Array.from({ length: argc }, (_, i) => i));
    self.callSoonThreadsafe('done');
    await loop.runUntilComplete(done);
    t.is(contexts.length, 1);
    t.is(contexts[0]!.exception, error);
    t.regex(String(contexts[0]!.message), /^Exception in callback/);
    t.true(contexts[0]!.handle instanceof Handle);
    t.deepEqual((contexts[0]!.handle as Handle)._args, Array.from({ length: argc }, (_, i) => i));
  });
}

test.serial('an async function called from another thread that rejects reaches the exception handler with a Handle', async (t) => {
  const loop = loopFor(t);
  const error = new Error('async boom');
  const reported = loop.createFuture<Record<string, unknown>>();
  loop.setExceptionHandler((_l, context) => reported.setResult(context));
  loop.register('failsLater', async (_n: number) => {
    await sleep(0);
    throw error;
  });
  getLoopRef(loop).callSoonThreadsafe('failsLater', 3);
  const context = await loop.runUntilComplete(reported);
  t.is(context.exception, error);
  t.regex(String(context.message), /^Exception in callback/);
  t.deepEqual((context.handle as Handle)._args, [3]);
});

test.serial('4 producer threads × 100,000 messages into one loop with a 4 KiB ring: each delivered once, producer order kept', async (t) => {
  const loop = loopFor(t);
  registryOf(loop, Ring.create(4096));
  const next = [0, 0, 0, 0];
  const errors: string[] = [];
  let total = 0;
  const done = loop.createFuture<void>();
  loop.register('msg', (producer: number, seq: number) => {
    if (seq !== next[producer]) errors.push(`producer ${producer}: got ${seq}, expected ${next[producer]}`);
    next[producer] = seq + 1;
    if (++total === 400_000) done.setResult();
  });
  const producers = [0, 1, 2, 3].map((producer) => produce(loop, { name: 'msg', producer, count: 100_000 }));
  await loop.runUntilComplete(done);
  await Promise.all(producers);
  t.deepEqual(errors.slice(0, 5), []);
  t.deepEqual(next, [100_000, 100_000, 100_000, 100_000]);
});

test.serial('a message larger than the ring arrives whole and in order with the messages around it', async (t) => {
  const loop = loopFor(t);
  registryOf(loop, Ring.create(4096));
  const big = new Uint8Array(1 << 20).map((_, i) => (i * 7) & 0xff);
  const got = collect(loop, 'take', 3);
  const ref = getLoopRef(loop);
  // This thread consumes the ring, so these spill to the writer's overflow queue and flow as the loop drains.
  ref.callSoonThreadsafe('take', 'before');
  ref.callSoonThreadsafe('take', big);
  ref.callSoonThreadsafe('take', 'after');
  const [[first], [second], [third]] = (await loop.runUntilComplete(got)) as [[string], [Uint8Array], [string]];
  t.is(first, 'before');
  t.is(Buffer.compare(second, big), 0);
  t.is(third, 'after');
});

test.serial('calls that overflow a ring keep their order whether written in place or encoded', async (t) => {
  const loop = loopFor(t);
  registryOf(loop, Ring.create(4096));
  const count = 2100;
  const got = collect(loop, 'seq', count);
  const ref = getLoopRef(loop);
  const send = (from: number, to: number): void => {
    for (let i = from; i < to; i++) {
      if (i % 7 === 0) ref.callSoonThreadsafe('seq', i, `seven ${i}`);
      else ref.callSoonThreadsafe('seq', i);
    }
  };
  // Small calls of numbers go in place, the others through the encoder. The first batch
  // overflows the ring into this thread's overflow queue; the loop then drains the ring, and
  // the second batch finds room in it, yet must queue behind the overflow.
  loop.callSoon(() => {
    send(0, 2000);
    loop.callSoon(() => send(2000, count));
  });
  const calls = await loop.runUntilComplete(got);
  t.deepEqual(calls.map(([i]) => i), Array.from({ length: count }, (_, i) => i));
  t.deepEqual(calls[7], [7, 'seven 7']);
});

test.serial('an idle loop is woken by one message from another thread', async (t) => {
  const loop = loopFor(t);
  const got = collect(loop, 'ping', 1);
  const producer = produce(loop, { name: 'ping', producer: 0, count: 0, idleMs: 1000 });
  const [[, sentAt]] = (await loop.runUntilComplete(got)) as [[number, number]];
  const latencyMs = performance.timeOrigin + performance.now() - sentAt;
  await producer;
  t.true(latencyMs < 100, `woken ${latencyMs.toFixed(2)} ms after the send`);
});

test.serial('a flood from other threads does not starve a timer on the target loop', async (t) => {
  const loop = loopFor(t);
  const total = 2 * 400_000;
  let received = 0;
  let receivedAtTimer = 0;
  let lateness = Infinity;
  const done = loop.createFuture<void>();
  const finishIfDone = (): void => {
    if (received === total && receivedAtTimer > 0 && !done.done()) done.setResult();
  };
  loop.register('flood', () => {
    // The timer is set once the flood is underway, 50 ms ahead.
    if (++received === 1) {
      const when = loop.time() + 0.05;
      loop.callAt(when, () => {
        lateness = loop.time() - when;
        receivedAtTimer = received;
        finishIfDone();
      });
    }
    finishIfDone();
  });
  const producers = [0, 1].map((producer) => produce(loop, { name: 'flood', producer, count: total / 2 }));
  await loop.runUntilComplete(done);
  await Promise.all(producers);
  t.true(receivedAtTimer < total, `the flood was still coming when the timer fired (${receivedAtTimer} of ${total} received)`);
  t.true(lateness < 0.1, `timer ${(lateness * 1000).toFixed(1)} ms late`);
});

test.serial('call across loops settles a Future of the caller loop with the result, sync or async', async (t) => {
  const loop = loopFor(t);
  const { ref, exited } = await startLoopWorker(loop);
  const results = await loop.runUntilComplete(async () => {
    const sum = ref.call('add', 2, 3);
    t.true(sum instanceof Future);
    return [await sum, await ref.call('addLater', 4, 5)];
  });
  t.deepEqual(results, [5, 9]);
  ref.callSoonThreadsafe('stop');
  t.is(await exited, 0);
});

test.serial('call across loops fails the Future with the exception the function raised', async (t) => {
  const loop = loopFor(t);
  const { ref, exited } = await startLoopWorker(loop);
  const error = await loop.runUntilComplete(async () => ref.call('fail', 'bad input').then(() => null, (e: unknown) => e));
  t.true(error instanceof TypeError);
  t.is((error as Error).message, 'bad input');
  ref.callSoonThreadsafe('stop');
  await exited;
});

test.serial('call of a function whose result ends cancelled cancels the caller Future, with the message', async (t) => {
  const loop = loopFor(t);
  const { ref, exited } = await startLoopWorker(loop);
  const [cancelled, error] = await loop.runUntilComplete(async () => {
    const result = ref.call('cancelled', 'gave up') as Future<unknown>;
    const outcome = await result.then(() => null, (e: unknown) => e);
    return [result.cancelled(), outcome] as const;
  });
  t.true(cancelled);
  t.true(error instanceof CancelledError);
  t.is((error as Error).message, 'gave up');
  ref.callSoonThreadsafe('stop');
  await exited;
});

test.serial('a call() request counts as a callback the loop ran, as callSoonThreadsafe does', async (t) => {
  const loop = loopFor(t);
  let ran = loop.createFuture<void>();
  loop.register('answer', () => {
    ran.setResult();
    return 42;
  });
  const self = getLoopRef(loop);
  /** Callbacks the loop runs until 'answer' has run once, sent by `send`. */
  const counted = async (send: () => unknown): Promise<number> => {
    ran = loop.createFuture<void>();
    const before = loop._callbacksRun();
    send();
    await loop.runUntilComplete(ran);
    return loop._callbacksRun() - before;
  };
  // From outside a running loop call() answers through a Promise: no callback of this loop settles it.
  const byCall = await counted(() => self.call('answer'));
  const bySoon = await counted(() => self.callSoonThreadsafe('answer'));
  t.is(byCall, bySoon);
});

test.serial('cancelling the Future of a call cancels the Future the function returned on the target loop', async (t) => {
  const loop = loopFor(t);
  const reported = collect(loop, 'reported', 1);
  const { ref, exited } = await startLoopWorker(loop);
  const cancelledHere = await loop.runUntilComplete(async () => {
    const result = ref.call('waitForever') as Future<unknown>;
    // Once the request has surely started there: a round trip through the same ring comes after it.
    await ref.call('add', 1, 2);
    result.cancel();
    return result.cancelled();
  });
  t.true(cancelledHere);
  t.deepEqual(await loop.runUntilComplete(reported), [['cancelled there']]);
  ref.callSoonThreadsafe('stop');
  await exited;
});

test.serial('call of an unknown name fails the caller and reaches the target loop exception handler', async (t) => {
  const loop = loopFor(t);
  const reported = collect(loop, 'reported', 1);
  const { ref, exited } = await startLoopWorker(loop);
  const error = await loop.runUntilComplete(async () => ref.call('nope').then(() => null, (e: unknown) => e));
  t.true(error instanceof RuntimeError);
  t.regex((error as Error).message, /no function registered as 'nope'/);
  const [[message]] = (await loop.runUntilComplete(reported)) as [[string]];
  t.regex(message, /no function registered as 'nope'/);
  ref.callSoonThreadsafe('stop');
  await exited;
});

test.serial('callSoonThreadsafe of an unknown name reaches the target loop exception handler', async (t) => {
  const loop = loopFor(t);
  const reports: string[] = [];
  loop.setExceptionHandler((_l, context) => reports.push(context.message));
  const self = getLoopRef(loop);
  await loop.runUntilComplete(async () => {
    self.callSoonThreadsafe('missing', 1);
    await self.call('missing').then(() => null, () => null);
  });
  loop.close();
  t.is(reports.length, 2);
  t.regex(reports[0]!, /callSoonThreadsafe from another thread: no function registered as 'missing'/);
});

test.serial('a target loop that dies mid-request fails the caller with RingClosedError instead of hanging', async (t) => {
  const loop = loopFor(t);
  const { ref, exited } = await startLoopWorker(loop);
  const error = await loop.runUntilComplete(async () => ref.call('die').then(() => null, (e: unknown) => e));
  t.true(error instanceof RingClosedError);
  t.is(await exited, 3);
  t.true(ref.closed);
  t.throws(() => ref.callSoonThreadsafe('add', 1, 2), { instanceOf: RingClosedError });
});

test.serial('a loop can call a loop that calls it back (each introduces its reply ring)', async (t) => {
  const loop = loopFor(t);
  loop.register('double', (n: number) => n * 2);
  const { ref, exited } = await startLoopWorker(loop);
  t.is(await loop.runUntilComplete(async () => ref.call('askParent', 21)), 42);
  ref.callSoonThreadsafe('stop');
  await exited;
});

test.serial('call from a thread without a loop returns a Promise settled with the result', async (t) => {
  const loop = loopFor(t);
  loop.register('add', (a: number, b: number) => a + b);
  loop.register('noop', () => {});
  const producer = produce(loop, { name: 'noop', producer: 0, count: 0, request: 'add' });
  const stopWhenDone = producer.then(() => loop.stop());
  await loop.runForever();
  await stopWhenDone;
  t.deepEqual(await producer, { value: 42 });
});

test.serial('a LoopRef survives postMessage and is revived by LoopRef.from', async (t) => {
  const loop = loopFor(t);
  const ref = getLoopRef(loop);
  const copy = structuredClone(ref) as unknown;
  t.deepEqual(Object.keys(copy as object), ['buffer']);
  const revived = LoopRef.from(copy as { buffer: SharedArrayBuffer });
  t.is(revived.id, ref.id);
  loop.close();
  t.true(revived.closed);
});

test.serial('LoopRef methods name a bad argument', (t) => {
  const loop = loopFor(t);
  const ref = getLoopRef(loop);
  t.throws(() => ref.callSoonThreadsafe(''), { instanceOf: TypeError, message: /name/ });
  // The same bad name again, and after a good one: the small-call writer remembers names, valid or not.
  ref.callSoonThreadsafe('f', 1);
  for (let i = 0; i < 2; i++) t.throws(() => ref.callSoonThreadsafe(42 as unknown as string, 1), { instanceOf: TypeError, message: /name must be a non-empty string, got number/ });
  t.throws(() => ref.callSoonThreadsafe('f', () => 1), { instanceOf: TypeError, message: /argument 1 cannot be sent/ });
  t.throws(() => ref.call('f', 1, Symbol('x')), { instanceOf: TypeError, message: /argument 2 cannot be sent/ });
  t.throws(() => LoopRef.from({} as { buffer: SharedArrayBuffer }), { instanceOf: TypeError, message: /data/ });
  t.throws(() => loop.register('', () => 0), { instanceOf: TypeError, message: /name/ });
  t.throws(() => loop.register('f', 1 as unknown as () => void), { instanceOf: TypeError, message: /fn/ });
});

test.serial('closing a loop fails its pending calls with RuntimeError and closes its LoopRefs', async (t) => {
  const loop = loopFor(t);
  const self = getLoopRef(loop);
  const started = loop.createFuture<void>();
  loop.register('never', () => {
    started.setResult();
    return loop.createFuture();
  });
  let pending!: Future<unknown>;
  await loop.runUntilComplete(async () => {
    pending = self.call('never') as Future<unknown>;
    await started;
  });
  loop.close();
  t.true(pending.done());
  t.true(pending.exception() instanceof RuntimeError);
  t.true(self.closed);
  t.throws(() => self.callSoonThreadsafe('never'), { instanceOf: RingClosedError });
});

test.serial('call from a thread whose loop is not running returns a Promise, failed when the target closes', async (t) => {
  const loop = loopFor(t);
  const started = loop.createFuture<void>();
  loop.register('never', () => {
    started.setResult();
    return loop.createFuture();
  });
  const pending = getLoopRef(loop).call('never');
  t.true(pending instanceof Promise);
  await loop.runUntilComplete(started);
  loop.close();
  await t.throwsAsync(Promise.resolve(pending), { instanceOf: RingClosedError });
});

test.serial('unregister forgets a name', (t) => {
  const loop = loopFor(t);
  loop.register('f', () => 1);
  t.true(loop.unregister('f'));
  t.false(loop.unregister('f'));
  loop.close();
  t.throws(() => loop.register('g', () => 1), { instanceOf: RuntimeError });
});

test.serial('a name registered again takes the calls that follow, small calls included; an unregistered name is reported', async (t) => {
  const loop = loopFor(t);
  const self = getLoopRef(loop);
  const seen: string[] = [];
  loop.setExceptionHandler((_loop, context) => seen.push(context.message));
  loop.register('f', (n: number) => seen.push(`first ${n}`));
  self.callSoonThreadsafe('f', 1);
  await runOnce(loop);
  loop.register('f', (n: number) => seen.push(`second ${n}`));
  self.callSoonThreadsafe('f', 2);
  await runOnce(loop);
  loop.unregister('f');
  self.callSoonThreadsafe('f', 3);
  await runOnce(loop);
  t.deepEqual(seen, ['first 1', 'second 2', "callSoonThreadsafe from another thread: no function registered as 'f'"]);
});

test.serial('a call published after the loop caught up with its producer mid-write is delivered: after one gap the loop sleeps on it', async (t) => {
  const loop = loopFor(t);
  const got = collect(loop, 'm', 2);
  const self = getLoopRef(loop);
  const ring = Ring.from(self.buffer);
  self.callSoonThreadsafe('m', 1);
  // A second call reserved but not yet published, as a producer thread leaves it while it writes
  // (the ring's protocol by hand: claim room at TAIL, fill it, publish the header later).
  const record = encodeCall('test', 'm', [2]).bytes().slice();
  const size = 4 + ((record.byteLength + 3) & ~3);
  const at = (Atomics.add(ring.words, TAIL, size) & (ring.capacity - 1)) + 4;
  ring.bytes.set(record, at);
  const slot = HEADER_BYTES / 4 + ((at - 4) >> 2);
  const calls = await loop.runUntilComplete(async () => {
    for (let i = 0; i < 1000 && Atomics.load(ring.words, slot) !== SLEEPING; i++) await sleep(0.001);
    t.is(Atomics.load(ring.words, slot), SLEEPING, 'the loop sleeps on the record being written');
    if (Atomics.exchange(ring.words, slot, (record.byteLength << 2) | WHOLE) === SLEEPING) ring.wake.ring();
    return got;
  });
  t.deepEqual(calls, [[1], [2]]);
});
