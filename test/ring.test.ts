import test from 'ava';
import { Worker } from 'node:worker_threads';
import { Decoder, Encoder } from '../shared/codec.js';
import { Ring, RingClosedError, SPINNER, WAITERS } from '../shared/ring.js';
import { RingReader } from '../shared/ring_reader.js';
import { RingWriter } from '../shared/ring_writer.js';
import { fillerFor, type ProducerJob, type ProducerReport } from './ring.fixture.js';

const WORKER = new URL('./ring.worker.js', import.meta.url);

/** Runs a producer thread; resolves with its reports once it has exited. */
function produce(job: ProducerJob, onReport: (r: ProducerReport) => void = () => {}): Promise<ProducerReport[]> {
  const reports: ProducerReport[] = [];
  const worker = new Worker(WORKER, { workerData: job });
  worker.on('message', (r: ProducerReport) => {
    reports.push(r);
    onReport(r);
  });
  return new Promise((resolve, reject) => {
    worker.on('error', reject);
    worker.on('exit', () => resolve(reports));
  });
}

/**
 * Consumes `ring` on this thread the way a loop does (drain, then sleep
 * until rung unless a record already waits), passing each record's decoder to `onRecord`, until
 * `done()` says so.
 */
function consume(ring: Ring, onRecord: (decoder: Decoder) => void, done: () => boolean): Promise<void> {
  const reader = new RingReader(ring);
  const ringDecoder = new Decoder(ring.bytes);
  const visit = (bytes: Uint8Array, start: number): void => {
    const decoder = bytes === ring.bytes ? ringDecoder : new Decoder(bytes);
    decoder.pos = start;
    onRecord(decoder);
  };
  return new Promise((resolve) => {
    const pump = (): void => {
      do reader.read(visit, 1024);
      while (reader.hasRecords());
      if (done()) return resolve();
      if (!reader.sleep(pump)) setImmediate(pump);
    };
    pump();
  });
}

/** Checks every record of `producers` producers: exactly once, in order, fillers intact. */
function orderChecker(producers: number, capacity: number, filler: boolean) {
  const next = new Array<number>(producers).fill(0);
  const errors: string[] = [];
  let total = 0;
  return {
    next,
    errors,
    total: () => total,
    onRecord(decoder: Decoder): void {
      const producer = decoder.readValue() as number;
      const seq = decoder.readValue() as number;
      if (seq !== next[producer]) errors.push(`producer ${producer}: got ${seq}, expected ${next[producer]}`);
      next[producer] = seq + 1;
      total++;
      if (filler) {
        const got = decoder.readValue() as Uint8Array;
        if (Buffer.compare(got, fillerFor(producer, seq, capacity)) !== 0) errors.push(`producer ${producer} seq ${seq}: filler differs`);
      }
    },
  };
}

async function manyProducers(mayBlock: boolean, producers: number, count: number, capacity: number, filler: boolean) {
  const ring = Ring.create(capacity);
  const check = orderChecker(producers, capacity, filler);
  const consumed = consume(ring, check.onRecord, () => check.total() === producers * count || check.errors.length > 0);
  const jobs = Array.from({ length: producers }, (_, producer) => produce({ buffer: ring.buffer, producer, count, mayBlock, filler }));
  await consumed;
  const reports = (await Promise.all(jobs)).flat();
  ring.close();
  return { check, reports };
}

test('4 blocking producers × 100,000 records through a 4 KiB ring: each delivered once, in producer order', async (t) => {
  const { check, reports } = await manyProducers(true, 4, 100_000, 4096, false);
  t.deepEqual(check.errors, []);
  t.deepEqual(check.next, [100_000, 100_000, 100_000, 100_000]);
  t.true(reports.every((r) => 'done' in r));
});

test('4 spilling producers × 100,000 records through a 4 KiB ring: each delivered once, in producer order', async (t) => {
  const { check, reports } = await manyProducers(false, 4, 100_000, 4096, false);
  t.deepEqual(check.errors, []);
  t.deepEqual(check.next, [100_000, 100_000, 100_000, 100_000]);
  t.true(reports.some((r) => 'spilled' in r && r.spilled > 0), 'the ring filled, so some records were spilled');
});

test('records from empty to three rings long arrive whole and in order, blocking or spilling', async (t) => {
  const capacity = 1024;
  const ring = Ring.create(capacity);
  const check = orderChecker(2, capacity, true);
  const consumed = consume(ring, check.onRecord, () => check.total() === 2 * 400 || check.errors.length > 0);
  const jobs = [true, false].map((mayBlock, producer) => produce({ buffer: ring.buffer, producer, count: 400, mayBlock, filler: true }));
  await consumed;
  await Promise.all(jobs);
  ring.close();
  t.deepEqual(check.errors, []);
  t.deepEqual(check.next, [400, 400]);
});

test('a blocking producer on a full ring fails with RingClosedError when the ring closes', async (t) => {
  const ring = Ring.create(256);
  const reports = produce({ buffer: ring.buffer, producer: 0, count: 1_000_000, mayBlock: true, filler: false });
  ring.close();
  t.deepEqual(await reports, [{ error: 'RingClosedError' }]);
});

