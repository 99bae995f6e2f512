/**
 * Signals for worker loops, relayed by the coordinator.
 *
 * Node delivers signals to the main thread only (in a worker thread,
 * `process.on('SIGTERM')` registers without error and never fires), so a
 * worker loop's `addSignalHandler` registers its handler locally and asks
 * the coordinator to listen for the signal on its behalf; the coordinator's
 * listener forwards each signal through the worker loop's ring, and the
 * handler runs there, on the worker's own loop. `removeSignalHandler` and
 * closing the loop withdraw the request.
 *
 * Registration travels through the coordinator's ring: it takes effect
 * once the coordinator's loop ran it, and anything the worker sends the
 * coordinator afterwards through the same ring arrives after it.
 */
import type { LoopRef } from '../shared/loopref.js';
import { RingClosedError } from '../shared/ring.js';
import type { BaseEventLoop } from './base_events.js';
import type { EventLoop } from './event_loop.js';
import type { Handle } from './handles.js';
import { _setSignalRoute, SIGNAL_NAMES, type SignalRoute } from './signals.js';

/** Registered on the coordinator's loop: a worker asks for (or withdraws) a signal. */
export const SIGNAL_ADD_CALL = 'multiloop.signal.add';
export const SIGNAL_REMOVE_CALL = 'multiloop.signal.remove';
/** Registered on every worker loop: a relayed signal. */
export const SIGNAL_CALL = 'multiloop.signal';


/** The worker's side: its loop's signal handlers, and the requests it sent the coordinator. */
class WorkerSignals implements SignalRoute {
  readonly #loop: BaseEventLoop;
  readonly #index: number;
  readonly #coordinator: LoopRef;
  readonly #handles = new Map<number, Handle>();

  constructor(loop: BaseEventLoop, index: number, coordinator: LoopRef) {
    this.#loop = loop;
    this.#index = index;
    this.#coordinator = coordinator;
  }

  add(loop: BaseEventLoop, signum: number, handle: Handle): void {
    this.#checkLoop(loop, 'addSignalHandler');
    const previous = this.#handles.get(signum);
    this.#handles.set(signum, handle);
    if (previous !== undefined) {
      previous.cancel();
      return;
    }
    this.#coordinator.callSoonThreadsafe(SIGNAL_ADD_CALL, this.#index, signum);
  }

  remove(loop: BaseEventLoop, signum: number): boolean {
    this.#checkLoop(loop, 'removeSignalHandler');
    const handle = this.#handles.get(signum);
    if (handle === undefined) return false;
    handle.cancel();
    this.#handles.delete(signum);
    this.#withdraw(signum);
    return true;
  }

  close(loop: BaseEventLoop): void {
    if (loop !== this.#loop) return;
    for (const [signum, handle] of this.#handles) {
      handle.cancel();
      this.#withdraw(signum);
    }
    this.#handles.clear();
  }

  /** Runs the handler of a signal the coordinator relayed (already a callback of this loop). */
  deliver(signum: number): void {
    const handle = this.#handles.get(signum);
    if (handle !== undefined && !handle._cancelled) handle._run();
  }

  #withdraw(signum: number): void {
    // A coordinator already gone listens to nothing any more.
    if (!this.#coordinator.closed) this.#coordinator.callSoonThreadsafe(SIGNAL_REMOVE_CALL, this.#index, signum);
  }

  #checkLoop(loop: BaseEventLoop, method: string): void {
    if (loop !== this.#loop) {
      throw new TypeError(`${method}: only this worker thread's runtime loop can handle signals, through the coordinator`);
    }
  }
}

/**
 * Makes `loop`, the loop of runtime worker `index`, handle signals through
 * the coordinator: `loop.addSignalHandler` works from now on in this thread.
 */
export function installWorkerSignals(loop: EventLoop, index: number, coordinator: LoopRef): void {
  const signals = new WorkerSignals(loop, index, coordinator);
  _setSignalRoute(signals);
  loop.register(SIGNAL_CALL, (signum: number) => signals.deliver(signum));
}

/** The coordinator's side: one process listener per signal that some worker asked for. */
export class SignalRelay {
  readonly #workers: () => readonly ({ readonly ref: LoopRef } | undefined)[];
  readonly #listeners = new Map<number, { readonly indexes: Set<number>; readonly listener: () => void }>();

  /** `workers()` gives the current worker loops by index (a replaced worker has a new LoopRef). */
  constructor(workers: () => readonly ({ readonly ref: LoopRef } | undefined)[]) {
    this.#workers = workers;
  }

  /** Registers the calls workers make on `loop` (the coordinator's). */
  install(loop: EventLoop): void {
    loop.register(SIGNAL_ADD_CALL, (index: number, signum: number) => this.add(index, signum));
    loop.register(SIGNAL_REMOVE_CALL, (index: number, signum: number) => this.remove(index, signum));
  }

  add(index: number, signum: number): void {
    let entry = this.#listeners.get(signum);
    if (entry === undefined) {
      const name = SIGNAL_NAMES.get(signum);
      if (name === undefined) throw new RangeError(`signal ${signum} is not a signal of this platform`);
      const indexes = new Set<number>();
      entry = { indexes, listener: () => this.#relay(signum, indexes) };
      process.on(name, entry.listener);
      this.#listeners.set(signum, entry);
    }
    entry.indexes.add(index);
  }

  remove(index: number, signum: number): void {
    const entry = this.#listeners.get(signum);
    if (entry === undefined || !entry.indexes.delete(index) || entry.indexes.size > 0) return;
    this.#listeners.delete(signum);
    process.removeListener(SIGNAL_NAMES.get(signum)!, entry.listener);
  }

  /** Forgets every request of worker `index` (gone: its handlers died with it). */
  forget(index: number): void {
    for (const signum of [...this.#listeners.keys()]) this.remove(index, signum);
  }

  /** Removes every listener; for the runtime's close. */
  close(): void {
    for (const [signum, entry] of this.#listeners) process.removeListener(SIGNAL_NAMES.get(signum)!, entry.listener);
    this.#listeners.clear();
  }

  #relay(signum: number, indexes: Set<number>): void {
    const workers = this.#workers();
    for (const index of indexes) {
      const worker = workers[index];
      if (worker === undefined) continue;
      try {
        worker.ref.callSoonThreadsafe(SIGNAL_CALL, signum);
      } catch (exc) {
        // A worker that is gone has no handler left to run.
        if (!(exc instanceof RingClosedError)) throw exc;
      }
    }
  }
}
