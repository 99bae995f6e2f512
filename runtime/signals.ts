/**
 * UNIX signal handlers for the loop: asyncio's `add_signal_handler` and
 * `remove_signal_handler`, on Node's `process.on(signal)`.
 *
 * Node delivers signals to the main thread only, so only a main-thread loop
 * installs handlers here; a worker thread's loop gets its signals through the
 * runtime's coordinator (Runtime), which owns them.
 *
 * A signal is a number or a name ('SIGINT'). Where asyncio raises ValueError
 * for an invalid or uncatchable signal, these throw RangeError (a number or
 * name that is not a signal of this platform, SIGKILL, SIGSTOP); a signal of
 * the wrong type throws TypeError.
 *
 * Signals are per process, so there is one handler per signal: adding one
 * replaces the previous handler, whichever loop it belonged to (asyncio keeps
 * one per signal as well). The handler runs as a loop callback (a Handle
 * scheduled with `callSoonThreadsafe`), never inside Node's signal listener.
 * Removing the last handler of a signal removes multiloop's Node listener,
 * and Node then restores the signal's default disposition (unless other code
 * of the process listens to it too).
 */
import { constants } from 'node:os';
import { isMainThread } from 'node:worker_threads';
import type { BaseEventLoop } from './base_events.js';
import { RuntimeError } from './errors.js';
import { Handle } from './handles.js';
import { checkCallback, describe, type AnyCallback } from './validate.js';

const SIGNAL_NUMBERS: Readonly<Record<string, number>> = constants.signals;

/** Signal number -> the first name the platform lists for it (SIGABRT before its alias SIGIOT). */
export const SIGNAL_NAMES = new Map<number, NodeJS.Signals>();
for (const [name, number] of Object.entries(SIGNAL_NUMBERS)) {
  if (!SIGNAL_NAMES.has(number)) SIGNAL_NAMES.set(number, name as NodeJS.Signals);
}

const UNCATCHABLE = new Set([SIGNAL_NUMBERS.SIGKILL, SIGNAL_NUMBERS.SIGSTOP]);

interface InstalledHandler {
  loop: BaseEventLoop;
  handle: Handle;
  readonly name: NodeJS.Signals;
  readonly listener: () => void;
}

const installed = new Map<number, InstalledHandler>();

/** Runs `callback(...args)` on `loop` each time the process receives `sig`. */
export function addSignalHandler(loop: BaseEventLoop, sig: number | string, callback: AnyCallback, ...args: unknown[]): void {
  const signum = signalNumber(sig, 'addSignalHandler');
  checkCallback(callback, 'addSignalHandler');
  loop._checkClosed();
  const handle = new Handle(callback, args, loop);
  if (!isMainThread) return workerRoute('addSignalHandler').add(loop, signum, handle);
  const current = installed.get(signum);
  if (current !== undefined) {
    current.handle.cancel();
    current.loop = loop;
    current.handle = handle;
    return;
  }
  const name = SIGNAL_NAMES.get(signum)!;
  const entry: InstalledHandler = { loop, handle, name, listener: () => deliver(entry) };
  try {
    process.on(name, entry.listener);
  } catch (error) {
    throw new RuntimeError(`addSignalHandler: cannot install a handler for ${name}`, { cause: error });
  }
  installed.set(signum, entry);
}

/** Removes `loop`'s handler for `sig`; true if there was one. */
export function removeSignalHandler(loop: BaseEventLoop, sig: number | string): boolean {
  const signum = signalNumber(sig, 'removeSignalHandler');
  if (!isMainThread) return workerRoute('removeSignalHandler').remove(loop, signum);
  const entry = installed.get(signum);
  if (entry === undefined || entry.loop !== loop) return false;
  uninstall(signum, entry);
  return true;
}

/** Removes every handler `loop` installed; for `EventLoop.close()`, as asyncio's loop does. */
export function closeLoopSignals(loop: BaseEventLoop): void {
  if (!isMainThread) return route?.close(loop);
  for (const [signum, entry] of [...installed]) {
    if (entry.loop === loop) uninstall(signum, entry);
  }
}

function uninstall(signum: number, entry: InstalledHandler): void {
  entry.handle.cancel();
  installed.delete(signum);
  process.removeListener(entry.name, entry.listener);
}

function deliver(entry: InstalledHandler): void {
  if (entry.loop.isClosed()) {
    // Closed without EventLoop.close(): the handler can never run again.
    for (const [signum, candidate] of installed) if (candidate === entry) uninstall(signum, entry);
    return;
  }
  entry.loop.callSoonThreadsafe(runHandle, entry.handle);
}

function runHandle(handle: Handle): void {
  if (!handle._cancelled) handle._run();
}

/** The signal number of `sig`; throws TypeError or RangeError naming it. */
function signalNumber(sig: unknown, method: string): number {
  let signum: number | undefined;
  if (typeof sig === 'number') {
    if (!Number.isInteger(sig)) throw new TypeError(`${method}: sig must be an integer signal number or a signal name, got ${sig}`);
    signum = SIGNAL_NAMES.has(sig) ? sig : undefined;
  } else if (typeof sig === 'string') {
    signum = Object.hasOwn(SIGNAL_NUMBERS, sig) ? SIGNAL_NUMBERS[sig] : undefined;
  } else {
    throw new TypeError(`${method}: sig must be a signal number or a signal name like 'SIGINT', got ${describe(sig)}`);
  }
  if (signum === undefined) throw new RangeError(`${method}: sig ${String(sig)} is not a signal of this platform`);
  if (UNCATCHABLE.has(signum)) throw new RangeError(`${method}: sig ${SIGNAL_NAMES.get(signum)} cannot be caught`);
  return signum;
}

/**
 * How a worker thread's loop handles signals: through the runtime's
 * coordinator (worker_signals.ts), installed when the thread is a runtime
 * worker loop.
 */
export interface SignalRoute {
  add(loop: BaseEventLoop, signum: number, handle: Handle): void;
  remove(loop: BaseEventLoop, signum: number): boolean;
  close(loop: BaseEventLoop): void;
}

let route: SignalRoute | null = null;

/** @internal Installs this worker thread's route to the coordinator. */
export function _setSignalRoute(next: SignalRoute): void {
  route = next;
}

function workerRoute(method: string): SignalRoute {
  if (route === null) {
    throw new RuntimeError(
      `${method}: signals reach only the main thread; a worker thread's loop gets them through the runtime's coordinator, and this thread is not a runtime worker loop (Runtime.start)`,
    );
  }
  return route;
}
