/**
 * LoopRef: a handle on an event loop that any thread can use to schedule
 * work on it, by name, through the loop's ring.
 *
 * A LoopRef is data: its only property is the loop's ring memory, so it
 * survives postMessage, workerData and Piscina task arguments as is, and
 * `LoopRef.from(data)` revives it in any thread — including threads with no
 * event loop and threads that never load the runtime.
 *
 * `callSoonThreadsafe(name, ...args)` queues a call of the function the
 * target registered under `name` (`loop.register`), and returns at once.
 * `call(name, ...args)` is asyncio's `run_coroutine_threadsafe` by name: it
 * returns a Future of the calling thread's running loop (or a Promise on a
 * thread with no running loop) settled with the function's result — its
 * awaited result when it returns a promise — or its exception; cancelling
 * that Future cancels the Future the function returned, if it still runs.
 * Calls from one thread to one loop run in the order they were made.
 *
 * On a full ring, a thread running a loop never blocks (its calls spill to
 * an ordered overflow queue); any other thread waits for space (see
 * ring.ts). A call to a closed loop — closed, or its thread gone — throws
 * (callSoonThreadsafe) or fails (call) with RingClosedError.
 */
import { writerFor, introduce } from './directory.js';
import { CallInPlaceWriter } from './call_in_place.js';
import { encodeCall, encodeRequest } from './messages.js';
import type { ReplyEndpoint } from './requests.js';
import { Ring, RingClosedError } from './ring.js';
import type { RingWriter } from './ring_writer.js';
import { threadReplies } from './thread_replies.js';

/** What a LoopRef is made of, as it crosses threads. */
export interface LoopRefData {
  readonly buffer: SharedArrayBuffer;
}

/** What LoopRef needs to know of the event loop running on the calling thread, if any. */
export interface LocalLoop {
  /** True while a loop runs on this thread: producers here must never block. */
  running(): boolean;
  /** The running loop's reply endpoint (only asked while `running()`). */
  endpoint(): ReplyEndpoint;
}

/** Until the runtime is loaded in this thread, no loop can be running in it. */
let localLoop: LocalLoop = { running: () => false, endpoint: threadReplies };

/** @internal Installed by the runtime when it loads in a thread. */
export function setLocalEndpoint(local: LocalLoop): void {
  localLoop = local;
}

export class LoopRef implements LoopRefData {
  /** The target loop's ring: the whole of a LoopRef's data. */
  readonly buffer: SharedArrayBuffer;
  readonly #writer: RingWriter;
  readonly #smallCalls: CallInPlaceWriter;

  private constructor(writer: RingWriter) {
    this.buffer = writer.ring.buffer;
    this.#writer = writer;
    this.#smallCalls = new CallInPlaceWriter(writer);
  }

  /** Revives a LoopRef from its data (a LoopRef, or a copy of one that crossed a thread). */
  static from(data: LoopRefData): LoopRef {
    if (data instanceof LoopRef) return data;
    const buffer = (data as Partial<LoopRefData> | null)?.buffer;
    if (!(buffer instanceof SharedArrayBuffer)) {
      throw new TypeError('LoopRef.from: data must be a LoopRef or a copy of one ({ buffer: SharedArrayBuffer })');
    }
    return new LoopRef(writerFor(Ring.from(buffer)));
  }

  /** Identifies the target loop, the same in every thread. */
  get id(): number {
    return this.#writer.ring.id;
  }

  /** True once the target loop is closed or its thread has ended. */
  get closed(): boolean {
    return this.#writer.ring.closed;
  }

  /**
   * Queues a call of the target's function `name` with `args` (copied by
   * the codec). Throws TypeError on an argument that cannot be sent, and
   * RingClosedError if the target is closed. An unknown name is reported
   * by the target's exception handler.
   */
  callSoonThreadsafe(name: string, ...args: unknown[]): void {
    // The small-call writer takes only a valid name, so the name is checked on the general path.
    if (this.#smallCalls.write(name, args)) return;
    checkName(name, 'callSoonThreadsafe');
    const encoded = encodeCall('callSoonThreadsafe', name, args);
    try {
      this.#writer.write(encoded.scratch, !localLoop.running(), encoded.length);
    } catch (err) {
      throw err instanceof RingClosedError ? this.#closedError() : err;
    }
  }

  /**
   * Calls the target's function `name` with `args` and returns a Future
   * (on a thread running a loop) or a Promise (elsewhere) of its result or
   * exception. An unknown name fails the result (and is reported by the
   * target's exception handler); a target that closes before replying
   * fails it with RingClosedError. Throws TypeError on an argument that
   * cannot be sent.
   */
  call<T = unknown>(name: string, ...args: unknown[]): PromiseLike<T> {
    checkName(name, 'call');
    const endpoint = localLoop.running() ? localLoop.endpoint() : threadReplies();
    const target = this.#writer.ring;
    const id = endpoint.nextRequestId();
    const encoded = encodeRequest('call', name, args, endpoint.ring.id, id);
    const result = endpoint.expect(id, target) as PromiseLike<T>;
    try {
      if (target.closed) throw this.#closedError();
      introduce(endpoint.ring, target);
      this.#writer.write(encoded.scratch, endpoint.mayBlock, encoded.length);
    } catch (err) {
      endpoint.fail(id, err as Error);
    }
    return result;
  }

  toString(): string {
    return `LoopRef(${this.id})`;
  }

  #closedError(): RingClosedError {
    return new RingClosedError(`${this}: the target loop is closed (its loop was closed or its thread ended)`);
  }
}

function checkName(name: unknown, method: string): asserts name is string {
  if (typeof name !== 'string' || name === '') {
    throw new TypeError(`LoopRef.${method}: name must be a non-empty string, got ${name === '' ? 'an empty string' : typeof name}`);
  }
}
