/**
 * WakeWord: how producers wake a consumer that may be idle, without the
 * consumer polling and without losing a wake-up.
 *
 * Three words of shared memory: SLEEPING, which the consumer raises when it
 * may stop looking at its queue; BELL, the id of the consumer thread's
 * doorbell (native/src/doorbell.cc: a uv_async_t on its libuv loop that any
 * thread may ring); and EPOCH, which counts the wake-ups sent. The consumer
 * raises SLEEPING, then re-checks its queue. A producer publishes its item
 * first, then looks at SLEEPING; the one producer that lowers it rings the
 * bell. With sequentially consistent atomics either the consumer's re-check
 * sees the item or the producer sees SLEEPING, so a wake-up is never lost,
 * and a burst of items costs one ring.
 *
 * Why a doorbell rather than `Atomics.waitAsync` or a MessagePort: from an
 * idle thread, a ring is uv_async_send alone, where `Atomics.notify` goes
 * through V8's waiter list and a platform task and postMessage through the
 * port's queue; `bench:threadsafe` measures the three (wake_rtt_*).
 *
 * The bell never keeps its thread alive; whoever relies on being woken must
 * hold a ref'd handle.
 */
import { native } from '../native/index.js';

export class WakeWord {
  readonly #words: Int32Array;
  readonly #epoch: number;
  readonly #sleeping: number;
  readonly #bell: number;
  /** Consumer side: this thread's doorbell for the word, opened by the first arm() (0: none). */
  #ownBell = 0;
  /** Consumer side: what a ring calls (the latest arm()'s). */
  #onWake: () => void = noop;

  /** A wake word over `words[epochIndex]`, `words[epochIndex + 1]` and `words[epochIndex + 2]` (all start at 0). */
  constructor(words: Int32Array, epochIndex: number) {
    this.#words = words;
    this.#epoch = epochIndex;
    this.#sleeping = epochIndex + 1;
    this.#bell = epochIndex + 2;
  }

  /**
   * Producer: call after publishing an item. Wakes the consumer only if
   * it may be asleep, and then only once until it re-arms.
   */
  signal(): void {
    const words = this.#words;
    if (Atomics.load(words, this.#sleeping) === 0) return;
    if (Atomics.compareExchange(words, this.#sleeping, 1, 0) !== 1) return;
    Atomics.add(words, this.#epoch, 1);
    native.doorbellRing(Atomics.load(words, this.#bell));
  }

  /**
   * Consumer: declares that it may go idle. `onWake` runs (as a Node I/O
   * callback of this thread) after the next `signal()`, or spuriously; the
   * caller must re-check its queue after `arm()` returns, and `disarm()`
   * if it found work.
   */
  arm(onWake: () => void): void {
    this.#onWake = onWake;
    if (this.#ownBell === 0) {
      this.#ownBell = native.doorbellOpen(this.#rung);
      Atomics.store(this.#words, this.#bell, this.#ownBell);
    }
    Atomics.store(this.#words, this.#sleeping, 1);
  }

  /** Consumer: it is awake after all (its re-check found work); producers need not ring. */
  disarm(): void {
    Atomics.store(this.#words, this.#sleeping, 0);
  }

  /** Consumer: closes this thread's doorbell; `onWake` is not called again. Harmless when never armed. */
  release(): void {
    if (this.#ownBell === 0) return;
    native.doorbellClose(this.#ownBell);
    this.#ownBell = 0;
    this.#onWake = noop;
  }

  /** How many wake-ups producers have sent so far (each one a ring). */
  epoch(): number {
    return Atomics.load(this.#words, this.#epoch);
  }

  /** Wakes the consumer whatever SLEEPING says: used when the queue closes. */
  wakeAll(): void {
    Atomics.add(this.#words, this.#epoch, 1);
    const bell = Atomics.load(this.#words, this.#bell);
    if (bell !== 0) native.doorbellRing(bell);
  }

  readonly #rung = (): void => {
    this.#onWake();
  };
}

function noop(): void {}
