import test from 'ava';
import fc from 'fast-check';
import { CallInPlaceReader, encodeCall, encodeRequest, writeCallInPlace } from '../shared/messages.js';
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
    const written = writeCallInPlace(new RingWriter(ring, () => {}), name, args);
    const [record] = records(ring);
    const expected = encodeCall('test', name, args).bytes();
    return written && record !== undefined && Buffer.compare(record, expected) === 0;
  }), { numRuns: 500 }));
});

test('a call that is not small and simple is left to the encoder: nothing is written in place', (t) => {
  const ring = Ring.create(4096);
  const writer = new RingWriter(ring, () => {});
  t.false(writeCallInPlace(writer, 'name', [1, 2, 3, 4]), 'four arguments');
  t.false(writeCallInPlace(writer, 'name', ['a string']), 'a string argument');
  t.false(writeCallInPlace(writer, 'name', [{}]), 'an object argument');
  t.false(writeCallInPlace(writer, 'name', [1n]), 'a bigint argument');
  t.false(writeCallInPlace(writer, 'naïve', [1]), 'a name that is not ASCII');
  t.false(writeCallInPlace(writer, 'n'.repeat(33), [1]), 'a name of 33 characters');
  t.deepEqual(records(ring), []);
});

test('a call is not written in place into a full ring, a closed ring, or behind spilled records', (t) => {
  const ring = Ring.create(256);
  const reader = new RingReader(ring);
  const writer = new RingWriter(ring, () => {});
  const args = [1.5, 2.5, 3.5];
  while (writeCallInPlace(writer, 'fill', args));
  const record = encodeCall('test', 'fill', args).bytes();
  t.is(writer.reserve(record.byteLength), -1, 'full');
  // The ring's own consumer thread spills instead of blocking: records now wait in the overflow queue.
  writer.write(record, true);
  t.is(writer.spilled, 1);
  reader.read(() => {}, Infinity);
  t.is(writer.reserve(8), -1, 'spilled records go first');
  ring.close();
  t.is(new RingWriter(ring, () => {}).reserve(8), -1, 'closed');
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
