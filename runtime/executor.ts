/**
 * run_in_executor for multiloop: a function runs in an executor thread and
 * its result comes back as a Future of the calling loop.
 *
 * The default executor of every loop in the process is one Piscina pool,
 * bounded process-wide (executor_pool.ts); loops on worker threads reach it
 * through the main thread (executor_bridge.ts). A loop may instead be given
 * its own default with `setDefaultExecutor`, and any call may name an
 * executor. Calls wait in an `ExecutorQueue` in front of the executor, so
 * that cancelling one still waiting there drops it for free.
 */
import { pathToFileURL } from 'node:url';
import { isAbsolute, resolve } from 'node:path';
import { isMainThread } from 'node:worker_threads';
import type { BaseEventLoop } from './base_events.js';
import { holdMainThreadExecutor, type MainThreadExecutor } from './executor_bridge.js';
import { RUNNER, holdDefaultPool, releaseDefaultPool } from './executor_pool.js';
import { ExecutorFuture, ExecutorQueue, LoopCall, type CallCount } from './executor_queue.js';
import { TRANSFER_KEY, transferOf, type ExecutorTask, type Transferable } from './executor_task.js';
import type { Future } from './futures.js';
import { logger } from './log.js';
import { describe } from './validate.js';

/**
 * What an executor must offer: Piscina's `run` and `close`, so a Piscina
 * instance is one as it is. Another pool implements `run` by calling, in one
 * of its threads, the export `options.name` of the module at
 * `options.filename` (multiloop's task runner) with `task` (one task or a
 * batch: pass it as it is), moving `options.transferList`, and settling with
 * what the runner returns or throws. A runner result that carries Piscina's
 * `transferableSymbol` and `valueSymbol` (a task returned `transfer(...)`)
 * is to be answered with its `[valueSymbol]`, moving the items of its
 * `[transferableSymbol]`.
 */
export interface Executor {
  run(task: ExecutorTask | ExecutorTask[], options: ExecutorRunOptions): Promise<unknown>;
  /** Called, not awaited, when a loop that has it as default executor closes. */
  close?(): Promise<void> | void;
  /** Piscina's: with `options.concurrentTasksPerWorker`, how many runner tasks it takes at once. */
  readonly maxThreads?: number;
  readonly options?: { readonly concurrentTasksPerWorker?: number };
  /** How many runner tasks it takes at once, for executors that are not Piscina; default unbounded (no batching). */
  readonly capacity?: number;
}

export interface ExecutorRunOptions {
  readonly filename: string;
  readonly name: string;
  readonly transferList?: Transferable[];
}

/** An exported function of a module: `module` is a path (absolute, or relative to the working directory) or a URL. */
export interface FunctionDescriptor {
  readonly module: string | URL;
  readonly name: string;
}

/** What runInExecutor runs: a self-contained function (sent as source) or a descriptor. */
export type ExecutorFunction<R = unknown> = ((...args: any[]) => R) | FunctionDescriptor;

/** What a loop's calls go to: a queue in front of an executor, or the forwarder to the main thread's pool. */
type CallSink = Pick<ExecutorQueue, 'submit'>;

/** A loop's executor state: its own default executor, the shared one if it holds it, its calls not ended. */
interface LoopExecutors extends CallCount {
  own: Executor | null;
  shared: ExecutorQueue | MainThreadExecutor | null;
}

const loops = new WeakMap<BaseEventLoop, LoopExecutors>();
const queues = new WeakMap<Executor, ExecutorQueue>();
const sources = new WeakMap<(...args: any[]) => unknown, string>();
const moduleUrls = new Map<string, string>();

/**
 * Runs `fn(...args)` in `executor` (null: the loop's default executor) and
 * returns a Future of the calling loop for its result; its callbacks run as
 * loop callbacks. A function `fn` is sent as source and sees only its
 * arguments and the executor thread's globals (Node's built-in modules
 * through `process.getBuiltinModule`); a `{ module, name }` descriptor may
 * import anything. Arguments and the result are structured-cloned; an
 * argument wrapped in `transfer()` is moved. Cancelling the Future drops a
 * call that has not started (in the default pool; a custom executor runs
 * the calls it already holds); a started one runs on and its result is
 * dropped. A task that throws rejects the Future with its error (message,
 * stack and own properties from the executor thread; its class when built
 * in or multiloop's, else its name). Throws RuntimeError on a
 * closed loop, TypeError for a bad `executor` or `fn`.
 */
export function runInExecutor<R>(
  loop: BaseEventLoop,
  executor: Executor | null | undefined,
  fn: ExecutorFunction<R>,
  ...args: unknown[]
): Future<Awaited<R>> {
  loop._checkClosed();
  const transferList = unwrapTransfers(args);
  const task = taskFor(fn, args);
  const state = stateOf(loop);
  const sink = executor == null ? defaultSink(state) : queueFor(executor, 'runInExecutor: executor');
  const future = new ExecutorFuture<Awaited<R>>(loop);
  sink.submit(new LoopCall(loop, future as ExecutorFuture<unknown>, task, transferList, state));
  return future;
}