test('records a spilling producer still holds when the ring closes are reported as discarded', async (t) => {
  const ring = Ring.create(256);
  let closed = false;
  const reports = await produce({ buffer: ring.buffer, producer: 0, count: 1000, mayBlock: false, filler: false }, (r) => {
    if ('done' in r && !closed) {
      closed = true;
      ring.close();
    }
  });
  const done = reports[0] as { done: true; spilled: number };
  t.true(done.spilled > 0);
  t.like(reports[1], { discarded: done.spilled });
});

/** Resolves once `condition()` holds, looking every millisecond. */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 1));
}

// Serial: it times wake-ups against this thread's timers, which the other tests' consumers would delay.
test.serial('a producer asleep on a full ring wakes at notifyProducers, not at the end of its sleep slice', async (t) => {
  const ring = Ring.create(256);
  t.teardown(() => ring.close());
  const reader = new RingReader(ring);
  const reports = produce({ buffer: ring.buffer, producer: 0, count: 1_000_000, mayBlock: true, filler: false });
  const producersAsleep = (): number => Atomics.load(ring.words, WAITERS);
  // Each time, the producer has just begun a 50 ms sleep: without the notification it would wake ~50 ms later.
  for (let i = 0; i < 5; i++) {
    await until(() => producersAsleep() === 1);
    t.is(reader.read(() => {}, 1), 1);
    const depth = ring.depth();
    const notifiedAt = performance.now();
    reader.notifyProducers();
    await until(() => ring.depth() > depth);
    const elapsed = performance.now() - notifiedAt;
    t.true(elapsed < 25, `woke after ${elapsed.toFixed(1)} ms`);
  }
  ring.close();
  t.deepEqual(await reports, [{ error: 'RingClosedError' }]);
});

/**
 * Sets the ring's spinner claim to `claim`, runs a blocking producer into
 * the full ring until it sleeps (it spins first, if it may), closes the
 * ring, and returns the claim once the producer has ended.
 */
async function claimAfterBlockedProducer(claim: number): Promise<number> {
  const ring = Ring.create(256);
  Atomics.store(ring.words, SPINNER, claim);
  const reports = produce({ buffer: ring.buffer, producer: 0, count: 1_000, mayBlock: true, filler: false });
  await until(() => Atomics.load(ring.words, WAITERS) === 1);
  ring.close();
  await reports;
  return Atomics.load(ring.words, SPINNER);
}

test('a spinner claim left by a thread that ended mid-spin lapses: the next blocked producer takes it over and releases it', async (t) => {
  t.is(await claimAfterBlockedProducer((Date.now() - 60_000) | 0), 0);
});

test('a live spinner claim is left alone: a blocked producer sleeps without spinning', async (t) => {
  const claim = (Date.now() + 60_000) | 0;
  t.is(await claimAfterBlockedProducer(claim), claim);
});

test('writing into a closed ring throws RingClosedError', (t) => {
  const ring = Ring.create(256);
  ring.close();
  const writer = new RingWriter(ring, () => t.fail());
  t.throws(() => writer.write(new Uint8Array(4), true), { instanceOf: RingClosedError });
});

test('a full ring consumed by this very thread spills instead of blocking, even when blocking is allowed', (t) => {
  const ring = Ring.create(256);
  const reader = new RingReader(ring);
  const writer = new RingWriter(ring, () => {});
  for (let i = 0; i < 100; i++) writer.write(new Uint8Array(16).fill(i), true);
  t.true(writer.spilled > 0);
  const firsts: number[] = [];
  reader.read((bytes, start) => firsts.push(bytes[start]!), 1000);
  t.deepEqual(firsts, Array.from({ length: firsts.length }, (_, i) => i));
  ring.close();
});

test('flushed() settles once a spilling writer has written its whole overflow queue, in order', async (t) => {
  const ring = Ring.create(256);
  const reader = new RingReader(ring);
  const writer = new RingWriter(ring, () => t.fail());
  for (let i = 0; i < 100; i++) writer.write(new Uint8Array(16).fill(i), false);
  t.true(writer.spilled > 0);
  let flushed = false;
  void writer.flushed().then(() => (flushed = true));
  const firsts: number[] = [];
  const take = (bytes: Uint8Array, start: number): void => void firsts.push(bytes[start]!);
  // This thread is the consumer too: read, then let the writer's wait for space end.
  while (!flushed) {
    reader.read(take, Infinity);
    await new Promise((resolve) => setImmediate(resolve));
  }
  reader.read(take, Infinity);
  t.deepEqual(firsts, Array.from({ length: 100 }, (_, i) => i));
  ring.close();
});

test('one wake-up for a burst of records into an idle consumer', async (t) => {
  const ring = Ring.create(4096);
  const reader = new RingReader(ring);
  const writer = new RingWriter(ring, () => {});
  let asleep = false;
  const woken = new Promise<void>((resolve) => (asleep = reader.sleep(resolve)));
  t.true(asleep);
  const before = ring.wake.epoch();
  const encoder = new Encoder();
  for (let i = 0; i < 50; i++) {
    encoder.reset();
    encoder.writeValue(i);
    writer.write(encoder.bytes(), false);
  }
  await woken;
  t.is(ring.wake.epoch() - before, 1);
  t.is(reader.read(() => {}, 1000), 50);
  ring.close();
  ring.wake.release();
});

