/**
 * ThreadReplies: the reply endpoint of a thread that runs no event loop —
 * an executor thread, a plain worker, the main thread before it starts a
 * loop. `LoopRef.call` there returns a Promise, settled from Node's own
 * event loop when the reply lands in this thread's reply ring.
 */
import { Decoder } from './codec.js';
import { readMessage, type MessageHandler } from './messages.js';
import { PendingRequests, type ReplyEndpoint } from './requests.js';
import { Ring } from './ring.js';
import { RingReader } from './ring_reader.js';

const REPLY_RING_CAPACITY = 64 * 1024;

class ThreadReplies implements ReplyEndpoint, MessageHandler {
  readonly ring = Ring.create(REPLY_RING_CAPACITY);
  readonly mayBlock = true;
  readonly #reader = new RingReader(this.ring);
  readonly #decoder = new Decoder(this.ring.bytes);
  readonly #pending = new PendingRequests();
  /** Keeps the thread alive while a request waits: the ring's doorbell does not. */
  #keepAlive: NodeJS.Timeout | null = null;

  nextRequestId(): number {
    return this.#pending.nextId();
  }

  expect(id: number, target: Ring): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.#pending.add(id, target, (ok, value) => {
        if (ok) resolve(value);
        else reject(value);
        if (this.#pending.size === 0 && this.#keepAlive !== null) {
          clearInterval(this.#keepAlive);
          this.#keepAlive = null;
        }
      });
      if (this.#keepAlive === null) {
        this.#keepAlive = setInterval(noop, 2 ** 31 - 1);
        this.#drain();
      }
    });
  }

  fail(id: number, error: Error): void {
    this.#pending.settle(id, false, error);
  }

  onReply(requestId: number, ok: boolean, value: unknown): void {
    // A reply to nothing pending answers a request already failed (its target closed): nobody awaits it.
    this.#pending.settle(requestId, ok, value);
  }

  onCall(name: string): void {
    misdirected(`a call of '${name}'`);
  }

  onRequest(name: string): void {
    misdirected(`a request for '${name}'`);
  }

  onCancel(): void {
    misdirected('the cancellation of a request');
  }

  /** Reads every reply, then sleeps on the ring's doorbell while requests are pending. */
  readonly #drain = (): void => {
    this.#reader.read(this.#visit, Infinity);
    if (this.#pending.size === 0) return;
    // A reply that arrived since the read refuses the sleep: read again on the next turn.
    if (!this.#reader.sleep(this.#drain)) setImmediate(this.#drain);
  };

  readonly #visit = (bytes: Uint8Array, start: number): void => {
    const decoder = bytes === this.ring.bytes ? this.#decoder : new Decoder(bytes);
    decoder.pos = start;
    readMessage(decoder, this);
  };
}

let instance: ThreadReplies | null = null;

/** This thread's loop-less reply endpoint (created on first use). */
export function threadReplies(): ReplyEndpoint {
  return (instance ??= new ThreadReplies());
}

function noop(): void {}

/** Only this thread's own requests know the reply ring's id, so anything else in it is a bug worth hearing about. */
function misdirected(what: string): void {
  process.emitWarning(`a loop-less thread's reply ring received ${what}; it was dropped`, { type: 'MultiloopWarning' });
}
