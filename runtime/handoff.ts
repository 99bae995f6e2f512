/**
 * Hand-off: how an accepted connection passes from the coordinator to the
 * worker loop that will serve it, without its bytes ever passing through
 * the coordinator.
 *
 * The coordinator accepts with raw `accept4` (native layer) and sends the
 * new fd's number through the worker loop's ring (one small record, no
 * postMessage); the worker serves that fd directly with an FdTransport
 * (native poll layer) for protocol and streams servers, or wraps it in a
 * `net.Socket` of its own libuv loop where Node streams are needed (TLS,
 * HTTP: `takeHandoff`). fds are per process, so the number is all that
 * needs to travel.
 * This path works on every Node version (Node 26 can also transfer a
 * libuv-accepted `net.Socket` with postMessage, but that costs a libuv
 * accept, a JS socket object and a postMessage per connection in the
 * coordinator: see bench/RESULTS.md).
 *
 * No fd may leak, even when a worker dies with hand-offs still in its ring.
 * The coordinator keeps the fds it handed to each worker, in order; the
 * worker counts each hand-off it takes, in shared memory, *before* it wraps
 * the fd (from then on the worker owns it — its libuv handle or its native
 * Socket — and closes it, even when the thread dies). A ring is FIFO, so the fds past that count were never
 * taken: `reclaim()` closes exactly those. Counting before wrapping means a
 * worker killed between the two leaks that one fd, rather than the
 * coordinator closing a number that the process may already have reused.
 */
import net from 'node:net';
import { native } from '../native/index.js';
import type { LoopRef } from '../shared/loopref.js';
import type { LoopStats } from './loop_stats.js';

/** The name under which every worker loop registers the receiving end (worker_server.ts). */
export const CONNECTION_CALL = 'multiloop.connection';

/** Compact the queue of unconfirmed fds once this many confirmed ones sit at its head. */
const COMPACT_AT = 1024;

/** The coordinator's side of one worker's hand-offs. */
export class HandoffQueue {
  readonly #ref: LoopRef;
  readonly #stats: LoopStats;
  /** fds handed and perhaps not yet taken: `#fds[#head]` is hand-off number `#base`. */
  #fds: number[] = [];
  #head = 0;
  #base = 0;

  constructor(ref: LoopRef, stats: LoopStats) {
    this.#ref = ref;
    this.#stats = stats;
  }

  /**
   * Sends `fd` (a socket of `family`, accepted for server `serverId`) to
   * the worker, which owns it from now on. Throws (RingClosedError) if the
   * worker's loop is closed; `fd` is then still the caller's.
   */
  hand(serverId: number, fd: number, family: number): void {
    this.#ref.callSoonThreadsafe(CONNECTION_CALL, serverId, fd, family);
    this.#fds.push(fd);
    this.#forgetTaken();
  }

  /** Hand-offs sent and not yet taken by the worker. */
  inFlight(): number {
    // Hand-offs sent so far are `#base` plus those still queued.
    return (this.#base + this.#fds.length - this.#head - this.#stats.taken) >>> 0;
  }

  /** Closes every fd the worker never took; for a worker that is gone. Returns how many. */
  reclaim(): number {
    this.#forgetTaken();
    const orphans = this.#fds.slice(this.#head);
    this.#base = (this.#base + orphans.length) >>> 0;
    this.#fds = [];
    this.#head = 0;
    for (const fd of orphans) native.close(fd);
    return orphans.length;
  }

  #forgetTaken(): void {
    const taken = this.#stats.taken;
    const confirmed = (taken - this.#base) >>> 0;
    // A worker never takes more than it was handed; anything else is a stale read.
    if (confirmed === 0 || confirmed > this.#fds.length - this.#head) return;
    this.#head += confirmed;
    this.#base = taken;
    if (this.#head >= COMPACT_AT && this.#head * 2 >= this.#fds.length) {
      this.#fds = this.#fds.slice(this.#head);
      this.#head = 0;
    }
  }
}

/**
 * The worker's side: takes ownership of a handed fd and wraps it in a
 * `net.Socket` of this thread's libuv loop (paused: the transport starts
 * reading). If wrapping fails the fd is closed and the error thrown.
 */
export function takeHandoff(fd: number, stats: LoopStats): net.Socket {
  stats.handoffTaken();
  try {
    return new net.Socket({ fd, readable: true, writable: true, allowHalfOpen: true });
  } catch (exc) {
    native.close(fd);
    throw exc;
  }
}
