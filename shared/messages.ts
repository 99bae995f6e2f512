/**
 * The records that travel through a loop's ring: a call by name (fire and
 * forget), a request (a call whose result goes back), a reply, and the
 * cancellation of a request whose caller gave up.
 *
 *   call:    kind, name, argc, args...
 *   request: kind, name, reply ring id, request id, argc, args...
 *   reply:   kind, request id, ok, value (the result, or the error)
 *   cancel:  kind, reply ring id, request id
 */
import { Decoder, Encoder, numberSizeAt, readNumberAt, registerErrorClass, scalarSize, shortAsciiSize, writeScalar, writeShortAscii } from './codec.js';
import { RingClosedError } from './ring.js';
import type { RingWriter } from './ring_writer.js';

// A remote function that failed calling a closed loop fails its caller with the same class.
registerErrorClass(RingClosedError, 'RingClosedError');

const enum Kind {
  Call = 1,
  Request = 2,
  Reply = 3,
  Cancel = 4,
}

/** What a consumer does with each kind of record (a visitor, so reading allocates no message object). */
export interface MessageHandler {
  /** A call of `name` with `argc` arguments, which follow in `decoder` (read them with `readArgs`, or one by one; a dropped call may leave them). */
  onCall(name: string, argc: number, decoder: Decoder): void;
  onRequest(name: string, args: unknown[], replyTo: number, requestId: number): void;
  onReply(requestId: number, ok: boolean, value: unknown): void;
  /** The caller of request `requestId` (answered into ring `replyTo`) cancelled its result. */
  onCancel(replyTo: number, requestId: number): void;
}

/** Decodes the record at `decoder.pos` and passes it to `handler`. */
export function readMessage(decoder: Decoder, handler: MessageHandler): void {
  const kind = decoder.readU8() as Kind;
  switch (kind) {
    case Kind.Call: {
      const name = decoder.readString();
      return handler.onCall(name, decoder.readLength(), decoder);
    }
    case Kind.Request: {
      const name = decoder.readString();
      const replyTo = decoder.readF64();
      const requestId = decoder.readU32();
      return handler.onRequest(name, readArgs(decoder, decoder.readLength()), replyTo, requestId);
    }
    case Kind.Reply: {
      const requestId = decoder.readU32();
      const ok = decoder.readU8() === 1;
      return handler.onReply(requestId, ok, decoder.readValue());
    }
    case Kind.Cancel: {
      const replyTo = decoder.readF64();
      return handler.onCancel(replyTo, decoder.readU32());
    }
    default:
      throw new Error(`corrupt record: unknown message kind ${kind as number}`);
  }
}

/**
 * A call of `name` with `args`, as the encoder holding it (its `scratch`
 * and `length`, valid until the next message is encoded on this thread).
 * Throws TypeError naming the argument that cannot be sent.
 */
export function encodeCall(method: string, name: string, args: readonly unknown[]): Encoder {
  const encoder = claimEncoder();
  try {
    encoder.writeU8(Kind.Call);
    encoder.writeString(name);
    writeArgs(encoder, method, name, args);
    return encoder;
  } finally {
    releaseEncoder(encoder);
  }
}

/** Calls with up to this many arguments, all scalars, can be encoded in place. */
const IN_PLACE_ARGS = 3;

/**
 * Writes a call of `name` with `args` straight into `writer`'s ring, with
 * no scratch buffer and no copy, when the call is small and simple (a name
 * of at most 32 ASCII characters; up to three arguments, each a number,
 * boolean, null or undefined) and the ring has room now. The bytes are
 * those of encodeCall. False otherwise, having written nothing: the caller
 * then encodes the call and writes it.
 */
export function writeCallInPlace(writer: RingWriter, name: string, args: readonly unknown[]): boolean {
  const argc = args.length;
  if (argc > IN_PLACE_ARGS) return false;
  let length = shortAsciiSize(name);
  if (length < 0) return false;
  length += 2; // the kind and argc bytes
  for (let i = 0; i < argc; i++) {
    const size = scalarSize(args[i]);
    if (size < 0) return false;
    length += size;
  }
  const at = writer.reserve(length);
  if (at < 0) return false;
  const { bytes, view } = writer.ring;
  bytes[at] = Kind.Call;
  let pos = writeShortAscii(bytes, at + 1, name);
  bytes[pos++] = argc;
  for (let i = 0; i < argc; i++) pos = writeScalar(bytes, view, pos, args[i]);
  writer.commit(at, length);
  return true;
}

/**
 * The consumer's counterpart of writeCallInPlace, for the call that comes
 * again and again: it recognises a call of one name (`expect`) with up to
 * three number arguments and reads it straight from the ring's memory,
 * without the Decoder's name lookup and per-value calls (a small call's
 * drain measured about a third cheaper). After `match` returns true, the
 * call's arguments are in `argc` and `a0`..`a2`, and `target` is what
 * `expect` was given for the name.
 */
