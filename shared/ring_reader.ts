/**
 * RingReader: the consumer side of a ring (the protocol is described in
 * ring.ts): reading records in order, reassembling fragments, freeing
 * space, going to sleep, and waking the producers that wait for space.
 */
import { HEAD, HEADER_BYTES, KIND_MASK, LAPS, LAST_FRAGMENT, PAD, Ring, SLEEPING, TAIL, WAITERS, WHOLE } from './ring.js';

/** The consumer publishes HEAD at least this often (records) within a batch, so producers see the space early. */
const PUBLISH_EVERY = 64;

/** The consumer side of a ring: exactly one per ring, on the thread that owns it. */
export class RingReader {
  readonly ring: Ring;
  #head: number;
  /** HEAD when waiting producers were last notified. */
  #notifiedHead: number;
  /** Fragments received so far, by producer id. */
  readonly #partial = new Map<number, Uint8Array[]>();
  /** The whole buffer as 8-byte words, for zeroing. */
  readonly #longs: BigInt64Array;

  constructor(ring: Ring) {
    this.ring = ring;
    this.#longs = new BigInt64Array(ring.buffer);
    this.#head = Atomics.load(ring.words, HEAD);
    this.#notifiedHead = this.#head;
    ring.attachConsumer();
  }

  /** True when a published record waits at the head. */
  hasRecords(): boolean {
    return Atomics.load(this.ring.words, this.#headSlot()) > 0;
  }

  /** True when producers have reserved space past the head: records still being written, or published since the last read. */
  producersAhead(): boolean {
    return Atomics.load(this.ring.words, TAIL) !== this.#head;
  }

  /**
   * Declares that the consumer may go idle: unless a record already waits
   * at the head, marks the head's slot SLEEPING, so that the producer who
   * publishes there rings this thread's doorbell, which calls `onWake` (as
   * a Node I/O callback). True when the consumer may sleep; false when a
   * record waits (read it: nothing was marked).
   */
  sleep(onWake: () => void): boolean {
    this.ring.wake.listen(onWake);
    const seen = Atomics.compareExchange(this.ring.words, this.#headSlot(), 0, SLEEPING);
    return seen === 0 || seen === SLEEPING;
  }

  /** The word index of the header slot at the head. */
  #headSlot(): number {
    return HEADER_BYTES / 4 + ((this.#head & this.ring.mask) >> 2);
  }

  /**
   * Delivers up to `max` whole records to `visit(bytes, start, end)`, in
   * ring order, and frees their space. `bytes` is the ring's memory (valid
   * only during the call) or, for a reassembled record, a fresh array.
   * Returns how many records were delivered. An exception from `visit`
   * propagates after the record is consumed: nothing is delivered twice.
   * Producers waiting for space are woken once a quarter of the ring is
   * free, or when the read finds no more records; a consumer that stops
   * with records left calls `notifyProducers`.
   */
  read(visit: (bytes: Uint8Array, start: number, end: number) => void, max: number): number {
    const ring = this.ring;
    const words = ring.words;
    const data = ring.bytes;
    const base = HEADER_BYTES / 4;
    let head = this.#head;
    let delivered = 0;
    let sincePublish = 0;
    try {
      while (delivered < max) {
        const at = head & ring.mask;
        const header = Atomics.load(words, base + (at >> 2));
        if (header <= 0) break; // unpublished, or marked SLEEPING
        const kind = header & KIND_MASK;
        const length = header >>> 2;
        const size = kind === PAD ? length : 4 + ((length + 3) & ~3);
        head = (head + size) | 0;
        // If visit throws, the record is consumed all the same: the finally below publishes `head`.
        if (kind === WHOLE) {
          delivered++;
          visit(data, at + 4, at + 4 + length);
        } else if (kind !== PAD && this.#collect(kind, at + 4, length, visit)) {
          delivered++;
        }
        // A whole lap consumed (the ring was full): the next header is this batch's first, not yet zeroed.
        if (++sincePublish === PUBLISH_EVERY || ((head - this.#head) >>> 0) === ring.capacity) {
          sincePublish = 0;
          this.#publish(head);
          // Waking a blocked producer costs a futex wake on each side: do it once a quarter of the ring is free, not every few records.
          if (((head - this.#notifiedHead) >>> 0) >= ring.capacity / 4) this.#notifyWaiters(head);
        }
      }
    } finally {
      if (head !== this.#head) this.#publish(head);
      // A read that stopped at `max` is one batch of a drain that goes on: waking the producers now would cost each a futex round trip per batch.
      if (delivered < max) this.notifyProducers();
    }
    return delivered;
  }

  /** Wakes the producers waiting for space the consumer has freed: call it when a drain stops with records left. */
  notifyProducers(): void {
    if (this.#head !== this.#notifiedHead) this.#notifyWaiters(this.#head);
  }

  /** Adds a fragment; delivers the record when it is the last. True if a record was delivered. */
  #collect(kind: number, at: number, length: number, visit: (bytes: Uint8Array, start: number, end: number) => void): boolean {
    const producer = this.ring.view.getUint32(at, true);
    const piece = this.ring.bytes.slice(at + 4, at + length);
    let pieces = this.#partial.get(producer);
    if (pieces === undefined) this.#partial.set(producer, (pieces = []));
    pieces.push(piece);
    if (kind !== LAST_FRAGMENT) return false;
    this.#partial.delete(producer);
    const whole = new Uint8Array(pieces.reduce((n, p) => n + p.byteLength, 0));
    let offset = 0;
    for (const p of pieces) {
      whole.set(p, offset);
      offset += p.byteLength;
    }
    visit(whole, 0, whole.byteLength);
    return true;
  }

  /**
   * Zeroes the records consumed since the last publish (free space must
   * read as zero: an unpublished header is 0), then hands their space to
   * the producers. One fill per batch costs less than a loop per record.
   */
  #publish(head: number): void {
    const ring = this.ring;
    const from = this.#head & ring.mask;
    const to = head & ring.mask;
    if (from < to) {
      this.#zero(from, to);
    } else {
      // Wrapped, or a whole lap (from === to) when the ring was full.
      this.#zero(from, ring.capacity);
      this.#zero(0, to);
    }
    const wrapped = head >>> 0 < this.#head >>> 0;
    this.#head = head;
    Atomics.store(ring.words, HEAD, head);
    if (wrapped) Atomics.add(ring.words, LAPS, 1);
  }

  /**
   * Zeroes data bytes [from, to) (both multiples of 4). `fill` on shared
   * memory stores element by element, so the widest elements win: 8-byte
   * stores measured 5x faster than a byte-wise fill, 1.7x faster than 4-byte.
   */
  #zero(from: number, to: number): void {
    if (from === to) return;
    const words = this.ring.words;
    const base = HEADER_BYTES / 4;
    if ((from & 7) !== 0) {
      words[base + (from >> 2)] = 0;
      from += 4;
    }
    if ((to & 7) !== 0 && to > from) {
      to -= 4;
      words[base + (to >> 2)] = 0;
    }
    this.#longs.fill(0n, (HEADER_BYTES + from) >> 3, (HEADER_BYTES + to) >> 3);
  }

  /** Wakes the producers waiting for space, if any (HEAD is published). */
  #notifyWaiters(head: number): void {
    const words = this.ring.words;
    if (Atomics.load(words, WAITERS) === 0) return;
    this.#notifiedHead = head;
    Atomics.notify(words, HEAD);
  }
}