test('a consumer with a record waiting is refused sleep, and no wake-up is sent for it', async (t) => {
  const ring = Ring.create(4096);
  const reader = new RingReader(ring);
  const writer = new RingWriter(ring, () => {});
  writer.write(new Uint8Array(8).fill(1), false);
  const before = ring.wake.epoch();
  t.false(reader.sleep(() => t.fail('woken for a record it was told about')));
  writer.write(new Uint8Array(8).fill(2), false);
  t.is(ring.wake.epoch(), before);
  t.is(reader.read(() => {}, 10), 2);
  // Now empty: sleep is granted, and the next record rings once.
  const woken = new Promise<void>((resolve) => t.true(reader.sleep(resolve)));
  writer.write(new Uint8Array(8).fill(3), false);
  await woken;
  t.is(ring.wake.epoch(), before + 1);
  ring.close();
  ring.wake.release();
});

test('a ring filled to its last byte is read in one batch, each record once', (t) => {
  const ring = Ring.create(256);
  const reader = new RingReader(ring);
  const writer = new RingWriter(ring, () => t.fail());
  const got: number[] = [];
  for (let lap = 0; lap < 3; lap++) {
    // 16 records of 4 + 12 bytes fill the 256 bytes exactly; the reader must stop after the lap, not read its first record again.
    for (let i = 0; i < 16; i++) writer.write(new Uint8Array(12).fill(lap * 16 + i), false);
    t.is(writer.spilled, 0);
    t.is(reader.read((bytes, start) => void got.push(bytes[start]!), Infinity), 16);
  }
  t.deepEqual(got, Array.from({ length: 48 }, (_, i) => i));
  ring.close();
});

test('byte positions wrap past 2^32 without losing or reordering a record', (t) => {
  const ring = Ring.create(256);
  // White box: HEAD and TAIL are header words 0 and 16 (ring.ts). Start them 40 bytes short of the uint32 wrap.
  ring.words[0] = ring.words[16] = -40;
  const reader = new RingReader(ring);
  const writer = new RingWriter(ring, () => t.fail());
  const got: number[] = [];
  for (let i = 0; i < 200; i++) {
    writer.write(new Uint8Array(20).fill(i & 0xff), true);
    reader.read((bytes, start) => void got.push(bytes[start]!), Infinity);
  }
  t.deepEqual(got, Array.from({ length: 200 }, (_, i) => i & 0xff));
  t.true(ring.words[0]! > 0, 'HEAD went past the wrap');
  t.is(ring.words[18], 1, 'LAPS (word 18) counted the wrap, once');
  ring.close();
});

test('a writer that last looked at the ring 4 GiB of traffic ago takes a full ring for full: it spills, nothing is overwritten', async (t) => {
  const ring = Ring.create(256);
  const stale = new RingWriter(ring, () => t.fail());
  stale.write(new Uint8Array(12).fill(99), false);
  new RingReader(ring).read(() => {}, Infinity);
  // White box (HEAD, TAIL, LAPS are header words 0, 16, 18): 4 GiB later, positions having wrapped at 2^32, the empty
  // ring stands 64 bytes before where it stood, and its consumer has counted the wrap; the writer has written nothing since. Then others fill the ring.
  ring.words[0] = ring.words[16] = (ring.words[0]! - 64) | 0;
  ring.words[18]!++;
  const reader = new RingReader(ring);
  const other = new RingWriter(ring, () => t.fail());
  for (let i = 0; i < 16; i++) other.write(new Uint8Array(12).fill(i), false);
  t.is(other.spilled, 0, 'the ring is full');
  stale.write(new Uint8Array(12).fill(16), false);
  t.is(stale.spilled, 1, 'the stale writer waits for room');
  const got: number[] = [];
  reader.read((bytes, start) => void got.push(bytes[start]!), Infinity);
  await stale.flushed();
  reader.read((bytes, start) => void got.push(bytes[start]!), Infinity);
  t.deepEqual(got, Array.from({ length: 17 }, (_, i) => i));
  ring.close();
});

test('Ring.create rejects a capacity that is not a power of two in range, naming it', (t) => {
  t.throws(() => Ring.create(1000), { instanceOf: RangeError, message: /capacity/ });
  t.throws(() => Ring.create(128), { instanceOf: RangeError, message: /capacity/ });
});

test('Ring.from rejects a buffer that is not a ring, naming it', (t) => {
  t.throws(() => Ring.from(new SharedArrayBuffer(64)), { instanceOf: TypeError, message: /buffer/ });
  t.throws(() => Ring.from(new ArrayBuffer(4096) as unknown as SharedArrayBuffer), { instanceOf: TypeError, message: /buffer/ });
});

test('a ring revived from its buffer is the same ring', (t) => {
  const ring = Ring.create(512);
  const again = Ring.from(ring.buffer);
  t.is(again.id, ring.id);
  t.is(again.capacity, 512);
});
