import test from 'ava';
import fc from 'fast-check';
import { isDeepStrictEqual } from 'node:util';
import { Decoder, Encoder, decode, encode } from '../shared/codec.js';

/** Values the codec promises to carry, as fast-check builds them (nested, with every leaf kind). */
const leaf = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double(),
  fc.bigInt(),
  fc.string({ unit: 'grapheme' }),
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc.uint8Array(),
  fc.date({ noInvalidDate: true }),
);
const { value } = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, leaf, tie('array'), tie('object'), tie('map')),
  array: fc.array(tie('value'), { maxLength: 5 }),
  object: fc.dictionary(fc.string(), tie('value'), { maxKeys: 5, noNullPrototype: true }),
  map: fc.array(fc.tuple(fc.oneof(fc.string(), fc.integer()), tie('value')), { maxLength: 4 }).map((entries) => new Map(entries)),
}));

/** Strings with lone surrogates do not survive UTF-8; the codec, like TextEncoder, writes U+FFFD for them. */
function wellFormed(v: unknown): boolean {
  if (typeof v === 'string') return v === Buffer.from(v, 'utf8').toString('utf8');
  if (Array.isArray(v)) return v.every(wellFormed);
  if (v instanceof Map) return [...v].every(([k, x]) => wellFormed(k) && wellFormed(x));
  if (v !== null && typeof v === 'object' && !(v instanceof Uint8Array) && !(v instanceof Date)) return Object.entries(v).every(([k, x]) => wellFormed(k) && wellFormed(x));
  return true;
}

test('every supported value round-trips (property)', (t) => {
  // isDeepStrictEqual, not t.deepEqual, inside properties: it is two orders of magnitude faster.
  t.notThrows(() => fc.assert(fc.property(value.filter(wellFormed), (v) => isDeepStrictEqual(decode(encode(v)), v)), { numRuns: 1000 }));
});

test('a sequence of values written into one encoder reads back in order (property)', (t) => {
  const encoder = new Encoder(8);
  const roundTrips = (values: unknown[]): boolean => {
    encoder.reset();
    for (const v of values) encoder.writeValue(v);
    const decoder = new Decoder(encoder.bytes().slice());
    return isDeepStrictEqual(values.map(() => decoder.readValue()), values) && decoder.pos === encoder.length;
  };
  t.notThrows(() => fc.assert(fc.property(fc.array(value.filter(wellFormed), { maxLength: 8 }), roundTrips), { numRuns: 300 }));
});

test('large values round-trip: a 4 MiB byte array and a 1 MiB string', (t) => {
  const bytes = new Uint8Array(4 << 20).map((_, i) => (i * 31) & 0xff);
  t.is(Buffer.compare(decode(encode(bytes)) as Uint8Array, bytes), 0);
  const text = 'é😀x'.repeat(1 << 18);
  t.is(decode(encode(text)), text);
});

test('empty values round-trip', (t) => {
  for (const v of ['', [], {}, new Uint8Array(0), new ArrayBuffer(0), new Map(), new Set()]) t.deepEqual(decode(encode(v)), v);
});

test('numbers keep their exact value: -0, NaN, infinities, int32 bounds, fractions', (t) => {
  for (const n of [-0, NaN, Infinity, -Infinity, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, 0.1, Number.MAX_VALUE, Number.MIN_VALUE]) {
    t.true(Object.is(decode(encode(n)), n), String(n));
  }
});

test('small integers take 5 bytes and other numbers 9', (t) => {
  t.is(encode(7).byteLength, 5);
  t.is(encode(0.5).byteLength, 9);
});

test('bigints of any sign and size round-trip', (t) => {
  for (const b of [0n, -1n, 2n ** 64n, -(3n ** 200n)]) t.is(decode(encode(b)), b);
});

test('typed arrays, DataView and ArrayBuffer come back as copies of the same kind', (t) => {
  const source = new Float64Array([1.5, -2, NaN]);
  const back = decode(encode(source)) as Float64Array;
  t.true(back instanceof Float64Array);
  t.deepEqual([...back], [...source]);
  const offsetView = new Int16Array(new Int16Array([9, 8, 7, 6]).buffer, 2, 2);
  t.deepEqual(decode(encode(offsetView)), new Int16Array([8, 7]));
  t.true(decode(encode(new DataView(new ArrayBuffer(3)))) instanceof DataView);
  t.deepEqual(decode(encode(Buffer.from('hi'))), new Uint8Array([104, 105]));
  t.deepEqual(decode(encode(new Uint8Array([1, 2]).buffer)), new Uint8Array([1, 2]).buffer);
});

test('errors keep their class (built-ins), name, message and stack', (t) => {
  const back = decode(encode(new RangeError('too far'))) as Error;
  t.true(back instanceof RangeError);
  t.is(back.message, 'too far');
  class RuntimeError extends Error {
    override name = 'RuntimeError';
  }
  const sent = new RuntimeError('closed');
  const custom = decode(encode(sent)) as Error;
  t.is(custom.name, 'RuntimeError');
  t.is(custom.stack, sent.stack);
});

test('a key named __proto__ stays an own data property', (t) => {
  const v = JSON.parse('{"__proto__": {"x": 1}}') as object;
  const back = decode(encode(v)) as Record<string, unknown>;
  t.deepEqual(Object.keys(back), ['__proto__']);
  t.is(Object.getPrototypeOf(back), Object.prototype);
});

test('a function, a symbol or a SharedArrayBuffer is refused with a TypeError saying where', (t) => {
  t.throws(() => encode({ a: [1, () => 0] }), { instanceOf: TypeError, message: /at \.a\[1\]: cannot send a function/ });
  t.throws(() => encode(Symbol('s')), { instanceOf: TypeError, message: /symbol/ });
  t.throws(() => encode(new SharedArrayBuffer(8)), { instanceOf: TypeError, message: /SharedArrayBuffer/ });
});

test('a cyclic structure is refused with a TypeError', (t) => {
  const a: unknown[] = [];
  a.push(a);
  t.throws(() => encode(a), { instanceOf: TypeError, message: /cyclic/ });
});

test('a shared object that is not a cycle is encoded twice, as structured clone would copy it', (t) => {
  const shared = { n: 1 };
  t.deepEqual(decode(encode([shared, shared])), [{ n: 1 }, { n: 1 }]);
});
