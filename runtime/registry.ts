/**
 * The loop side of cross-thread calls: the functions a loop registered by
 * name, and the requests and replies that flow through its inbox.
 *
 * Each loop that takes part (registers a function, is given a LoopRef, or
 * sends `LoopRef.call` requests while it runs) gets one Registry, with an
 * Inbox on its own ring. Through it:
 * - a call runs the registered function as a callback of this loop (same
 *   exception handling and debug timing as `callSoon`);
 * - a request runs it likewise and writes its result — awaited when it is
 *   a promise or a Future — or its exception back into the caller's ring;
 * - a reply settles the Future that `LoopRef.call` returned on this loop.
 * An unknown name reaches this loop's exception handler, and a request for
 * it is answered with that error.
 */
import { BroadcastChannel } from 'node:worker_threads';
import { forgetRing, introductionChannel, knownWriter, writerFor, type Introduction } from '../shared/directory.js';
import { LoopRef, setLocalEndpoint } from '../shared/loopref.js';
import type { Decoder } from '../shared/codec.js';
import { CallInPlaceReader } from '../shared/call_in_place.js';
import { encodeCancel, encodeReply, readArgs, type MessageHandler } from '../shared/messages.js';
import { PendingRequests, type ReplyEndpoint } from '../shared/requests.js';
import { Ring, RingClosedError } from '../shared/ring.js';
import type { RingWriter } from '../shared/ring_writer.js';
import type { BaseEventLoop } from './base_events.js';
import { CancelledError, RuntimeError } from './errors.js';
import { isFuture, type Future } from './futures.js';
import { Handle } from './handles.js';
import { Inbox } from './inbox.js';
import { logger } from './log.js';
import { _getRunningLoop } from './running.js';
import { checkCallback, describe, type AnyCallback } from './validate.js';

class Registry implements MessageHandler, ReplyEndpoint {
  readonly ring: Ring;
  readonly mayBlock = false;
  /** A LoopRef to this loop. */
  readonly ref: LoopRef;
  readonly #loop: BaseEventLoop;
  readonly #inbox: Inbox;
  readonly #functions = new Map<string, AnyCallback>();
  /** The last name found: calls in a row mostly name the same one (decoded names are interned, so this compares pointers). */
  #lastName: string | null = null;
  /** Its function, and the inbox's fast path for small calls of that name. */
  readonly #calls = new CallInPlaceReader<AnyCallback>();
  readonly #pending = new PendingRequests();
  /** Requests of other threads whose result is a Future still running here, by `${replyTo}:${requestId}`: their callers may cancel them. */
  readonly #cancellable = new Map<string, Future<unknown>>();
  /** Encoded replies to callers whose ring has not been introduced yet, by ring id. */
  readonly #parked = new Map<number, Uint8Array[]>();
  readonly #introductions: BroadcastChannel;

  constructor(loop: BaseEventLoop, ring: Ring) {
    this.#loop = loop;
    this.ring = ring;
    this.ref = LoopRef.from(ring);
    this.#introductions = new BroadcastChannel(introductionChannel(ring.id));
    // The loop keeps its thread alive while it runs; the channel must not do so after.
    this.#introductions.unref();
    this.#introductions.onmessage = (event) => this.#introduced((event as { data: Introduction }).data);
    this.#inbox = new Inbox(loop, ring, this, this.#calls);
  }

  register(name: string, fn: AnyCallback): void {
    this.#functions.set(name, fn);
    this.#forgetLast();
  }

  unregister(name: string): boolean {
    this.#forgetLast();
    return this.#functions.delete(name);
  }

  lookup(name: string): AnyCallback | undefined {
    return this.#functions.get(name);
  }

  // ----------------------------------------------------- MessageHandler

