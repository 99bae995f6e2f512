/**
 * The argument codec: values to bytes and back, for records that cross
 * threads through a ring (structured clone is not available on raw memory).
 *
 * Supported: undefined, null, booleans, numbers (int32 in 4 bytes, any other
 * number as float64, -0 and NaN kept), bigint, strings, arrays, plain
 * objects (own enumerable string keys, as structured clone copies them),
 * Map, Set, Date, Error (name, message, stack), ArrayBuffer, and every
 * ArrayBufferView (Uint8Array, Buffer as Uint8Array, other typed arrays,
 * DataView), each copied. Anything else — functions, symbols,
 * SharedArrayBuffer, cyclic structures — throws a TypeError that says what
 * and where.
 *
 * The encoder writes into one growable scratch buffer that is reused from
 * record to record, so encoding a small call allocates nothing; the decoder
 * reads straight from the ring's shared memory and copies only what it
 * returns.
 */
import { Buffer } from 'node:buffer';

const enum Tag {
  Undefined = 0,
  Null,
  False,
  True,
  Int32,
  Float64,
  BigInt,
  String,
  Array,
  Object,
  Map,
  Set,
  Date,
  Error,
  ArrayBuffer,
  View,
}

/** The constructors of ArrayBufferView kinds, by their index on the wire. */
const VIEW_TYPES = [
  DataView, Uint8Array, Int8Array, Uint8ClampedArray, Int16Array, Uint16Array,
  Int32Array, Uint32Array, Float32Array, Float64Array, BigInt64Array, BigUint64Array,
] as const;
type ViewType = (typeof VIEW_TYPES)[number];

/**
 * Lengths and counts below this take one byte on the wire (a small call's
 * name and argument count are 2 bytes, not 8); larger ones are this byte
 * followed by a u32.
 */
const LONG_LENGTH = 0xff;

/** Strings up to this length are written by a JS loop when ASCII (writeShortAscii); longer ones by Buffer.write. */
const SHORT_STRING = 32;

// Short strings decoded lately, by a hash of their bytes: callback names and
// object keys repeat record after record, and a hit allocates nothing.
const INTERN_MAX_BYTES = 24;
const INTERN_SLOTS = 256;
const internedBytes = new Array<Uint8Array | undefined>(INTERN_SLOTS);
const internedStrings = new Array<string>(INTERN_SLOTS);

export class Encoder {
  #bytes: Uint8Array;
  #capacity: number;
  #view: DataView;
  #buffer: Buffer;
  /** Objects being encoded, outermost first: a repeat is a cycle. */
  readonly #parents: object[] = [];
  /** Bytes written since `reset()`. */
  length = 0;

  constructor(initialCapacity = 256) {
    this.#bytes = new Uint8Array(initialCapacity);
    this.#capacity = initialCapacity;
    this.#view = new DataView(this.#bytes.buffer);
    this.#buffer = Buffer.from(this.#bytes.buffer);
  }

