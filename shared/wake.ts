/**
 * WakeWord: how producers wake a consumer that may be idle, without the
 * consumer polling: the consumer thread's doorbell and a count of
 * wake-ups, in two words of shared memory. BELL is the id of the consumer
 * thread's doorbell (native/src/doorbell.cc: a uv_async_t on its libuv
 * loop that any thread may ring); EPOCH counts the wake-ups sent.
 *
 * Who rings, and when, is the queue's business: a ring marks the slot its
 * consumer waits on, and the one producer whose publication replaces that
 * mark rings (ring.ts). A burst of records thus costs one ring, and a
 * record costs its producer no atomic operation beyond its publication.
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
  readonly #bell: number;
  /** Consumer side: this thread's doorbell for the word, opened by the first listen() (0: none). */
  #ownBell = 0;
  /** Consumer side: what a ring calls (the latest listen()'s). */
  #onWake: () => void = noop;

  /** A wake word over `words[epochIndex]` and `words[epochIndex + 1]` (both start at 0). */
  constructor(words: Int32Array, epochIndex: number) {
    this.#words = words;
    this.#epoch = epochIndex;
    this.#bell = epochIndex + 1;
  }

  /**
   * Consumer: `onWake` runs (as a Node I/O callback of this thread) at the
   * next `ring()`, or spuriously. Opens this thread's doorbell the first time.
   */
  listen(onWake: () => void): void {
    this.#onWake = onWake;
    if (this.#ownBell === 0) {
      this.#ownBell = native.doorbellOpen(this.#rung);
      Atomics.store(this.#words, this.#bell, this.#ownBell);
    }
  }

  /** Consumer: closes this thread's doorbell; `onWake` is not called again. Harmless when never listened. */
  release(): void {
    if (this.#ownBell === 0) return;
    native.doorbellClose(this.#ownBell);
    this.#ownBell = 0;
    this.#onWake = noop;
  }

  /** Any thread: wakes the consumer (counted), if it has a doorbell. */
  ring(): void {
    Atomics.add(this.#words, this.#epoch, 1);
    const bell = Atomics.load(this.#words, this.#bell);
    if (bell !== 0) native.doorbellRing(bell);
  }

  /** How many wake-ups have been sent so far. */
  epoch(): number {
    return Atomics.load(this.#words, this.#epoch);
  }

  readonly #rung = (): void => {
    this.#onWake();
  };
}

function noop(): void {}