export class CallInPlaceReader<T> {
  target: T | undefined = undefined;
  argc = 0;
  a0 = 0;
  a1 = 0;
  a2 = 0;
  /** The name as a call record carries it (length byte, then ASCII), and its size; 0 matches nothing. */
  readonly #name = new Uint8Array(33);
  #nameSize = 0;

  /** Recognises calls of `name` from now on, for `target` (which is kept even for a name longer than 32 characters or not ASCII, never recognised). */
  expect(name: string, target: T): void {
    const size = shortAsciiSize(name);
    this.#nameSize = size < 0 ? 0 : size;
    if (size > 0) writeShortAscii(this.#name, 0, name);
    this.target = target;
  }

  /** Recognises nothing until the next `expect`. */
  forget(): void {
    this.#nameSize = 0;
    this.target = undefined;
  }

  /** True if the record at `at` of `bytes` (`view` over the same memory) is a call of the expected name with up to three numbers, which are then read. */
  match(bytes: Uint8Array, view: DataView, at: number): boolean {
    const size = this.#nameSize;
    if (size === 0 || bytes[at] !== Kind.Call) return false;
    const name = this.#name;
    let pos = at + 1;
    for (let i = 0; i < size; i++) if (bytes[pos + i] !== name[i]) return false;
    pos += size;
    const argc = bytes[pos++]!;
    if (argc > IN_PLACE_ARGS) return false;
    for (let i = 0; i < argc; i++) {
      const n = numberSizeAt(bytes, pos);
      if (n === 0) return false; // a0..a2 may have changed: they mean something only after a true
      const value = readNumberAt(view, pos, n);
      if (i === 0) this.a0 = value;
      else if (i === 1) this.a1 = value;
      else this.a2 = value;
      pos += n;
    }
    this.argc = argc;
    return true;
  }
}

/** The bytes of a request (see encodeCall), answered into the ring `replyTo` under `requestId`. */
export function encodeRequest(method: string, name: string, args: readonly unknown[], replyTo: number, requestId: number): Encoder {
  const encoder = claimEncoder();
  try {
    encoder.writeU8(Kind.Request);
    encoder.writeString(name);
    encoder.writeF64(replyTo);
    encoder.writeU32(requestId);
    writeArgs(encoder, method, name, args);
    return encoder;
  } finally {
    releaseEncoder(encoder);
  }
}

/** The bytes of the cancellation of request `requestId`, whose reply would go to ring `replyTo`. */
export function encodeCancel(replyTo: number, requestId: number): Encoder {
  const encoder = claimEncoder();
  try {
    encoder.writeU8(Kind.Cancel);
    encoder.writeF64(replyTo);
    encoder.writeU32(requestId);
    return encoder;
  } finally {
    releaseEncoder(encoder);
  }
}

/**
 * The bytes of a reply. A result that cannot be sent becomes an error
 * reply carrying the TypeError that says why, so the caller always hears.
 */
export function encodeReply(requestId: number, ok: boolean, value: unknown): Encoder {
  const encoder = claimEncoder();
  try {
    const write = (isOk: boolean, v: unknown): void => {
      encoder.reset();
      encoder.writeU8(Kind.Reply);
      encoder.writeU32(requestId);
      encoder.writeU8(isOk ? 1 : 0);
      encoder.writeValue(v);
    };
    try {
      write(ok, value);
    } catch (err) {
      write(false, new TypeError(`the ${ok ? 'result' : 'error'} cannot be sent back: ${(err as Error).message}`));
    }
    return encoder;
  } finally {
    releaseEncoder(encoder);
  }
}

function writeArgs(encoder: Encoder, method: string, name: string, args: readonly unknown[]): void {
  encoder.writeLength(args.length);
  for (let i = 0; i < args.length; i++) {
    try {
      encoder.writeValue(args[i]);
    } catch (err) {
      if (err instanceof TypeError) throw new TypeError(`${method}('${name}'): argument ${i + 1} cannot be sent to another thread: ${err.message}`);
      throw err;
    }
  }
}

/** The next `n` values of `decoder`: a call's arguments. */
export function readArgs(decoder: Decoder, n: number): unknown[] {
  const args = new Array<unknown>(n);
  for (let i = 0; i < n; i++) args[i] = decoder.readValue();
  return args;
}

// One scratch encoder per thread. Encoding can re-enter (a getter on an
// argument may itself send a message), so a busy scratch is not reused.
const scratch = new Encoder(1024);
let scratchBusy = false;

function claimEncoder(): Encoder {
  if (scratchBusy) return new Encoder();
  scratchBusy = true;
  scratch.reset();
  return scratch;
}

function releaseEncoder(encoder: Encoder): void {
  if (encoder === scratch) scratchBusy = false;
}
