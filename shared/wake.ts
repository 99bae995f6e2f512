/**
 * WakeWord: how producers wake a consumer that may be idle, without the
 * consumer polling and without losing a wake-up.
 *
 * It is an event count over two words of shared memory: EPOCH, which
 * producers bump, and SLEEPING, which the consumer raises when it may
 * stop looking at its queue. The consumer reads EPOCH, raises SLEEPING,
 * re-checks its queue, and only then waits for EPOCH to move from the value
 * it read. A producer publishes its item first, then looks at SLEEPING; the
 * one producer that lowers it bumps EPOCH and notifies. With sequentially
 * consistent atomics either the consumer's re-check sees the item or the
 * producer sees SLEEPING, so a wake-up is never lost — which a plain
 * "sleeping" flag cannot promise — and a burst of items costs one notify.
 *
 * The consumer waits with `Atomics.waitAsync`, never `Atomics.wait`: its
 * thread keeps doing I/O while it waits. A pending `waitAsync` does not keep
 * a thread alive; whoever relies on being woken must hold a ref'd handle.
 */
export class WakeWord {
  readonly #words: Int32Array;
  readonly #epoch: number;
  readonly #sleeping: number;
  /** Consumer side: a waitAsync is outstanding (at most one at a time, whatever the number of arm() calls). */
  #waiting = false;
  /** Consumer side: what the outstanding wait calls when it ends (the latest arm()'s). */
  #onWake: () => void = noop;

  /** A wake word over `words[epochIndex]` and `words[sleepingIndex]` (both start at 0). */
  constructor(words: Int32Array, epochIndex: number, sleepingIndex: number) {
    this.#words = words;
    this.#epoch = epochIndex;
    this.#sleeping = sleepingIndex;
  }

  /**
   * Producer: call after publishing an item. Notifies the consumer only if
   * it may be asleep, and then only once until it re-arms.
   */
  signal(): void {
    const words = this.#words;
    if (Atomics.load(words, this.#sleeping) === 0) return;
    if (Atomics.compareExchange(words, this.#sleeping, 1, 0) !== 1) return;
    Atomics.add(words, this.#epoch, 1);
    Atomics.notify(words, this.#epoch);
  }

  /**
   * Consumer: declares that it may go idle. `onWake` runs (from a Node task)
   * after the next `signal()`, or spuriously; the caller must re-check its
   * queue after `arm()` returns, and `disarm()` if it found work.
   */
  arm(onWake: () => void): void {
    const words = this.#words;
    this.#onWake = onWake;
    if (!this.#waiting) {
      for (;;) {
        const epoch = Atomics.load(words, this.#epoch);
        const result = Atomics.waitAsync(words, this.#epoch, epoch);
        if (result.async) {
          this.#waiting = true;
          void result.value.then(() => {
            this.#waiting = false;
            this.#onWake();
          });
          break;
        }
        // EPOCH moved between the load and the wait: a signal of the past; wait on the new value.
      }
    }
    Atomics.store(words, this.#sleeping, 1);
  }

  /** Consumer: it is awake after all (its re-check found work); producers need not notify. */
  disarm(): void {
    Atomics.store(this.#words, this.#sleeping, 0);
  }

  /** How many wake-ups producers have sent so far (each one a notify). */
  epoch(): number {
    return Atomics.load(this.#words, this.#epoch);
  }

  /** Wakes any consumer waiting, whatever SLEEPING says: used when the queue closes. */
  wakeAll(): void {
    Atomics.add(this.#words, this.#epoch, 1);
    Atomics.notify(this.#words, this.#epoch);
  }
}

function noop(): void {}
