/**
 * RingWriter: one thread's producer side of a ring (the protocol is
 * described in ring.ts): reserving, copying, publishing, and waiting for
 * space (spinning, sleeping or spilling). Small calls take a shorter way
 * in when the ring has room (call_in_place.ts).
 */
import { performance } from 'node:perf_hooks';
import { threadId } from 'node:worker_threads';
import { CLOSED, FRAGMENT, HEAD, HEADER_BYTES, LAPS, LAST_FRAGMENT, PAD, PRODUCER_IDS, Ring, RingClosedError, SLEEPING, SPINNER, TAIL, WAITERS, WHOLE } from './ring.js';

/** How long a blocked producer sleeps between checks that the ring is still open. */
const BLOCK_SLICE_MS = 50;
/** How long a producer spins for space before it sleeps: several times the ~10 µs between two of a busy consumer's HEAD publications. */
const SPIN_MS = 0.1;
/** How long a spinner's claim holds (ms): far longer than a spin, unless its thread ended mid-spin. */
const SPIN_LEASE_MS = 10;

/**
 * A producer's copy of HEAD, kept from one write to the next to spare a
 * load of the line the consumer writes. An old copy is safe, just
 * pessimistic (HEAD only moves forward), with one exception: positions
 * wrap at 2^32, so a copy taken 4 GiB of traffic ago would pass for a
 * recent one and let its writer overwrite records not yet read. The
 * consumer counts its wraps (LAPS), and a copy from another lap is
 * reloaded.
 */
export class HeadCache {
  #head = 0;
  #laps = -1; // no lap: the first use loads

