import test from 'ava';
import fc from 'fast-check';
import { CallInPlaceReader, CallInPlaceWriter } from '../shared/call_in_place.js';
import { encodeCall, encodeRequest } from '../shared/messages.js';
import { Ring } from '../shared/ring.js';
import { RingReader } from '../shared/ring_reader.js';
import { RingWriter } from '../shared/ring_writer.js';

/** The records now in `ring`, each as its own bytes. */
function records(ring: Ring): Uint8Array[] {
  const out: Uint8Array[] = [];
  new RingReader(ring).read((bytes, start, end) => out.push(bytes.slice(start, end)), Infinity);
  return out;
}

const scalar = fc.oneof(fc.constant(undefined), fc.constant(null), fc.boolean(), fc.integer(), fc.double());
const shortAsciiName = fc.string({ unit: fc.integer({ min: 0, max: 0x7f }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 32 });

test('a small call of scalars written in place has the bytes encodeCall makes (property)', (t) => {
  t.notThrows(() => fc.assert(fc.property(shortAsciiName, fc.array(scalar, { maxLength: 3 }), (name, args) => {
    const ring = Ring.create(4096);
    const written = new CallInPlaceWriter(new RingWriter(ring, () => {})).write(name, args);
    const [record] = records(ring);
    const expected = encodeCall('test', name, args).bytes();
    return written && record !== undefined && Buffer.compare(record, expected) === 0;
  }), { numRuns: 500 }));
});

test('a call that is not small and simple is left to the encoder: nothing is written in place', (t) => {
  const ring = Ring.create(4096);
  const writer = new CallInPlaceWriter(new RingWriter(ring, () => {}));
  t.false(writer.write('name', [1, 2, 3, 4]), 'four arguments');
  t.false(writer.write('name', ['a string']), 'a string argument');
  t.false(writer.write('name', [{}]), 'an object argument');
  t.false(writer.write('name', [1n]), 'a bigint argument');
  t.false(writer.write('naïve', [1]), 'a name that is not ASCII');
  t.false(writer.write('n'.repeat(33), [1]), 'a name of 33 characters');
  t.deepEqual(records(ring), []);
});

test('a call is not written in place into a full ring, a closed ring, or behind spilled records', (t) => {
  const ring = Ring.create(256);
  const reader = new RingReader(ring);
  const writer = new RingWriter(ring, () => {});
  const calls = new CallInPlaceWriter(writer);
  const args = [1.5, 2.5]; // 32-byte records, which tile the buffer: no refusal here is the end of the buffer's
  let written = 0;
  while (calls.write('fill', args)) written++;
  t.true(written > 0);
  t.false(calls.write('fill', args), 'full');
  // The ring's own consumer thread spills instead of blocking: the record now waits in the overflow queue.
  writer.write(encodeCall('test', 'fill', args).bytes(), true);
  t.is(writer.spilled, 1);
  reader.read(() => {}, Infinity);
  t.false(calls.write('fill', args), 'spilled records go first');
  ring.close();
  t.false(new CallInPlaceWriter(new RingWriter(ring, () => {})).write('fill', args), 'closed');
});

test('one writer given many names, valid or not, writes each valid one in place with its own bytes (property)', (t) => {
  const name = fc.oneof(shortAsciiName, fc.constantFrom('', 'naïve', 'n'.repeat(33)));
  t.notThrows(() => fc.assert(fc.property(fc.array(fc.tuple(name, fc.array(scalar, { maxLength: 3 })), { minLength: 1, maxLength: 20 }), (calls) => {
    const ring = Ring.create(4096);
    const writer = new CallInPlaceWriter(new RingWriter(ring, () => {}));
    const small = calls.filter(([n]) => n !== '' && n !== 'naïve' && n.length <= 32);
    const written = calls.map(([n, args]) => writer.write(n, args));
    const expected = small.map(([n, args]) => Buffer.from(encodeCall('test', n, args).bytes()));
    const got = records(ring);
    return written.filter(Boolean).length === small.length && got.length === expected.length && got.every((r, i) => Buffer.compare(r, expected[i]!) === 0);
  }), { numRuns: 300 }));
});

test('a writer that last looked at the ring 4 GiB of traffic ago takes a full ring for full: nothing is overwritten', (t) => {
  const ring = Ring.create(256);
  const stale = new CallInPlaceWriter(new RingWriter(ring, () => {}));
  const name = 'fill4567'; // with an int and a float: 32-byte records, which tile the buffer
  t.true(stale.write(name, [-1, 0.5]));
  t.is(records(ring).length, 1);
  // White box (HEAD, TAIL, LAPS are header words 0, 16, 18): 4 GiB later, positions having wrapped at 2^32, the empty
  // ring stands 64 bytes before where it stood, and its consumer has counted the wrap; the writer has written nothing since. Then another writer fills the ring.
  ring.words[0] = ring.words[16] = (ring.words[0]! - 64) | 0;
  ring.words[18]!++;
  const other = new CallInPlaceWriter(new RingWriter(ring, () => {}));
  let written = 0;
  while (other.write(name, [written, 0.5])) written++;
  t.is(written, 8, 'the ring is full');
  t.false(stale.write(name, [-1, 0.5]));
  t.deepEqual(records(ring).map((r) => r[12]), Array.from({ length: 8 }, (_, i) => i), 'the int after kind, name, argc and tag');
});

test('a call that would reach past the end of the buffer is left to RingWriter, which pads and delivers it', (t) => {
  const ring = Ring.create(256);
  const reader = new RingReader(ring);
  const writer = new RingWriter(ring, () => {});
  const calls = new CallInPlaceWriter(writer);
  const got: number[] = [];
  // 20-byte records (16-byte payloads) do not divide the 256-byte buffer: one lands on its end.
  let refused = 0;
  for (let i = 0; i < 40; i++) {
    if (!calls.write('tick', [i, 0.5])) {
      refused++;
      writer.write(encodeCall('test', 'tick', [i, 0.5]).bytes(), true);
    }
    reader.read((bytes, start) => got.push(bytes[start + 8]!), Infinity); // the int after kind, name, argc and tag
  }
  t.true(refused > 0, 'the end of the buffer was reached');
  t.deepEqual(got, Array.from({ length: 40 }, (_, i) => i));
});

/** `reader.match` on one record (given as its bytes), and what it read. */
function matchRecord(reader: CallInPlaceReader<string>, record: Uint8Array): { matched: boolean; args: number[] } {
  const matched = reader.match(record, new DataView(record.buffer, record.byteOffset, record.byteLength), 0);
  return { matched, args: [reader.a0, reader.a1, reader.a2].slice(0, reader.argc) };
}

test('a call of the expected name with up to three numbers is read in place, values exact (property)', (t) => {
  const number = fc.oneof(fc.integer(), fc.double(), fc.constantFrom(-0, NaN, Infinity, 2 ** 31, -(2 ** 31)));
  t.notThrows(() => fc.assert(fc.property(shortAsciiName, fc.array(number, { maxLength: 3 }), (name, args) => {
    const reader = new CallInPlaceReader<string>();
    reader.expect(name, 'target');
    const { matched, args: read } = matchRecord(reader, encodeCall('test', name, args).bytes());
    return matched && reader.target === 'target' && read.length === args.length && read.every((v, i) => Object.is(v, args[i]));
  }), { numRuns: 500 }));
});

test('a record the in-place reader does not take is left alone: other name, kind, arguments', (t) => {
  const reader = new CallInPlaceReader<string>();
  reader.expect('tick', 'target');
  t.false(matchRecord(reader, encodeCall('test', 'tock', [1]).bytes()).matched, 'another name of the same length');
  t.false(matchRecord(reader, encodeCall('test', 'ticks', [1]).bytes()).matched, 'a longer name');
  t.false(matchRecord(reader, encodeCall('test', 'tick', [1, 2, 3, 4]).bytes()).matched, 'four arguments');
  t.false(matchRecord(reader, encodeCall('test', 'tick', [1, 'two']).bytes()).matched, 'a string argument');
  t.false(matchRecord(reader, encodeCall('test', 'tick', [true]).bytes()).matched, 'a boolean argument');
  t.false(matchRecord(reader, encodeRequest('test', 'tick', [1], 7, 1).bytes()).matched, 'a request, not a call');
  t.true(matchRecord(reader, encodeCall('test', 'tick', [1]).bytes()).matched, 'the call itself');
});

test('the in-place reader recognises nothing before expect, after forget, or for a name it cannot hold', (t) => {
  const reader = new CallInPlaceReader<string>();
  const call = (name: string): Uint8Array => encodeCall('test', name, [1]).bytes();
  t.false(matchRecord(reader, call('tick')).matched, 'before expect');
  reader.expect('tick', 'target');
  reader.forget();
  t.false(matchRecord(reader, call('tick')).matched, 'after forget');
  t.is(reader.target, undefined);
  reader.expect('naïve', 'target');
  t.false(matchRecord(reader, call('naïve')).matched, 'a name that is not ASCII');
  reader.expect('n'.repeat(33), 'target');
  t.false(matchRecord(reader, call('n'.repeat(33))).matched, 'a name of 33 characters');
});
