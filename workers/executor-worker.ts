/**
 * The task runner of every executor thread: Piscina calls the default export
 * with one `ExecutorTask` (see runtime/executor_task.ts) or a batch of them,
 * and sends back what it returns or throws.
 *
 * A self-contained function arrives as its source text and is compiled here
 * in the thread's global scope, once per thread (cached by text): it sees
 * its arguments and the globals, nothing of the module it was written in. A
 * `{ module, name }` descriptor is imported once per thread.
 */
import { move, transferableSymbol, valueSymbol, workerData } from 'piscina';
import { TRANSFER_KEY, carryError, transferOf, type ExecutorTask, type Transferable } from '../runtime/executor_task.js';

type TaskFunction = (...args: unknown[]) => unknown;

/** The default pool's cancel flags (see ExecutorTask.cancelSlot); null in a pool of the user's. */
const cancelFlags: Int32Array | null = (() => {
  const buffer = (workerData as { cancelFlags?: unknown } | null | undefined)?.cancelFlags;
  return buffer instanceof SharedArrayBuffer ? new Int32Array(buffer) : null;
})();

const compiled = new Map<string, TaskFunction>();
const modules = new Map<string, Record<string, unknown>>();

/**
 * Runs one task, or a batch of tasks (an array, which multiloop sends when
 * calls queue up faster than the threads take them). One task: resolves with
 * its result, rejects with its error. A batch: starts every task in order
 * and resolves with one `PromiseSettledResult` per task. Results that asked
 * for transfer are moved.
 */
export default async function runTask(task: ExecutorTask | ExecutorTask[]): Promise<unknown> {
  if (!Array.isArray(task)) return moved(await runOne(task));
  const outcomes = await Promise.allSettled(task.map(runOne));
  let list: Transferable[] | null = null;
  for (const outcome of outcomes) {
    const marked = outcome.status === 'fulfilled' ? transferOf(outcome.value) : undefined;
    if (marked === undefined) continue;
    (outcome as PromiseFulfilledResult<unknown>).value = marked.value;
    list ??= [];
    list.push(...marked[TRANSFER_KEY]);
  }
  return list === null ? outcomes : move(new MovedResult(outcomes, list));
}

/**
 * Runs one task. Its outcome is checked to be cloneable here, because
 * Piscina posts it outside any handler of ours: a result it cannot clone
 * would crash this thread and fail every task sharing it, with no word of
 * the cause.
 */
async function runOne(task: ExecutorTask): Promise<unknown> {
  // Cancelled while it waited in this thread's queue: nobody awaits it, it never runs.
  if (task.cancelSlot !== undefined && cancelFlags !== null && Atomics.load(cancelFlags, task.cancelSlot) !== 0) return undefined;
  const fn = task.source !== undefined
    ? compiledFunction(task.source)
    : await exportedFunction(task.module as string, task.name as string);
  let result: unknown;
  try {
    result = await fn(...task.args);
  } catch (error) {
    if (task.source !== undefined && error instanceof ReferenceError) explainNotSelfContained(error);
    if (error instanceof Error) throw carryError(error);
    const problem = cloneProblem(error);
    throw problem === null ? error : new TypeError(`runInExecutor: the task threw a value that cannot be sent back (${problem})`);
  }
  const problem = transferOf(result) === undefined ? cloneProblem(result) : null;
  if (problem !== null) throw new TypeError(`runInExecutor: the task's result cannot be sent back (${problem})`);
  return result;
}

/** Why `value` cannot be structured-cloned, or null. Primitives and binary data always can, so they cost nothing. */
function cloneProblem(value: unknown): string | null {
  const kind = typeof value;
  if (value === null || (kind !== 'object' && kind !== 'function' && kind !== 'symbol')) return null;
  if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) return null;
  try {
    structuredClone(value);
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** `result`, wrapped for Piscina to move its buffers when it is a transfer marker. */
function moved(result: unknown): unknown {
  const marked = transferOf(result);
  return marked === undefined ? result : move(new MovedResult(marked.value, marked[TRANSFER_KEY]));
}

function compiledFunction(source: string): TaskFunction {
  let fn = compiled.get(source);
  if (fn === undefined) {
    fn = compile(source);
    compiled.set(source, fn);
  }
  return fn;
}

/**
 * `Function.prototype.toString` gives an expression for function
 * declarations, expressions and arrows, but a bare `name() {}` for methods
 * written in shorthand; those are compiled as the one member of an object.
 */
function compile(source: string): TaskFunction {
  let value: unknown;
  try {
    value = new Function(`return (${source});`)();
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    const holder = new Function(`return ({ ${source} });`)() as Record<string, unknown>;
    value = Object.values(holder)[0];
  }
  if (typeof value !== 'function') {
    throw new TypeError(`runInExecutor: the source sent does not evaluate to a function: ${source.slice(0, 80)}`);
  }
  return value as TaskFunction;
}

async function exportedFunction(url: string, name: string): Promise<TaskFunction> {
  let namespace = modules.get(url);
  if (namespace === undefined) {
    namespace = (await import(url)) as Record<string, unknown>;
    modules.set(url, namespace);
  }
  const fn = namespace[name];
  if (typeof fn !== 'function') {
    throw new TypeError(`runInExecutor: module ${url} has no exported function named '${name}'`);
  }
  return fn as TaskFunction;
}

/** The error keeps its class and stack; its message says why the name was missing. */
function explainNotSelfContained(error: ReferenceError): void {
  const note = ' (a function sent to runInExecutor must be self-contained: it runs in an executor thread and may use only its arguments and globals; pass a { module, name } descriptor to use imports)';
  // V8 formats `stack` on first read, with the message of that moment: read it first.
  const stack = error.stack;
  const original = error.message;
  error.message = original + note;
  if (stack !== undefined) error.stack = stack.replace(original, error.message);
}

/**
 * Piscina's Transferable protocol: it posts `[valueSymbol]` with the items of
 * `[transferableSymbol]` in the transfer list. Piscina types the value as an
 * object; any cloneable value works.
 */
class MovedResult {
  readonly [transferableSymbol]: object;
  readonly [valueSymbol]: object;

  constructor(value: unknown, list: readonly Transferable[]) {
    this[transferableSymbol] = list;
    this[valueSymbol] = value as object;
  }
}
