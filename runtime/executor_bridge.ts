/**
 * How loops on worker threads use the main thread's default pool (see
 * executor_pool.ts for why there is one pool per process).
 *
 * A worker thread cannot be handed a MessagePort by code that did not
 * create the thread, and multiloop's loops must find the pool from any
 * worker: loop workers, executor threads, users' own threads. A
 * BroadcastChannel needs no handover, so the two sides meet by name:
 * - as soon as multiloop is loaded in the main thread, it listens on
 *   `multiloop:executor` and records that in the environment data that
 *   every worker created afterwards inherits;
 * - a worker thread's first default-executor call opens its own channel,
 *   `multiloop:executor:<threadId>`, says hello on the main one, and sends
 *   its calls once the main thread has answered "ready" on the thread's
 *   channel (a BroadcastChannel keeps nothing for a listener that does not
 *   exist yet, so nothing is sent before);
 * - the main thread runs each call in the shared pool and answers on the
 *   thread's channel; a cancel drops a call that is still queued; "bye"
 *   (when the thread's last loop using it closes) ends the session.
 * Calls and answers travel in batches, one message per microtask each way
 * (see Outbox). BroadcastChannel cannot transfer: buffers marked with
 * `transfer()` are copied once between the worker thread and the main
 * thread, and moved between the main thread and the executor thread.
 *
 * The main thread serves these channels from Node's own event loop, so
 * worker loops are served whether or not a loop runs in the main thread.
 * A thread terminated before its loops closed never says bye: its session
 * keeps a hold on the pool, whose idle threads Piscina unrefs, so nothing
 * is kept alive by it.
 */
import { BroadcastChannel, getEnvironmentData, isMainThread, setEnvironmentData, threadId } from 'node:worker_threads';
import type { BaseEventLoop } from './base_events.js';
import { RuntimeError } from './errors.js';
import type { ExecutorTask, Transferable } from './executor_task.js';
import { holdDefaultPool, releaseDefaultPool } from './executor_pool.js';
import { settle, type ExecutorQueue, type LoopCall, type PendingCall } from './executor_queue.js';

const MAIN_CHANNEL = 'multiloop:executor';

type ToMain = { hello: number; session: number } | { bye: number };
type Request = { id: number; task: ExecutorTask; transfer: Transferable[] | null } | { cancel: number };
type Reply = { id: number; ok: boolean; outcome: unknown };
/** The main thread's first message on a thread's channel; batches of Reply follow. */
type Ready = { ready: number };

/** Node's BroadcastChannel has ref/unref; @types/node 20 omits them. */
function unref(channel: BroadcastChannel): BroadcastChannel {
  (channel as unknown as { unref(): void }).unref();
  return channel;
}

/** Posts on the main channel without staying subscribed to it (it carries every thread's hellos). */
function postToMain(message: ToMain): void {
  const channel = new BroadcastChannel(MAIN_CHANNEL);
  channel.postMessage(message);
  channel.close();
}

function threadChannel(thread: number): BroadcastChannel {
  // Unref'd: a thread is kept alive by its running loop, not by a channel.
  return unref(new BroadcastChannel(`${MAIN_CHANNEL}:${thread}`));
}

/**
 * The messages for one channel, posted as one array per microtask: a burst
 * of calls (or of answers from one executor batch) costs one message, not
 * one per call, and a channel message costs far more than its clone. A
 * batch that cannot be cloned is posted message by message, and a message
 * that still fails goes to `unclonable`, so its call is answered.
 */
class Outbox<M> {
  private batch: M[] = [];
  private scheduled = false;

  /**
   * `held`: keep messages until `release()` (while the other side is not
   * listening yet). `stale`: true for a message no longer worth sending,
   * dropped when the batch goes.
   */
  constructor(
    private readonly channel: BroadcastChannel,
    private readonly unclonable: (message: M, error: unknown) => void,
    private held: boolean,
    private readonly stale: ((message: M) => boolean) | null = null,
  ) {}

  push(message: M): void {
    this.batch.push(message);
    if (this.scheduled || this.held) return;
    this.scheduled = true;
    queueMicrotask(this.flush);
  }

  release(): void {
    this.held = false;
    this.flush();
  }

  /** Drops what is not sent yet and sends nothing more: the session is over, nobody would read it. */
  close(): void {
    this.held = true;
    this.batch = [];
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    if (this.held) return;
    const stale = this.stale;
    const batch = stale === null ? this.batch : this.batch.filter((message) => !stale(message));
    this.batch = [];
    if (batch.length === 0) return;
    try {
      this.channel.postMessage(batch);
    } catch {
      for (const message of batch) {
        try {
          this.channel.postMessage([message]);
        } catch (error) {
          this.unclonable(message, error);
        }
      }
    }
  };
}

// ------------------------------------------------------------ main thread

/** One worker thread's session with the pool, on the main thread. */
class ServedThread {
  closed = false;
  private readonly calls = new Map<number, RemoteCall>();
  private readonly channel: BroadcastChannel;
  private readonly replies: Outbox<Reply>;
  private readonly queue: ExecutorQueue;

  constructor(thread: number, session: number) {
    this.queue = holdDefaultPool();
    this.channel = threadChannel(thread);
    this.channel.onmessage = (event) => this.receive(event.data as Request[]);
    // An outcome the channel cannot clone still answers its call, with the clone error.
    this.replies = new Outbox<Reply>(this.channel, (reply, error) => this.replies.push({ id: reply.id, ok: false, outcome: error }), false);
    this.channel.postMessage({ ready: session } satisfies Ready);
  }

