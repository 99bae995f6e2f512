/**
 * Ring: a multi-producer, single-consumer queue of variable-length byte
 * records in one SharedArrayBuffer — the inbox of one event loop, written by
 * any number of threads (other loops, the coordinator, executor threads).
 *
 * Guarantees: every record written is delivered exactly once, whole, and in
 * the order its producer wrote it (records of different producers
 * interleave). Producers reserve space with one compare-and-swap on TAIL,
 * copy their bytes (or, for a small call, encode it there: `reserve` and
 * `commit`), then publish the record's header; the consumer reads
 * headers at HEAD, zeroes what it consumed (so free space always reads as
 * zero and an unpublished header is 0) and advances HEAD, every few dozen
 * records and at the end of each batch.
 *
 * Waking: a consumer that finds nothing to read marks the header slot at
 * HEAD as SLEEPING (a compare-and-swap from 0), and sleeps on its doorbell
 * (wake.ts). A producer publishes every header with an exchange; the one
 * that replaces the mark rings the doorbell. Records can only be read in
 * order, so the record at HEAD is the one the consumer waits for, and with
 * sequentially consistent atomics either the consumer's compare-and-swap
 * sees the header or the producer's exchange sees the mark: no wake-up is
 * lost, a burst costs one ring, and a record costs one atomic operation to
 * publish and check.
 *
 * When the ring is full, nothing is dropped and loop threads never block:
 * - a producer that may block (an executor or plain worker thread) first
 *   spins, for up to 100 µs, watching HEAD — one producer at a time, so the
 *   spinners do not crowd the consumer off the CPUs — then sleeps with
 *   `Atomics.wait` until the consumer has freed a quarter of the ring or
 *   stopped draining (found it empty, or paused: `notifyProducers`), in
 *   50 ms slices between which it checks that the ring is still open (if
 *   it closes, the write throws `RingClosedError`). Why spin: a consumer
 *   that drains a full ring frees space every few microseconds, while
 *   waking a sleeping thread took ~50 µs here, during which the producers'
 *   CPU stood idle; and waking on every freed batch cost a futex round
 *   trip per producer per 64 records (bench:threadsafe, 3 producers);
 * - a producer that must not block (a thread running an event loop)
 *   spills: the record is copied to that producer's own overflow queue,
 *   which is written into the ring, in order, as soon as the consumer frees
 *   space (`Atomics.waitAsync` on HEAD, with a ref'd handle keeping the
 *   thread alive until the queue is empty). Every later record of that
 *   producer goes behind the queue, so its FIFO order holds.
 * A record larger than a quarter of the ring — including one larger than
 * the whole ring — is cut into fragments tagged with the producer's id; the
 * consumer reassembles them and delivers the record whole, in its
 * producer's order. Fragments are written as space allows, by waiting or
 * spilling as above, so a record of any size is delivered.
 *
 * Byte positions are uint32 counters that wrap; the data capacity is a
 * power of two, so a position's offset is `pos & mask` across the wrap.
 * The consumer counts HEAD's wraps in LAPS, so that a producer's old copy
 * of HEAD cannot pass for a recent one (HeadCache, ring_writer.ts).
 *
 * This file holds the layout and the shared memory (`Ring`); the producer
 * side is ring_writer.ts, the consumer side ring_reader.ts. Small calls
 * are also written and read in place by call_in_place.ts, whose writer
 * follows this protocol for the easy case (room before the end of the
 * buffer) and leaves every other case to RingWriter.
 */
import { threadId } from 'node:worker_threads';
import { WakeWord } from './wake.js';

// The layout, shared with the two sides (ring_writer.ts, ring_reader.ts).
// Int32 word indices in the header; the words producers and the consumer
// hammer sit on separate 64-byte cache lines.
export const HEAD = 0; // consumer's read position
export const WAITERS = 1; // producers waiting for space (the consumer notifies HEAD only when nonzero)
export const SPINNER = 2; // while a producer spins, watching HEAD for space: when its claim lapses (ms); else 0 (spinWhile in ring_writer.ts)
export const TAIL = 16; // reservation position
export const PRODUCER_IDS = 17; // last producer id handed out (for fragments)
export const LAPS = 18; // times HEAD has wrapped past 2^32 (see HeadCache in ring_writer.ts); on TAIL's line, which producers hold anyway
const WAKE = 32; // the wake word's two words: wake-ups sent, the consumer's doorbell
export const CLOSED = 48; // 1 once the ring is closed
const CAPACITY = 49;
const ID_HIGH = 50;
const ID_LOW = 51;
const CONSUMER = 52; // threadId of the consumer + 1 (0: not attached)
export const HEADER_BYTES = 256;

// A record is a 4-byte header, then its payload, padded to 4 bytes. The
// header is (payload length << 2) | kind; 0 means "not yet published", and
// SLEEPING "not yet published, and the consumer sleeps until it is".
export const KIND_MASK = 3;
export const PAD = 0; // skip to the end of the buffer; its length field counts the whole skip, header included, so it is never 0
export const WHOLE = 1;
export const FRAGMENT = 2; // payload: producer id (u32), then a piece of a record; more follow
export const LAST_FRAGMENT = 3;
export const SLEEPING = -1;

