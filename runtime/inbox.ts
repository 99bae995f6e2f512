/**
 * Inbox: the consuming end of a loop's ring, on the loop's thread.
 *
 * It drains the ring at the start of every loop iteration (an iteration
 * hook), under a time budget: a flood from other threads is served in
 * slices, between which the loop's own timers, callbacks and I/O run.
 * When the ring is empty the inbox marks it sleeping (RingReader.sleep),
 * so an idle loop sleeps without polling; the next producer rings its
 * doorbell, and the inbox drains at once, as an I/O event's callback would
 * run (`_callIo`). When it catches up with producers still writing, it
 * reads again a little later rather than sleeping (CATCH_UP_GAP_MS).
 *
 * Small calls of the name called last are read in place and run here
 * (CallInPlaceReader); every other record goes through the Decoder to the
 * handler.
 */
import { performance } from 'node:perf_hooks';
import { Decoder } from '../shared/codec.js';
import type { CallInPlaceReader } from '../shared/call_in_place.js';
import { readMessage, type MessageHandler } from '../shared/messages.js';
import type { Ring } from '../shared/ring.js';
import { RingReader } from '../shared/ring_reader.js';
import type { BaseEventLoop } from './base_events.js';
import type { AnyCallback } from './validate.js';

/** Longest time one iteration spends draining the ring (ms): half the loop's 2 ms slice. */
const BUDGET_MS = 1;
/** Records drained between two looks at the clock. */
const BATCH = 64;
/**
 * How long the inbox waits before reading again once it has caught up with
 * producers still writing (ms). Reading right behind a producer pulls each
 * cache line across while the producer still fills it (a faster drain made
 * one producer's flood 10-20% slower), and sleeping would cost that
 * producer a doorbell per catch-up; in 50 µs a flood gets a few hundred
 * records ahead. The loop runs its other work meanwhile.
 */
const CATCH_UP_GAP_MS = 0.05;

export class Inbox {
  readonly ring: Ring;
  readonly #loop: BaseEventLoop;
  readonly #handler: MessageHandler;
  readonly #reader: RingReader;
  readonly #decoder: Decoder;
  readonly #calls: CallInPlaceReader<AnyCallback>;
  readonly #unhook: () => void;
  /** When caught up with producers still writing: the time to read again (0: not waiting). */
  #readAt = 0;

  /**
   * Starts draining `ring` on `loop` (this thread becomes its consumer),
   * passing each message to `handler`, except the small calls `calls`
   * recognises, which it runs itself.
   */
  constructor(loop: BaseEventLoop, ring: Ring, handler: MessageHandler, calls: CallInPlaceReader<AnyCallback>) {
    this.ring = ring;
    this.#loop = loop;
    this.#handler = handler;
    this.#calls = calls;
    this.#reader = new RingReader(ring);
    this.#decoder = new Decoder(ring.bytes);
    this.#unhook = loop._addIterationHook(this.#drain);
  }

  /**
   * Stops draining and closes the ring: producers now get RingClosedError
   * and callers awaiting this loop fail. Returns how many messages were
   * still inside (they are dropped, as `close()` drops pending callbacks).
   */
  close(): number {
    this.#unhook();
    this.ring.close();
    this.ring.wake.release();
    return this.#reader.read(noop, Infinity);
  }

  /** The iteration hook: true while messages remain after this iteration's budget, or the inbox waits to read again. */
  readonly #drain = (): boolean => {
    const reader = this.#reader;
    const start = performance.now();
    if (start < this.#readAt) return true;
    this.#readAt = 0;
    const deadline = start + BUDGET_MS;
    let read = 0;
    let batch: number;
    while ((batch = reader.read(this.#visit, BATCH)) === BATCH || reader.hasRecords()) {
      read += batch;
      if (performance.now() >= deadline) {
        // The loop's own work goes next: producers blocked on a full ring may fill what was freed meanwhile.
        reader.notifyProducers();
        return true;
      }
    }
    // Once per catch-up: a producer stalled mid-write (descheduled) is then waited for asleep.
    if (read + batch > 0 && reader.producersAhead()) {
      this.#readAt = performance.now() + CATCH_UP_GAP_MS;
      return true;
    }
    return !reader.sleep(this.#wake);
  };

  /**
   * A producer woke this loop: drain now, as any I/O event's callback runs
   * (`_callIo`), rather than a loop turn later; what the budget leaves is
   * for the next iterations.
   */
  readonly #wake = (): void => {
    // Closing the ring wakes the wait too; the loop is closing, nothing to drain.
    if (!this.ring.closed) this.#loop._callIoUntimed(this.#drainNow);
  };

  readonly #drainNow = (): void => {
    if (this.#drain()) this.#loop._wakeup();
  };

  readonly #visit = (bytes: Uint8Array, start: number): void => {
    let decoder = this.#decoder;
    if (bytes === this.ring.bytes) {
      const calls = this.#calls;
      if (calls.match(bytes, this.ring.view, start)) return this.#loop._runCallback(calls.target!, calls.argc, calls.a0, calls.a1, calls.a2);
    } else {
      // A record reassembled from fragments, in memory of its own.
      decoder = new Decoder(bytes);
    }
    decoder.pos = start;
    try {
      readMessage(decoder, this.#handler);
    } catch (exception) {
      this.#loop.callExceptionHandler({ message: 'Exception while reading a message from another thread', exception });
    }
  };
}

function noop(): void {}