  onCall(name: string, argc: number, decoder: Decoder): void {
    const fn = this.#lookup(name, 'callSoonThreadsafe');
    if (fn === undefined) return;
    const loop = this.#loop;
    if (argc > 3) return loop._runHandle(new Handle(fn, readArgs(decoder, argc), loop));
    // Few arguments go to the function one by one: an array to spread was a third of a small call's cost here.
    const a0 = argc > 0 ? decoder.readValue() : undefined;
    const a1 = argc > 1 ? decoder.readValue() : undefined;
    const a2 = argc > 2 ? decoder.readValue() : undefined;
    loop._runCallback(fn, argc, a0, a1, a2);
  }

  onRequest(name: string, args: unknown[], replyTo: number, requestId: number): void {
    const fn = this.#lookup(name, 'call');
    if (fn === undefined) return this.#reply(replyTo, requestId, false, unknownName(name));
    let result: unknown;
    try {
      result = this.#loop._runRequest(fn, args);
    } catch (exc) {
      return this.#reply(replyTo, requestId, false, exc);
    }
    if (!isThenable(result)) return this.#reply(replyTo, requestId, true, result);
    // A Future (a Task, ...) can be cancelled from the caller's side, as run_coroutine_threadsafe's can.
    const key = isFuture(result) ? `${replyTo}:${requestId}` : null;
    if (key !== null) this.#cancellable.set(key, result as Future<unknown>);
    const answer = (ok: boolean, value: unknown): void => {
      if (key !== null) this.#cancellable.delete(key);
      this.#reply(replyTo, requestId, ok, value);
    };
    result.then(
      (value) => answer(true, value),
      (exc: unknown) => answer(false, exc),
    );
  }

  onCancel(replyTo: number, requestId: number): void {
    // Already answered (the reply crossed the cancellation), or not cancellable: nothing to do.
    this.#cancellable.get(`${replyTo}:${requestId}`)?.cancel();
  }

  onReply(requestId: number, ok: boolean, value: unknown): void {
    // Nothing pending: the request already failed because its target closed; nobody awaits this reply.
    this.#pending.settle(requestId, ok, value);
  }

  // ------------------------------------------------------- ReplyEndpoint

  nextRequestId(): number {
    return this.#pending.nextId();
  }

  expect(id: number, target: Ring): Future<unknown> {
    const future = this.#loop.createFuture<unknown>();
    future.addDoneCallback(() => {
      // Cancelled by the caller: the target cancels the Future its function returned, if still running.
      if (future.cancelled() && this.#pending.settle(id, false, null)) this.#sendCancel(id, target);
    });
    this.#pending.add(id, target, (ok, value) => {
      // The caller may have cancelled the Future; the remote call cannot be recalled, its outcome is dropped.
      if (future.done()) return;
      if (ok) future.setResult(value);
      // As run_coroutine_threadsafe's future: the remote call ended cancelled, so does its Future here.
      else if (value instanceof CancelledError) future.cancel(value.message);
      else future.setException(value);
    });
    return future;
  }

  fail(id: number, error: Error): void {
    this.#pending.settle(id, false, error);
  }

  // ------------------------------------------------------------ closing

  /** Closes the inbox (the ring too), fails this loop's pending requests, reports what is dropped. */
  close(): void {
    const dropped = this.#inbox.close();
    this.#introductions.close();
    this.#pending.failAll(new RuntimeError('the event loop was closed before the reply arrived'));
    let parked = 0;
    for (const replies of this.#parked.values()) parked += replies.length;
    if (dropped > 0) logger.warn(`Event loop closed with ${dropped} message(s) from other threads not run`);
    if (parked > 0) logger.warn(`Event loop closed with ${parked} reply(ies) never delivered: their callers' threads never introduced themselves`);
  }

  // ----------------------------------------------------------- internals

  #lookup(name: string, method: string): AnyCallback | undefined {
    if (name === this.#lastName) return this.#calls.target;
    const fn = this.#functions.get(name);
    if (fn !== undefined) {
      this.#lastName = name;
      this.#calls.expect(name, fn);
    } else {
      this.#loop.callExceptionHandler({ message: `${method} from another thread: no function registered as '${name}'`, exception: unknownName(name) });
    }
    return fn;
  }

  #forgetLast(): void {
    this.#lastName = null;
    this.#calls.forget();
  }

  #reply(replyTo: number, requestId: number, ok: boolean, value: unknown): void {
    // The encoder's scratch and length, as LoopRef writes them: no view to allocate per reply.
    const encoded = encodeReply(requestId, ok, value);
    const writer = knownWriter(replyTo);
    if (writer === undefined) {
      let parked = this.#parked.get(replyTo);
      if (parked === undefined) this.#parked.set(replyTo, (parked = []));
      parked.push(encoded.scratch.slice(0, encoded.length));
      return;
    }
    this.#send(writer, encoded.scratch, encoded.length);
  }

  #sendCancel(id: number, target: Ring): void {
    const encoded = encodeCancel(this.ring.id, id);
    this.#send(writerFor(target), encoded.scratch, encoded.length);
  }

  #send(writer: RingWriter, bytes: Uint8Array, length = bytes.byteLength): void {
    try {
      writer.write(bytes, false, length);
    } catch (exc) {
      if (!(exc instanceof RingClosedError)) throw exc;
      // The caller's loop closed or its thread ended: nobody is left to read the reply.
      forgetRing(writer.ring.id);
      if (this.#loop.getDebug()) logger.debug(`Reply to loop ${writer.ring.id} dropped: ${exc.message}`);
    }
  }

  #introduced(introduction: Introduction): void {
    const writer = writerFor(Ring.from(introduction.buffer));
    const parked = this.#parked.get(writer.ring.id);
    if (parked === undefined) return;
    this.#parked.delete(writer.ring.id);
    for (const bytes of parked) this.#send(writer, bytes);
  }
}