const MIN_CAPACITY = 256;
const MAX_CAPACITY = 2 ** 28;
export const DEFAULT_RING_CAPACITY = 2 ** 20;

/** Throws RangeError (naming `method` and `arg`) unless `capacity` is a valid ring capacity. */
export function checkRingCapacity(capacity: number, method: string, arg: string): void {
  if (!Number.isInteger(capacity) || capacity < MIN_CAPACITY || capacity > MAX_CAPACITY || (capacity & (capacity - 1)) !== 0) {
    throw new RangeError(`${method}: ${arg} must be a power of two from ${MIN_CAPACITY} to ${MAX_CAPACITY} bytes, got ${String(capacity)}`);
  }
}

/** Thrown to a producer writing into (or blocked on) a ring whose consumer has closed it. */
export class RingClosedError extends Error {
  override name = 'RingClosedError';
}

let ringsCreated = 0;

export class Ring {
  /** The shared memory: send it to another thread (postMessage, workerData) and `Ring.from` it there. */
  readonly buffer: SharedArrayBuffer;
  /** Unique in the process: (creating thread's id, sequence). */
  readonly id: number;
  /** Data bytes (a power of two). */
  readonly capacity: number;
  /** The largest payload written as one record; larger ones are fragmented. */
  readonly maxRecord: number;
  /** @internal The whole buffer as words: the header, then the data area (record headers are words too). */
  readonly words: Int32Array;
  /** @internal The data area. */ readonly bytes: Uint8Array;
  /** @internal The data area, for multi-byte values. */ readonly view: DataView;
  /** @internal */ readonly mask: number;
  readonly wake: WakeWord;

  private constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer;
    this.words = new Int32Array(buffer);
    this.capacity = this.words[CAPACITY]!;
    this.bytes = new Uint8Array(buffer, HEADER_BYTES, this.capacity);
    this.view = new DataView(buffer, HEADER_BYTES, this.capacity);
    this.mask = this.capacity - 1;
    this.maxRecord = this.capacity / 4 - 8;
    this.id = this.words[ID_HIGH]! * 2 ** 32 + (this.words[ID_LOW]! >>> 0);
    this.wake = new WakeWord(this.words, WAKE);
  }

  /** A new, empty ring of `capacity` data bytes (a power of two, 256 B to 256 MiB). */
  static create(capacity = DEFAULT_RING_CAPACITY): Ring {
    checkRingCapacity(capacity, 'Ring.create', 'capacity');
    const buffer = new SharedArrayBuffer(HEADER_BYTES + capacity);
    const words = new Int32Array(buffer, 0, HEADER_BYTES / 4);
    words[CAPACITY] = capacity;
    words[ID_HIGH] = threadId;
    words[ID_LOW] = ++ringsCreated;
    return new Ring(buffer);
  }

  /** The ring living in `buffer` (made by `Ring.create`, in any thread). */
  static from(buffer: SharedArrayBuffer): Ring {
    if (!(buffer instanceof SharedArrayBuffer) || buffer.byteLength < HEADER_BYTES + MIN_CAPACITY) {
      throw new TypeError('Ring.from: buffer must be the SharedArrayBuffer of a Ring');
    }
    const capacity = new Int32Array(buffer, 0, HEADER_BYTES / 4)[CAPACITY]!;
    if (buffer.byteLength !== HEADER_BYTES + capacity) {
      throw new TypeError('Ring.from: buffer must be the SharedArrayBuffer of a Ring');
    }
    return new Ring(buffer);
  }

  get closed(): boolean {
    return Atomics.load(this.words, CLOSED) !== 0;
  }

  /**
   * Closes the ring for every thread: later writes throw RingClosedError,
   * blocked producers wake and throw, `whenClosed()` settles everywhere.
   * Records still inside are the consumer's to discard or report.
   */
  close(): void {
    if (Atomics.exchange(this.words, CLOSED, 1) !== 0) return;
    Atomics.notify(this.words, CLOSED);
    Atomics.notify(this.words, HEAD);
    this.wake.ring();
  }

  /** Resolves (in this thread) once the ring is closed, by any thread. Does not keep the thread alive. */
  async whenClosed(): Promise<void> {
    while (Atomics.load(this.words, CLOSED) === 0) {
      const result = Atomics.waitAsync(this.words, CLOSED, 0);
      if (result.async) await result.value;
    }
  }

  /** Bytes in use: published, reserved or not yet reclaimed by the consumer. */
  depth(): number {
    return (Atomics.load(this.words, TAIL) - Atomics.load(this.words, HEAD)) >>> 0;
  }

  /** @internal The threadId of the thread consuming this ring, or -1. */
  consumerThread(): number {
    return Atomics.load(this.words, CONSUMER) - 1;
  }

  /** @internal Records this thread as the consumer. */
  attachConsumer(): void {
    Atomics.store(this.words, CONSUMER, threadId + 1);
  }
}