  /** The bytes in use from HEAD to `tail`, by this copy, reloaded when it says `need` more do not fit or is from another lap. */
  used(words: Int32Array, tail: number, need: number, capacity: number): number {
    let used = (tail - this.#head) >>> 0;
    if (used + need > capacity || words[LAPS] !== this.#laps) {
      this.#laps = Atomics.load(words, LAPS);
      this.#head = Atomics.load(words, HEAD);
      used = (tail - this.#head) >>> 0;
    }
    return used;
  }
}

/** A record not yet fully written: its bytes, its length, and how far writing has got. */
interface Spilled {
  readonly bytes: Uint8Array;
  readonly length: number;
  offset: number;
}

/**
 * One thread's producer side of a ring. Use a single writer per ring per
 * thread (`writerFor` in directory.ts does): FIFO is per writer.
 */
export class RingWriter {
  readonly ring: Ring;
  #producerId = 0;
  readonly #head = new HeadCache();
  /** The last source copied from (usually the codec's scratch), and a word view of it if it is 4-aligned. */
  #src: Uint8Array | null = null;
  #srcWords: Int32Array | null = null;
  readonly #spilled: Spilled[] = [];
  #spilledHead = 0;
  /** A waitAsync for space is outstanding. */
  #flushScheduled = false;
  #keepAlive: NodeJS.Timeout | null = null;
  #whenEmpty: (() => void)[] = [];
  readonly #onDiscard: (records: number, error: RingClosedError) => void;

  /**
   * `onDiscard` hears about spilled records that could not be written
   * because the ring closed before space freed up (the writes themselves
   * had already returned).
   */
  constructor(ring: Ring, onDiscard: (records: number, error: RingClosedError) => void) {
    this.ring = ring;
    this.#onDiscard = onDiscard;
  }

  /** Records waiting in this writer's overflow queue. */
  get spilled(): number {
    return this.#spilled.length - this.#spilledHead;
  }

  /** Settles once the overflow queue is empty: every record written, or discarded (and reported) because the ring closed. */
  flushed(): Promise<void> {
    if (this.spilled === 0) return Promise.resolve();
    return new Promise((resolve) => this.#whenEmpty.push(resolve));
  }

  /**
   * Queues the first `length` bytes of `bytes` (copied before returning)
   * as one record. When the ring is full, blocks if `mayBlock` (never on
   * the ring's own consumer thread), else spills (see the top of this
   * file). Throws RingClosedError if the ring is closed.
   */
  write(bytes: Uint8Array, mayBlock: boolean, length = bytes.byteLength): void {
    const ring = this.ring;
    // A plain read: a close racing with this write is the same as one just after it.
    if (ring.words[CLOSED] !== 0) throw new RingClosedError(`ring ${ring.id} is closed`);
    if (this.#spilledHead === this.#spilled.length && length <= ring.maxRecord && this.#put(WHOLE, bytes, 0, length)) return;
    if (mayBlock && ring.consumerThread() !== threadId) {
      this.#drainSpilledBlocking();
      this.#writeBlocking({ bytes, length, offset: 0 });
      return;
    }
    this.#spilled.push({ bytes: bytes.slice(0, length), length, offset: 0 });
    this.#flushSpilled();
  }

  /** Writes as much of `item` as fits now; true once it is entirely in the ring. */
  #advance(item: Spilled): boolean {
    const { bytes, length: total } = item;
    const ring = this.ring;
    if (item.offset === 0 && total <= ring.maxRecord) {
      if (!this.#put(WHOLE, bytes, 0, total)) return false;
      item.offset = total;
      return true;
    }
    if (this.#producerId === 0) this.#producerId = Atomics.add(ring.words, PRODUCER_IDS, 1) + 1;
    const piece = ring.maxRecord - 4;
    while (item.offset < total) {
      const n = Math.min(piece, total - item.offset);
      const kind = item.offset + n === total ? LAST_FRAGMENT : FRAGMENT;
      if (!this.#put(kind, bytes, item.offset, n)) break;
      item.offset += n;
    }
    return item.offset === total;
  }

  /** Stores `header` at data offset `at`; the producer that replaces the consumer's SLEEPING mark rings its doorbell. */
  #publishHeader(at: number, header: number): void {
    const ring = this.ring;
    if (Atomics.exchange(ring.words, HEADER_BYTES / 4 + (at >> 2), header) === SLEEPING) ring.wake.ring();
  }

  /**
   * Reserves and publishes one record of `length` bytes of `src` from
   * `start` (prefixed by the producer id for fragments). False when full.
   */
  #put(kind: number, src: Uint8Array, start: number, length: number): boolean {
    const payload = kind === WHOLE ? length : length + 4;
    const at = this.#reserve(payload);
    if (at < 0) return false;
    const words = this.ring.words;
    const base = HEADER_BYTES / 4;
    let body = at + 4;
    if (kind !== WHOLE) {
      words[base + (body >> 2)] = this.#producerId;
      body += 4;
    }
    this.#copy(src, start, length, body);
    this.#publishHeader(at, (payload << 2) | kind);
    return true;
  }

  /**
   * Reserves room for a record of `payload` bytes and returns the data
   * offset of its header (still 0: unpublished), or -1 when full. A
   * record never wraps: the rest of the buffer becomes a PAD record.
   */
  #reserve(payload: number): number {
    const ring = this.ring;
    const words = ring.words;
    const size = 4 + ((payload + 3) & ~3);
    const capacity = ring.capacity;
    // Atomics cost ~10 ns each here (V8 calls a builtin for each), so a
    // record takes two: the compare-and-swap and the header's exchange. TAIL is
    // first read plainly (a guess the compare-and-swap checks), and HEAD
    // comes from this writer's copy (HeadCache).
    let tail = words[TAIL]!;
    let at: number;
    let need: number;
    for (;;) {
      at = tail & ring.mask;
      need = capacity - at < size ? capacity - at + size : size;
      const used = this.#head.used(words, tail, need, capacity);
      if (used > capacity) {
        // The guess is older than HEAD.
        tail = Atomics.load(words, TAIL);
        continue;
      }
      if (used + need > capacity) return -1;
      const seen = Atomics.compareExchange(words, TAIL, tail, (tail + need) | 0);
      if (seen === tail) break;
      tail = seen;
    }
    if (need !== size) {
      this.#publishHeader(at, ((need - size) << 2) | PAD);
      at = 0;
    }
    return at;
  }

  /** Copies `length` bytes of `src` from `start` to data offset `to` (4-aligned). */
  #copy(src: Uint8Array, start: number, length: number, to: number): void {
    if (length <= 256) {
      // Small records (the common call) go word by word: a view for set() costs more than the copy.
      // The last word may carry up to 3 bytes past the record; they land in its padding, which the consumer zeroes.
      if (src !== this.#src) {
        this.#src = src;
        this.#srcWords = (src.byteOffset & 3) === 0 ? new Int32Array(src.buffer, src.byteOffset, src.byteLength >> 2) : null;
      }
      const words = this.#srcWords;
      const first = start >> 2;
      if (words !== null && (start & 3) === 0 && first + ((length + 3) >> 2) <= words.length) {
        const end = first + ((length + 3) >> 2);
        const ringWords = this.ring.words;
        for (let i = first, j = (HEADER_BYTES + to) >> 2; i < end; i++, j++) ringWords[j] = words[i]!;
        return;
      }
    }
    this.ring.bytes.set(src.subarray(start, start + length), to);
  }

  /** Writes the overflow queue into the ring as space frees, without blocking. */
  #flushSpilled(): void {
    const ring = this.ring;
    const words = ring.words;
    if (this.#flushScheduled) return;
    while (this.#spilledHead < this.#spilled.length) {
      if (ring.closed) return this.#discardSpilled();
      // Read HEAD before trying: if the consumer moves it after the try, the wait below returns at once.
      const head = Atomics.load(words, HEAD);
      Atomics.add(words, WAITERS, 1);
      if (this.#advance(this.#spilled[this.#spilledHead]!)) {
        Atomics.sub(words, WAITERS, 1);
        this.#spilledHead++;
        continue;
      }
      const result = Atomics.waitAsync(words, HEAD, head);
      if (!result.async) {
        Atomics.sub(words, WAITERS, 1);
        continue;
      }
      this.#flushScheduled = true;
      this.#keepAlive ??= setInterval(noop, 2 ** 31 - 1);
      void result.value.then(() => {
        Atomics.sub(words, WAITERS, 1);
        this.#flushScheduled = false;
        this.#flushSpilled();
      });
      return;
    }
    this.#emptied();
  }

  #discardSpilled(): void {
    const records = this.spilled;
    this.#emptied();
    this.#onDiscard(records, new RingClosedError(`ring ${this.ring.id} closed before ${records} queued record(s) could be written`));
  }

  /** The overflow queue is empty: forget it, let the thread end, tell whoever awaits `flushed()`. */
  #emptied(): void {
    this.#spilled.length = 0;
    this.#spilledHead = 0;
    // A flush may still wait on HEAD (the queue was drained by blocking); it will find nothing, and must not keep the thread alive.
    if (this.#keepAlive !== null) clearInterval(this.#keepAlive);
    this.#keepAlive = null;
    const waiting = this.#whenEmpty;
    this.#whenEmpty = [];
    for (const resolve of waiting) resolve();
  }

  #drainSpilledBlocking(): void {
    if (this.#spilledHead === this.#spilled.length) return;
    while (this.#spilledHead < this.#spilled.length) {
      this.#writeBlocking(this.#spilled[this.#spilledHead]!);
      this.#spilledHead++;
    }
    this.#emptied();
  }

  /** Writes all of `item`, spinning, then sleeping, on HEAD while the ring is full. */
  #writeBlocking(item: Spilled): void {
    const words = this.ring.words;
    for (;;) {
      const head = Atomics.load(words, HEAD);
      if (this.#advance(item)) return;
      if (spinWhile(words, head)) continue;
      // After the spin, so that a close during it is not slept through.
      if (this.ring.closed) throw new RingClosedError(`ring ${this.ring.id} closed while a producer waited for space`);
      Atomics.add(words, WAITERS, 1);
      Atomics.wait(words, HEAD, head, BLOCK_SLICE_MS);
      Atomics.sub(words, WAITERS, 1);
    }
  }
}

/**
 * Spins until HEAD moves from `head` (true) or SPIN_MS pass (false);
 * false at once if another producer already spins on this ring. The
 * spinner's claim on SPINNER is the wall-clock time (ms, modulo 2^32) at
 * which it lapses, so that a claim left by a thread terminated mid-spin
 * is taken over once it lapses, rather than keeping every producer of the
 * ring from spinning for good. Clocks only steer who spins: a wrong
 * reading makes two producers spin at once, or none, and loses nothing.
 */
function spinWhile(words: Int32Array, head: number): boolean {
  const now = Date.now();
  const held = Atomics.load(words, SPINNER);
  if (held !== 0 && (((now | 0) - held) | 0) < 0) return false;
  const claim = (now + SPIN_LEASE_MS) | 0 || 1;
  if (Atomics.compareExchange(words, SPINNER, held, claim) !== held) return false;
  const deadline = performance.now() + SPIN_MS;
  let moved = false;
  // The clock costs more than a load: read it every 16 loads.
  for (let i = 1; !moved; i++) {
    moved = Atomics.load(words, HEAD) !== head;
    if ((i & 15) === 0 && performance.now() > deadline) break;
  }
  // Unless another producer has taken over a claim that lapsed meanwhile (this thread was descheduled).
  Atomics.compareExchange(words, SPINNER, claim, 0);
  return moved;
}

function noop(): void {}
