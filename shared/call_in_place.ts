/**
 * Small calls, written and read in place in a ring's memory: the hot path
 * of callSoonThreadsafe, for the call that comes again and again (a short
 * ASCII name, up to three scalar arguments). Both sides produce and accept
 * exactly the bytes encodeCall makes (messages.ts); anything else goes
 * through the encoder, RingWriter and the Decoder.
 */
import { numberSizeAt, readNumberAt, scalarSize, shortAsciiSize, writeScalar, writeShortAscii } from './codec.js';
import { Kind } from './messages.js';
import { CLOSED, HEADER_BYTES, SLEEPING, TAIL, WHOLE } from './ring.js';
import { HeadCache, type RingWriter } from './ring_writer.js';

/** Calls with up to this many arguments, all scalars, are written in place. */
const IN_PLACE_ARGS = 3;

/**
 * The producer's side, for one ring: writes a call straight into the ring,
 * with no scratch buffer and no copy, when it is small and simple and the
 * ring has room now (`write` says false otherwise, having written
 * nothing). It remembers the last name it was given, valid or not, since
 * a producer tends to call one name again and again.
 *
 * `write` holds the whole call — sizing, reserving, encoding, publishing
 * — in one function, on purpose. V8 inlines a function of under 460 bytes
 * of bytecode into its caller, within a budget of 920 for the caller as a
 * whole; this path, split into RingWriter.reserve/commit and inlined into
 * a send loop, ran out of budget halfway and left calls in the middle,
 * which measured ~1.3x slower across threads than this function compiled
 * whole on its own (bench/RESULTS.md, "Ninth session"). So it reserves and
 * publishes by the ring's protocol itself (ring.ts), for the easy case
 * only: a record that fits before the end of the buffer, in a ring open,
 * with room, and with nothing of this thread's spilled ahead of it.
 * Everything else — the end of the buffer, a full ring, spilled records,
 * a closed ring — is RingWriter's (`write` says false).
 */
export class CallInPlaceWriter {
  readonly #writer: RingWriter;
  #name: unknown = undefined;
  /** The encoded size of `#name`, or -1 if it cannot go in place (not a non-empty string of at most 32 ASCII characters). */
  #nameSize = -1;
  readonly #head = new HeadCache();

  constructor(writer: RingWriter) {
    this.#writer = writer;
  }

  /** True if the call is written; false, having written nothing, otherwise: the caller then checks the name, encodes the call and writes it. */
  write(name: string, args: readonly unknown[]): boolean {
    if (name !== this.#name) this.#learn(name);
    const argc = args.length;
    if (this.#nameSize < 0 || argc > IN_PLACE_ARGS) return false;
    const a0 = args[0];
    const a1 = args[1];
    const a2 = args[2];
    const s0 = argc > 0 ? scalarSize(a0) : 0;
    const s1 = argc > 1 ? scalarSize(a1) : 0;
    const s2 = argc > 2 ? scalarSize(a2) : 0;
    if ((s0 | s1 | s2) < 0) return false;
    const length = 2 + this.#nameSize + s0 + s1 + s2; // the kind and argc bytes, the name, the arguments

    const writer = this.#writer;
    const ring = writer.ring;
    const words = ring.words;
    // A plain read of CLOSED: a close racing with this write is the same as one just after it.
    if (words[CLOSED] !== 0 || writer.spilled !== 0) return false;
    const size = 4 + ((length + 3) & ~3);
    let tail = words[TAIL]!; // a guess, which the compare-and-swap checks
    let at: number;
    for (;;) {
      at = tail & ring.mask;
      if (ring.capacity - at < size) return false;
      // (A guess of TAIL behind HEAD reads as over capacity too: RingWriter sorts it out.)
      if (this.#head.used(words, tail, size, ring.capacity) + size > ring.capacity) return false;
      const seen = Atomics.compareExchange(words, TAIL, tail, (tail + size) | 0);
      if (seen === tail) break;
      tail = seen;
    }

    const { bytes, view } = ring;
    let pos = at + 4;
    bytes[pos] = Kind.Call;
    pos = writeShortAscii(bytes, pos + 1, name);
    bytes[pos++] = argc;
    if (argc > 0) pos = writeScalar(bytes, view, pos, a0, s0);
    if (argc > 1) pos = writeScalar(bytes, view, pos, a1, s1);
    if (argc > 2) writeScalar(bytes, view, pos, a2, s2);
    // Publishing replaces the header's 0 or the consumer's SLEEPING mark; who replaces the mark rings.
    if (Atomics.exchange(words, HEADER_BYTES / 4 + (at >> 2), (length << 2) | WHOLE) === SLEEPING) ring.wake.ring();
    return true;
  }

  #learn(name: unknown): void {
    this.#name = name;
    this.#nameSize = typeof name === 'string' && name !== '' ? shortAsciiSize(name) : -1;
  }
}

/**
 * The consumer's counterpart of CallInPlaceWriter, for the call that comes
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
