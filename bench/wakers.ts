/**
 * The three ways bench:threadsafe wakes an idle thread, behind one
 * interface, so that a raw ring ping-pong can differ in the wake-up alone:
 * - 'bell': the ring's own wake word (the native doorbell multiloop uses);
 * - 'port': a MessagePort message after every record;
 * - 'waitAsync': an event count in shared memory awaited with
 *   `Atomics.waitAsync` and woken with `Atomics.notify` (the wake word's
 *   design before the doorbell).
 */
import type { MessagePort } from 'node:worker_threads';
import type { Ring } from '../shared/ring.js';

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
  /** This side may sleep: `onWake` runs after the peer's next `signal()`. Re-check the inbox after arming. */
  arm(onWake: () => void): void;
  /** The re-check found work: no wake-up needed. */
  disarm(): void;
  close(): void;
}

/** Side `side` (0 or 1) of a `kind` wake-up; `inbox` is the ring this side reads. */
export function makeWaker(kind: WakeKind, side: 0 | 1, channel: WakeChannel, inbox: Ring): Waker {
  switch (kind) {
    case 'bell':
      return {
        signal: noop, // RingWriter.write rings the peer's bell itself.
        arm: (onWake) => inbox.wake.arm(onWake),
        disarm: () => inbox.wake.disarm(),
        close: () => inbox.wake.release(),
      };
    case 'port': {
      let wake = noop;
      channel.port.on('message', () => wake());
      return {
        signal: () => channel.port.postMessage(0),
        arm: (onWake) => void (wake = onWake),
        disarm: () => void (wake = noop),
        close: () => channel.port.close(),
      };
    }
    case 'waitAsync':
      return eventCount(new Int32Array(channel.words), side * 2, (1 - side) * 2);
  }
}

/** Sleeps on words[own] (event count) and words[own + 1] (sleeping); wakes the peer through words[peer], words[peer + 1]. */
function eventCount(words: Int32Array, own: number, peer: number): Waker {
  // One wait at a time, calling the latest arm()'s callback, as the wake word did.
  let waiting = false;
  let wake = noop;
  return {
    signal() {
      if (Atomics.load(words, peer + 1) === 0 || Atomics.compareExchange(words, peer + 1, 1, 0) !== 1) return;
      Atomics.add(words, peer, 1);
      Atomics.notify(words, peer);
    },
    arm(onWake) {
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
    },
    disarm: () => Atomics.store(words, own + 1, 0),
    close: noop,
  };
}

function noop(): void {}