/** How many calls of `loop` are queued or running (a cancelled one counts until the queue reaches it): its stats' `executorTasks`. */
export function executorTasks(loop: BaseEventLoop): number {
  return loops.get(loop)?.pending ?? 0;
}

/**
 * Makes `executor` the default executor of `loop` (null: back to the
 * shared pool). It is closed, without waiting, when the loop closes, as in
 * asyncio. Throws TypeError when it has no `run` method.
 */
export function setDefaultExecutor(loop: BaseEventLoop, executor: Executor | null): void {
  loop._checkClosed();
  if (executor !== null) queueFor(executor, 'setDefaultExecutor: executor');
  stateOf(loop).own = executor;
}

/** Called by `loop.close()`: lets go of the shared pool and closes the loop's own executor, waiting for neither. */
export function closeExecutors(loop: BaseEventLoop): void {
  const state = loops.get(loop);
  if (state === undefined) return;
  loops.delete(loop);
  if (state.shared instanceof ExecutorQueue) releaseDefaultPool();
  else state.shared?.release(loop);
  if (state.own !== null) closeQuietly(state.own);
}

function closeQuietly(executor: Executor): void {
  try {
    Promise.resolve(executor.close?.()).catch(reportCloseError);
  } catch (error) {
    reportCloseError(error);
  }
}

function reportCloseError(error: unknown): void {
  logger.error('multiloop: closing a default executor failed', error);
}

function stateOf(loop: BaseEventLoop): LoopExecutors {
  let state = loops.get(loop);
  if (state === undefined) {
    state = { own: null, shared: null, pending: 0 };
    loops.set(loop, state);
  }
  return state;
}

function defaultSink(state: LoopExecutors): CallSink {
  if (state.own !== null) return queueFor(state.own, 'executor');
  state.shared ??= isMainThread ? holdDefaultPool() : holdMainThreadExecutor();
  return state.shared;
}

function queueFor(executor: Executor, what: string): ExecutorQueue {
  let queue = queues.get(executor);
  if (queue === undefined) {
    if (typeof executor !== 'object' || executor === null || typeof executor.run !== 'function') {
      throw new TypeError(`${what} must be null, a Piscina instance or an object with run(task, options), got ${describe(executor)}`);
    }
    queue = new ExecutorQueue(executor, capacityOf(executor), RUNNER);
    queues.set(executor, queue);
  }
  return queue;
}

function capacityOf(executor: Executor): number {
  if (typeof executor.capacity === 'number') return executor.capacity;
  if (typeof executor.maxThreads === 'number') {
    return executor.maxThreads * (executor.options?.concurrentTasksPerWorker ?? 1);
  }
  return Infinity;
}

/** Replaces each `transfer()` argument by its value, in place; returns the buffers to move, or null. */
function unwrapTransfers(args: unknown[]): Transferable[] | null {
  let list: Transferable[] | null = null;
  for (let i = 0; i < args.length; i++) {
    const marked = transferOf(args[i]);
    if (marked === undefined) continue;
    list ??= [];
    for (const item of marked[TRANSFER_KEY]) list.push(item);
    args[i] = marked.value;
  }
  return list;
}

function taskFor(fn: ExecutorFunction, args: unknown[]): ExecutorTask {
  // cancelSlot is set when the call is handed to the default pool; present from the start, so every task has one shape.
  if (typeof fn === 'function') return { source: sourceOf(fn), module: undefined, name: undefined, args, cancelSlot: undefined };
  if (typeof fn === 'object' && fn !== null && typeof fn.name === 'string' &&
      (typeof fn.module === 'string' || fn.module instanceof URL)) {
    return { source: undefined, module: moduleUrl(fn.module), name: fn.name, args, cancelSlot: undefined };
  }
  throw new TypeError(`runInExecutor: fn must be a self-contained function or a { module, name } descriptor, got ${describe(fn)}`);
}

function sourceOf(fn: (...args: any[]) => unknown): string {
  let source = sources.get(fn);
  if (source === undefined) {
    source = Function.prototype.toString.call(fn);
    if (/\{\s*\[native code\]\s*\}$/.test(source)) {
      throw new TypeError(
        `runInExecutor: fn (${describe(fn)}) is a native or bound function, whose source cannot be sent; ` +
        'wrap the call in a self-contained function or pass a { module, name } descriptor',
      );
    }
    sources.set(fn, source);
  }
  return source;
}

/** `module` as a URL an executor (or worker) thread can import: URLs as given, paths resolved against the current directory. */
export function moduleUrl(module: string | URL): string {
  if (module instanceof URL) return module.href;
  let url = moduleUrls.get(module);
  if (url === undefined) {
    // Two letters or more before ':' make a URL scheme; one is a Windows drive.
    url = /^[a-z][a-z0-9+.-]+:/i.test(module) ? module : pathToFileURL(isAbsolute(module) ? module : resolve(module)).href;
    moduleUrls.set(module, url);
  }
  return url;
}