const registries = new WeakMap<BaseEventLoop, Registry>();

/**
 * @internal The registry of `loop`, created on first use on a new ring of
 * the default size, or on `ring` (a ring made for it by the Runtime).
 */
export function registryOf(loop: BaseEventLoop, ring?: Ring): Registry {
  let registry = registries.get(loop);
  if (registry === undefined) {
    loop._checkClosed();
    registry = new Registry(loop, ring ?? Ring.create());
    registries.set(loop, registry);
  } else if (ring !== undefined && ring !== registry.ring) {
    throw new RuntimeError('this event loop already has an inbox ring');
  }
  return registry;
}

/** Makes `fn` callable by `name` from other threads through a LoopRef (replaces an earlier registration of `name`). */
export function register(loop: BaseEventLoop, name: string, fn: AnyCallback): void {
  if (typeof name !== 'string' || name === '') throw new TypeError(`register: name must be a non-empty string, got ${describe(name)}`);
  checkCallback(fn, 'register', 'fn');
  registryOf(loop).register(name, fn);
}

/** Forgets the function registered as `name`; false if there was none. */
export function unregister(loop: BaseEventLoop, name: string): boolean {
  if (typeof name !== 'string') throw new TypeError(`unregister: name must be a string, got ${describe(name)}`);
  return registries.get(loop)?.unregister(name) ?? false;
}

/** @internal The function `loop` registered as `name`, if any (the runtime's servers call it per connection). */
export function registeredFunction(loop: BaseEventLoop, name: string): AnyCallback | undefined {
  return registries.get(loop)?.lookup(name);
}

/** A LoopRef to `loop`, to send to other threads. */
export function getLoopRef(loop: BaseEventLoop): LoopRef {
  return registryOf(loop).ref;
}

/** @internal Called by `EventLoop.close()`: frees the loop's ring; calls through its LoopRefs then fail. */
export function closeRegistry(loop: BaseEventLoop): void {
  registries.get(loop)?.close();
  registries.delete(loop);
}

function unknownName(name: string): RuntimeError {
  return new RuntimeError(`no function registered as '${name}' on the target loop`);
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === 'function';
}

setLocalEndpoint({
  running: () => _getRunningLoop() !== null,
  endpoint: () => registryOf(_getRunningLoop() as BaseEventLoop),
});