  private receive(requests: Request[]): void {
    for (const request of requests) {
      if ('cancel' in request) {
        const call = this.calls.get(request.cancel);
        if (call !== undefined) call.cancel();
        this.calls.delete(request.cancel);
        continue;
      }
      const call = new RemoteCall(this, request.id, request.task, request.transfer);
      this.calls.set(request.id, call);
      this.queue.submit(call);
    }
  }

  reply(call: RemoteCall, ok: boolean, outcome: unknown): void {
    this.calls.delete(call.id);
    this.replies.push({ id: call.id, ok, outcome });
  }

  close(): void {
    this.closed = true;
    this.calls.clear();
    this.replies.close();
    this.channel.close();
    releaseDefaultPool();
  }
}

class RemoteCall implements PendingCall {
  cancelled = false;
  slot = -1;
  #onAbandoned: (() => void) | null = null;

  constructor(
    private readonly thread: ServedThread,
    readonly id: number,
    readonly task: ExecutorTask,
    readonly transferList: Transferable[] | null,
  ) {}

  abandoned(): boolean {
    return this.cancelled || this.thread.closed;
  }

  resolve(value: unknown): void {
    this.thread.reply(this, true, value);
  }

  reject(error: unknown): void {
    this.thread.reply(this, false, error);
  }

  drop(): void {
    // Nothing waits for it here: the worker thread ended its side when it cancelled.
  }

  whenAbandoned(fn: () => void): void {
    this.#onAbandoned = fn;
  }

  /** The worker thread cancelled the call. */
  cancel(): void {
    this.cancelled = true;
    this.#onAbandoned?.();
    this.#onAbandoned = null;
  }
}

function serveWorkerThreads(): void {
  const served = new Map<number, ServedThread>();
  const channel = unref(new BroadcastChannel(MAIN_CHANNEL));
  channel.onmessage = (event) => {
    const message = event.data as ToMain;
    const thread = 'hello' in message ? message.hello : message.bye;
    served.get(thread)?.close();
    served.delete(thread);
    if ('hello' in message) served.set(thread, new ServedThread(thread, message.session));
  };
  setEnvironmentData(MAIN_CHANNEL, true);
}

if (isMainThread) serveWorkerThreads();

// ---------------------------------------------------------- worker thread

/**
 * The default executor of the loops on a worker thread: forwards their
 * calls to the main thread's pool. One per thread, held by each loop that
 * uses it; the session ends when the last holder lets go.
 */
class MainThreadExecutor {
  private channel: BroadcastChannel | null = null;
  private requests: Outbox<Request> | null = null;
  private readonly calls = new Map<number, LoopCall>();
  private nextId = 0;
  private session = 0;
  private holders = 0;

  hold(): this {
    if (this.holders++ === 0) this.open();
    return this;
  }

  /** Lets go of `loop`'s hold: its calls still queued in the main thread are cancelled. */
  release(loop: BaseEventLoop): void {
    for (const [id, call] of this.calls) {
      if (call.loop === loop) this.cancel(id);
    }
    if (--this.holders === 0) this.shut();
  }

  /** Sends `call` to the main thread's pool; its Future settles on `call.loop`. */
  submit(call: LoopCall): void {
    const id = this.nextId++;
    this.calls.set(id, call);
    (this.requests as Outbox<Request>).push({ id, task: call.task, transfer: call.transferList });
    call.future.addDoneCallback((future) => {
      if (future.cancelled()) this.cancel(id);
    });
  }

  private open(): void {
    if (getEnvironmentData(MAIN_CHANNEL) !== true) {
      this.holders = 0;
      throw new RuntimeError(
        'runInExecutor: no default executor for this thread: multiloop was not loaded in the main thread ' +
        'before this thread started; load it there first, or give this loop an executor with setDefaultExecutor()',
      );
    }
    const session = ++this.session;
    const channel = threadChannel(threadId);
    channel.onmessage = (event) => this.receive(event.data as Reply[] | Ready, session);
    this.channel = channel;
    // Held until the main thread is ready: it does not listen on this channel before. A call
    // cancelled before its request left is not sent: it must never run (its cancel would come after).
    this.requests = new Outbox<Request>(channel, (request, error) => this.fail(request, error), true, (request) =>
      'task' in request && this.calls.get(request.id)?.future.done() !== false);
    postToMain({ hello: threadId, session });
  }

  private shut(): void {
    this.requests?.close();
    this.channel?.close();
    this.channel = null;
    this.requests = null;
    postToMain({ bye: threadId });
  }

  private cancel(id: number): void {
    const call = this.calls.get(id);
    if (call === undefined) return;
    this.calls.delete(id);
    call.drop();
    this.requests?.push({ cancel: id });
  }

  /** A call whose arguments cannot be cloned fails with the clone error. */
  private fail(request: Request, error: unknown): void {
    if ('cancel' in request) return;
    const call = this.calls.get(request.id);
    this.calls.delete(request.id);
    call?.reject(error);
  }

  private receive(message: Reply[] | Ready, session: number): void {
    if (session !== this.session) return;
    if (!Array.isArray(message)) {
      this.requests?.release();
      return;
    }
    for (const reply of message) {
      const call = this.calls.get(reply.id);
      if (call === undefined) continue;
      this.calls.delete(reply.id);
      settle(call, reply.ok, reply.outcome);
    }
  }
}

let mainThreadExecutor: MainThreadExecutor | null = null;

/** This worker thread's forwarder to the main thread's pool, with one more hold on it. */
export function holdMainThreadExecutor(): MainThreadExecutor {
  mainThreadExecutor ??= new MainThreadExecutor();
  return mainThreadExecutor.hold();
}

export type { MainThreadExecutor };