  /** Starts a new record; the previous one's bytes may be overwritten. */
  reset(): void {
    this.length = 0;
    if (this.#parents.length !== 0) this.#parents.length = 0;
  }

  /** The bytes written since `reset()`: a view valid until the next write. */
  bytes(): Uint8Array {
    return this.#bytes.subarray(0, this.length);
  }

  /** The scratch buffer itself, whose first `length` bytes are the record (no view to allocate on hot paths). */
  get scratch(): Uint8Array {
    return this.#bytes;
  }

  writeU8(value: number): void {
    this.#reserve(1);
    this.#bytes[this.length++] = value;
  }

  writeU32(value: number): void {
    this.#reserve(4);
    this.#view.setUint32(this.length, value, true);
    this.length += 4;
  }

  /** A length or count: one byte below LONG_LENGTH, else LONG_LENGTH and a u32. */
  writeLength(value: number): void {
    if (value < LONG_LENGTH) return this.writeU8(value);
    this.#reserve(5);
    this.#bytes[this.length] = LONG_LENGTH;
    this.#view.setUint32(this.length + 1, value, true);
    this.length += 5;
  }

  writeF64(value: number): void {
    this.#reserve(8);
    this.#view.setFloat64(this.length, value, true);
    this.length += 8;
  }

  /** A string as its UTF-8 byte length (see writeLength) and bytes (lone surrogates become U+FFFD, as in TextEncoder). */
  writeString(value: string): void {
    const n = value.length;
    const ascii = shortAsciiSize(value);
    if (ascii > 0) {
      this.#reserve(ascii);
      this.length = writeShortAscii(this.#bytes, this.length, value);
      return;
    }
    // UTF-8 takes at most 3 bytes per UTF-16 unit: when that bound is short, so is the actual length.
    const prefix = n * 3 < LONG_LENGTH ? 1 : 5;
    this.#reserve(prefix + n * 3);
    const start = this.length + prefix;
    const end = start + this.#buffer.write(value, start, 'utf8');
    if (prefix === 1) {
      this.#bytes[this.length] = end - start;
    } else {
      this.#bytes[this.length] = LONG_LENGTH;
      this.#view.setUint32(this.length + 1, end - start, true);
    }
    this.length = end;
  }

  writeBytes(value: Uint8Array): void {
    this.writeLength(value.byteLength);
    this.#reserve(value.byteLength);
    this.#bytes.set(value, this.length);
    this.length += value.byteLength;
  }

  /** Appends one value; throws TypeError (buffer state unspecified: `reset()` before reuse) on what cannot be encoded. */
  writeValue(value: unknown): void {
    switch (typeof value) {
      case 'undefined':
      case 'boolean':
      case 'number':
        this.#reserve(9);
        this.length = writeScalar(this.#bytes, this.#view, this.length, value, scalarSize(value));
        return;
      case 'string':
        this.writeU8(Tag.String);
        return this.writeString(value);
      case 'bigint':
        this.writeU8(Tag.BigInt);
        return this.writeString(value.toString(16));
      case 'object':
        if (value === null) return this.writeU8(Tag.Null);
        return this.#writeObject(value);
      default:
        throw new TypeError(`cannot send a ${typeof value} to another thread`);
    }
  }

  #writeObject(value: object): void {
    if (this.#parents.includes(value)) throw new TypeError('cannot send a cyclic structure to another thread');
    this.#parents.push(value);
    if (Array.isArray(value)) {
      this.writeU8(Tag.Array);
      this.writeLength(value.length);
      for (let i = 0; i < value.length; i++) this.#writeNested(value[i], i);
    } else if (ArrayBuffer.isView(value)) {
      this.writeU8(Tag.View);
      this.writeU8(viewTypeIndex(value));
      this.writeBytes(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
    } else if (value instanceof ArrayBuffer) {
      this.writeU8(Tag.ArrayBuffer);
      this.writeBytes(new Uint8Array(value));
    } else if (value instanceof SharedArrayBuffer) {
      throw new TypeError('cannot copy a SharedArrayBuffer into a ring: send it with postMessage');
    } else if (value instanceof Date) {
      this.writeU8(Tag.Date);
      this.writeF64(value.getTime());
    } else if (value instanceof Error) {
      this.writeU8(Tag.Error);
      this.writeString(value.name);
      this.writeString(value.message);
      this.writeValue(value.stack);
    } else if (value instanceof Map) {
      this.writeU8(Tag.Map);
      this.writeLength(value.size);
      for (const [k, v] of value) {
        this.#writeNested(k, 'a Map key');
        this.#writeNested(v, k);
      }
    } else if (value instanceof Set) {
      this.writeU8(Tag.Set);
      this.writeLength(value.size);
      for (const item of value) this.#writeNested(item, 'a Set item');
    } else {
      const keys = Object.keys(value);
      this.writeU8(Tag.Object);
      this.writeLength(keys.length);
      for (const key of keys) {
        this.writeString(key);
        this.#writeNested((value as Record<string, unknown>)[key], key);
      }
    }
    this.#parents.pop();
  }

  /** Writes a member, prefixing an error with where it was (so the caller sees `args[1].a.b: ...`). */
  #writeNested(value: unknown, where: unknown): void {
    try {
      this.writeValue(value);
    } catch (err) {
      if (err instanceof TypeError) {
        const step = typeof where === 'number' ? `[${where}]` : typeof where === 'string' ? `.${where}` : ` in ${String(where)}`;
        err.message = err.message.startsWith('at ') ? `at ${step}${err.message.slice(3)}` : `at ${step}: ${err.message}`;
      }
      throw err;
    }
  }

  #reserve(n: number): void {
    const need = this.length + n;
    if (need <= this.#capacity) return;
    let size = this.#capacity * 2;
    while (size < need) size *= 2;
    const bytes = new Uint8Array(size);
    bytes.set(this.#bytes.subarray(0, this.length));
    this.#bytes = bytes;
    this.#capacity = size;
    this.#view = new DataView(bytes.buffer);
    this.#buffer = Buffer.from(bytes.buffer);
  }
}

/**
 * The encoded size of `value` if it is a scalar that `writeScalar` writes
 * (undefined, null, a boolean, a number), else -1: small calls of scalars
 * are encoded straight into a ring (messages.ts), sized first.
 */
export function scalarSize(value: unknown): number {
  // Comparisons, not a switch: TurboFan turns `typeof v === 'number'` into a type check, a switch into a call.
  if (typeof value === 'number') return isInt32(value) ? 5 : 9;
  if (value === undefined || value === null || typeof value === 'boolean') return 1;
  return -1;
}

/**
 * Writes the scalar `value`, whose encoded size `scalarSize` gave as
 * `size` (so a number is classified once), at `at` in `bytes` (`view` over
 * the same memory; room checked by the caller) and returns the position
 * after it.
 */
export function writeScalar(bytes: Uint8Array, view: DataView, at: number, value: unknown, size: number): number {
  if (size === 9) {
    bytes[at] = Tag.Float64;
    view.setFloat64(at + 1, value as number, true);
  } else if (size === 5) {
    bytes[at] = Tag.Int32;
    view.setInt32(at + 1, value as number, true);
  } else {
    bytes[at] = value === undefined ? Tag.Undefined : value === null ? Tag.Null : value ? Tag.True : Tag.False;
  }
  return at + size;
}

/**
 * The encoded size of the value at `at` in `bytes` if it is a number (as
 * writeScalar writes one), else 0: the consumer's fast path for small
 * calls reads numbers in place, and leaves anything else to a Decoder.
 */
export function numberSizeAt(bytes: Uint8Array, at: number): number {
  const tag = bytes[at];
  return tag === Tag.Float64 ? 9 : tag === Tag.Int32 ? 5 : 0;
}

/** The number at `at`, whose encoded size `numberSizeAt` gave as `size` (so its tag is not read twice). */
export function readNumberAt(view: DataView, at: number, size: number): number {
  return size === 9 ? view.getFloat64(at + 1, true) : view.getInt32(at + 1, true);
}

function isInt32(value: number): boolean {
  return (value | 0) === value && !Object.is(value, -0);
}

/**
 * The encoded size of `value` when it is a string of at most SHORT_STRING
 * ASCII characters (written by `writeShortAscii`), else -1.
 */
export function shortAsciiSize(value: string): number {
  const n = value.length;
  if (n > SHORT_STRING) return -1;
  for (let i = 0; i < n; i++) if (value.charCodeAt(i) >= 0x80) return -1;
  return 1 + n;
}

/** Writes `value` (see shortAsciiSize) as `Encoder.writeString` would, at `at`; returns the position after it. */
export function writeShortAscii(bytes: Uint8Array, at: number, value: string): number {
  const n = value.length;
  bytes[at++] = n;
  for (let i = 0; i < n; i++) bytes[at++] = value.charCodeAt(i);
  return at;
}

export class Decoder {
  #bytes: Uint8Array;
  #view: DataView;
  #buffer: Buffer;
  /** Read position: the next byte to decode. */
  pos = 0;

  /** A decoder over `bytes` (shared memory or not), reading from `pos`. */
  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  readU8(): number {
    return this.#bytes[this.pos++]!;
  }

  readU32(): number {
    const v = this.#view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  readLength(): number {
    const n = this.#bytes[this.pos++]!;
    return n < LONG_LENGTH ? n : this.readU32();
  }

  readF64(): number {
    const v = this.#view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  readString(): string {
    const n = this.readLength();
    const start = this.pos;
    this.pos += n;
    if (n > INTERN_MAX_BYTES) return this.#buffer.toString('utf8', start, start + n);
    const bytes = this.#bytes;
    const end = start + n;
    let hash = n;
    for (let i = start; i < end; i++) hash = Math.imul(hash ^ bytes[i]!, 0x01000193);
    const slot = hash & (INTERN_SLOTS - 1);
    const known = internedBytes[slot];
    if (known !== undefined && known.length === n) {
      let i = 0;
      while (i < n && known[i] === bytes[start + i]) i++;
      if (i === n) return internedStrings[slot]!;
    }
    const value = this.#buffer.toString('utf8', start, end);
    internedBytes[slot] = bytes.slice(start, end);
    internedStrings[slot] = value;
    return value;
  }

  /** A copy of the next length-prefixed bytes, in memory of its own. */
  readBytes(): Uint8Array {
    const n = this.readLength();
    const start = this.pos;
    this.pos += n;
    return this.#bytes.slice(start, start + n);
  }

  readValue(): unknown {
    // Numbers come first and apart, in a body small enough to inline where calls are decoded.
    const tag = this.readU8() as Tag;
    if (tag === Tag.Float64) return this.readF64();
    if (tag === Tag.Int32) {
      const v = this.#view.getInt32(this.pos, true);
      this.pos += 4;
      return v;
    }
    return this.#readTagged(tag);
  }

  #readTagged(tag: Tag): unknown {
    switch (tag) {
      case Tag.Undefined:
        return undefined;
      case Tag.Null:
        return null;
      case Tag.False:
        return false;
      case Tag.True:
        return true;
      case Tag.BigInt: {
        const hex = this.readString();
        return hex.startsWith('-') ? -BigInt('0x' + hex.slice(1)) : BigInt('0x' + hex);
      }
      case Tag.String:
        return this.readString();
      case Tag.Array: {
        const n = this.readLength();
        const out = new Array<unknown>(n);
        for (let i = 0; i < n; i++) out[i] = this.readValue();
        return out;
      }
      case Tag.Object: {
        const n = this.readLength();
        const out: Record<string, unknown> = {};
        for (let i = 0; i < n; i++) {
          const key = this.readString();
          // defineProperty, not assignment: a key named __proto__ must stay data.
          Object.defineProperty(out, key, { value: this.readValue(), enumerable: true, writable: true, configurable: true });
        }
        return out;
      }
      case Tag.Map: {
        const n = this.readLength();
        const out = new Map<unknown, unknown>();
        for (let i = 0; i < n; i++) {
          const key = this.readValue();
          out.set(key, this.readValue());
        }
        return out;
      }
      case Tag.Set: {
        const n = this.readLength();
        const out = new Set<unknown>();
        for (let i = 0; i < n; i++) out.add(this.readValue());
        return out;
      }
      case Tag.Date:
        return new Date(this.readF64());
      case Tag.Error:
        return reviveError(this.readString(), this.readString(), this.readValue());
      case Tag.ArrayBuffer:
        return this.readBytes().buffer;
      case Tag.View: {
        const type: ViewType | undefined = VIEW_TYPES[this.readU8()];
        const bytes = this.readBytes();
        if (type === undefined) throw new Error('corrupt record: unknown view type');
        if (type === Uint8Array) return bytes;
        if (type === DataView) return new DataView(bytes.buffer);
        return Reflect.construct(type, [bytes.buffer]) as ArrayBufferView;
      }
      default:
        throw new Error(`corrupt record: unknown tag ${tag as number} at byte ${this.pos - 1}`);
    }
  }
}

/** `value` as one self-contained record (a copy). */
export function encode(value: unknown): Uint8Array {
  const encoder = new Encoder();
  encoder.writeValue(value);
  return encoder.bytes().slice();
}

/** The value of a record made by `encode`. */
export function decode(bytes: Uint8Array): unknown {
  return new Decoder(bytes).readValue();
}

function viewTypeIndex(view: ArrayBufferView): number {
  const index = VIEW_TYPES.findIndex((type) => view instanceof type);
  if (index >= 0) return index;
  throw new TypeError(`cannot send a ${view.constructor.name} to another thread`);
}

/** An Error class that can be made from a message alone. */
export type ErrorClass = new (message?: string) => Error;

const ERROR_TYPES: Record<string, ErrorClass> = {
  Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError,
};

/**
 * Decodes errors named `name` as instances of `errorClass` in this thread
 * (the runtime registers its RuntimeError, CancelledError, ..., so that
 * `instanceof` works on an error from another thread). Registered per
 * thread: a thread that never loads the class gets an Error of that name.
 */
export function registerErrorClass(errorClass: ErrorClass, name: string): void {
  ERROR_TYPES[name] = errorClass;
}

/** An Error of the sender's class when this thread knows it by name (built-in or registered), else an Error bearing the sender's `name`. */
export function reviveError(name: string, message: string, stack: unknown): Error {
  const err = new (ERROR_TYPES[name] ?? Error)(message);
  if (err.name !== name) Object.defineProperty(err, 'name', { value: name, writable: true, configurable: true });
  if (typeof stack === 'string') err.stack = stack;
  return err;
}
