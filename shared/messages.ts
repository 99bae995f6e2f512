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
import { Decoder, Encoder, registerErrorClass } from './codec.js';
import { RingClosedError } from './ring.js';

// A remote function that failed calling a closed loop fails its caller with the same class.
registerErrorClass(RingClosedError, 'RingClosedError');

/** A record's first byte. */
export const enum Kind {
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
