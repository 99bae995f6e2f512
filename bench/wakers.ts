/**
 * The three ways bench:threadsafe wakes an idle thread, behind one
 * interface, so that a raw ring ping-pong can differ in the wake-up alone:
 * - 'bell': the ring's own sleeping mark and doorbell (what multiloop uses);
 * - 'port': a MessagePort message after every record;
 * - 'waitAsync': an event count in shared memory awaited with
 *   `Atomics.waitAsync` and woken with `Atomics.notify` (the wake word's
 *   design before the doorbell).
 */
import type { MessagePort } from 'node:worker_threads';
import type { RingReader } from '../shared/ring_reader.js';

export type WakeKind = 'bell' | 'port' | 'waitAsync';
export const WAKE_KINDS: readonly WakeKind[] = ['bell', 'port', 'waitAsync'];

/** What both sides of a ping-pong share to wake each other, besides their rings. */
export interface WakeChannel {
  /** Each side's end of one MessageChannel ('port'). */
  port: MessagePort;
  /** Four words: the event count and sleeping flag of side 0's inbox, then side 1's ('waitAsync'). */
  words: SharedArrayBuffer;
}

export interface Waker {
  /** After writing into the peer's inbox: wake the peer if it may sleep. */
  signal(): void;
  /**
   * This side may go idle: true if it may sleep (`onWake` runs after the
   * peer's next `signal()`), false if a record already waits in its inbox.
   */
  sleep(onWake: () => void): boolean;
  close(): void;
}

/** Side `side` (0 or 1) of a `kind` wake-up; `reader` reads this side's inbox. */
export function makeWaker(kind: WakeKind, side: 0 | 1, channel: WakeChannel, reader: RingReader): Waker {
  switch (kind) {
    case 'bell':
      return {
        signal: noop, // RingWriter.write rings the peer's bell itself.
        sleep: (onWake) => reader.sleep(onWake),
        close: () => reader.ring.wake.release(),
      };
    case 'port': {
      let wake = noop;
      channel.port.on('message', () => wake());
      return {
        signal: () => channel.port.postMessage(0),
        sleep(onWake) {
          wake = onWake;
          if (!reader.hasRecords()) return true;
          wake = noop;
          return false;
        },
        close: () => channel.port.close(),
      };
    }
    case 'waitAsync':
      return eventCount(new Int32Array(channel.words), side * 2, (1 - side) * 2, reader);
  }
}

/**
 * Sleeps on words[own] (event count) and words[own + 1] (sleeping); wakes
 * the peer through words[peer], words[peer + 1]: the design of the wake-up
 * before the doorbell.
 */
function eventCount(words: Int32Array, own: number, peer: number, reader: RingReader): Waker {
  // One wait at a time, calling the latest sleep()'s callback.
  let waiting = false;
  let wake = noop;
  return {
    signal() {
      if (Atomics.load(words, peer + 1) === 0 || Atomics.compareExchange(words, peer + 1, 1, 0) !== 1) return;
      Atomics.add(words, peer, 1);
      Atomics.notify(words, peer);
    },
    sleep(onWake) {
      wake = onWake;
      if (!waiting) {
        waiting = true;
        const result = Atomics.waitAsync(words, own, Atomics.load(words, own));
        const woken = (): void => {
          waiting = false;
          wake();
        };
        if (result.async) void result.value.then(woken);
        else queueMicrotask(woken);
      }
      Atomics.store(words, own + 1, 1);
      if (!reader.hasRecords()) return true;
      Atomics.store(words, own + 1, 0);
      return false;
    },
    close: noop,
  };
}

function noop(): void {}
