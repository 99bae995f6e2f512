/**
 * Requests awaiting their replies, on the calling side of `LoopRef.call`.
 *
 * Each thread that sends requests has one reply endpoint: the loop's inbox
 * on a thread running a loop (results are Futures of that loop), or a ring
 * of its own elsewhere (results are Promises). Both keep their pending
 * requests in a PendingRequests table, which also watches every target: a
 * target ring that closes (its loop closed, or its thread died) fails the
 * requests still waiting on it, so no caller hangs.
 */
import { Ring, RingClosedError } from './ring.js';

/** Where replies to this thread's requests arrive, and how their results are made. */
export interface ReplyEndpoint {
  /** The ring replies are written into. */
  readonly ring: Ring;
  /** Whether a producer on this thread may block on a full ring (false on loop threads). */
  readonly mayBlock: boolean;
  /** A fresh request id. */
  nextRequestId(): number;
  /** The caller's result for request `id` sent to `target`: settled by the reply, or failed if `target` closes first. */
  expect(id: number, target: Ring): PromiseLike<unknown>;
  /** Fails request `id` now (it could not be sent). */
  fail(id: number, error: Error): void;
}

type Settle = (ok: boolean, value: unknown) => void;

interface Pending {
  readonly target: Ring;
  readonly settle: Settle;
}

export class PendingRequests {
  #lastId = 0;
  readonly #pending = new Map<number, Pending>();
  /** Ids of the targets whose closing is watched. */
  readonly #watched = new Set<number>();

  get size(): number {
    return this.#pending.size;
  }

  nextId(): number {
    this.#lastId = (this.#lastId + 1) >>> 0 || 1;
    return this.#lastId;
  }

  /** Waits for the reply to `id`: `settle` runs exactly once, with the reply or with a RingClosedError if `target` closes first. */
  add(id: number, target: Ring, settle: Settle): void {
    this.#pending.set(id, { target, settle });
    if (this.#watched.has(target.id)) return;
    this.#watched.add(target.id);
    void target.whenClosed().then(() => {
      this.#watched.delete(target.id);
      const error = new RingClosedError(`loop ${target.id} closed (its loop was closed or its thread ended) before replying`);
      for (const [pendingId, pending] of this.#pending) {
        if (pending.target.id === target.id) this.settle(pendingId, false, error);
      }
    });
  }

  /** Settles request `id`; false if it is not pending (already settled, or unknown). */
  settle(id: number, ok: boolean, value: unknown): boolean {
    const pending = this.#pending.get(id);
    if (pending === undefined) return false;
    this.#pending.delete(id);
    pending.settle(ok, value);
    return true;
  }

  /** Fails every pending request with `error` (the caller's side is closing). */
  failAll(error: Error): void {
    for (const id of [...this.#pending.keys()]) this.settle(id, false, error);
  }
}
