/**
 * fd readiness: `addReader`/`removeReader`/`addWriter`/`removeWriter`, the
 * selector half of asyncio's SelectorEventLoop, on libuv's own poller.
 *
 * Each watched fd has one uv_poll_t (native/src/poll_watch.cc) on the
 * thread's libuv loop, shared by its reader and its writer: libuv allows only
 * one poll handle per fd per loop, so the table is per thread, and a reader
 * and a writer of the same fd may belong to different EventLoops of the
 * thread. Polling is level-triggered and reads nothing: the callback decides
 * what to consume, as with asyncio's selectors.
 *
 * Each callback is a Handle, as in asyncio: removing a reader cancels it, so
 * a callback already queued never runs after its removal, and an exception
 * goes to the loop's exception handler with the handle in the context.
 *
 * While its loop is stopped a callback must not run (asyncio polls nothing
 * then), and a level-triggered fd would otherwise fire on every turn of
 * Node's loop: so an event for a stopped loop "parks" its side (stops
 * watching it) and re-arms it when the loop runs again; readiness is then
 * re-checked by the poller rather than reported stale.
 *
 * The native layer hands over the events of a libuv loop turn together
 * (one call into JS per turn); each names its watch by an id that is not
 * reused (for 2^32 opens), so an event for a watch released earlier in the
 * same turn is dropped even if its fd number was reused meanwhile, as
 * libuv drops it.
 *
 * Poll handles do not keep the thread alive: a running loop does that.
 * libuv makes a watched fd non-blocking.
 */
import { native, type PollWatchHandle } from '../native/index.js';
import type { BaseEventLoop } from './base_events.js';
import { RuntimeError } from './errors.js';
import { Handle } from './handles.js';
import { checkCallback, describe, type AnyCallback } from './validate.js';

/** A file descriptor, or an object that has one (a Socket, ...). */
export type FileLike = number | { fileno(): number };

const READABLE = native.UV_READABLE;
const WRITABLE = native.UV_WRITABLE;

/** One side (reader or writer) of a watched fd. */
interface Registration {
  readonly loop: BaseEventLoop;
  readonly handle: Handle;
  /** Its loop was stopped when the fd became ready: not watched until the loop runs. */
  parked: boolean;
}

interface FdWatch {
  readonly fd: number;
  /** Names the watch in native events; not reused for 2^32 opens. */
  readonly id: number;
  readonly poll: PollWatchHandle;
  reader: Registration | null;
  writer: Registration | null;
  /** The events the native handle is started for. */
  armed: number;
  /** Kept open while unused, until `forgetFd` (see `addSocketWatch`). */
  retained: boolean;
}

/** By fd, and by id (for events). */
const watches = new Map<number, FdWatch>();
const watchesById = new Map<number, FdWatch>();
let lastId = 0;

/** Events a loop turn can hand over at once: (id, status, events) each. */
const BATCH_EVENTS = 1024;
const batch = new Int32Array(3 * BATCH_EVENTS);

native.pollInit(onPollEvents, batch);

/**
 * Resolves `fileobj` to an fd as asyncio does: an integer, or the result of
 * its `fileno()`. Throws TypeError for anything else and RangeError for a
 * negative fd (a closed Socket's `fileno()` is -1).
 */
export function fileDescriptor(fileobj: unknown, method: string, arg = 'fd'): number {
  let fd: unknown = fileobj;
  if (typeof fileobj === 'object' && fileobj !== null && typeof (fileobj as { fileno?: unknown }).fileno === 'function') {
    fd = (fileobj as { fileno(): unknown }).fileno();
  }
  if (typeof fd !== 'number' || !Number.isInteger(fd)) {
    throw new TypeError(`${method}: ${arg} must be a file descriptor (an integer) or an object with fileno(), got ${describe(fileobj)}`);
  }
  if (fd < 0 || fd > 0x7fffffff) throw new RangeError(`${method}: ${arg} is not a valid file descriptor: ${fd}`);
  return fd;
}

/**
 * Calls `callback(...args)` on `loop` whenever `fd` is readable, replacing
 * any reader of `fd`. Returns the Handle that runs it (asyncio's
 * `_add_reader` does too), for `removeHandle`.
 */
export function addReader(loop: BaseEventLoop, fd: FileLike, callback: AnyCallback, ...args: unknown[]): Handle {
  return register(loop, fd, callback, args, true, 'addReader');
}

/** Calls `callback(...args)` on `loop` whenever `fd` is writable, replacing any writer of `fd`; returns its Handle. */
export function addWriter(loop: BaseEventLoop, fd: FileLike, callback: AnyCallback, ...args: unknown[]): Handle {
  return register(loop, fd, callback, args, false, 'addWriter');
}

/** Stops watching `fd` for reading; true if `loop` had a reader for it. */
export function removeReader(loop: BaseEventLoop, fd: FileLike): boolean {
  return unregister(loop, fileDescriptor(fd, 'removeReader'), true);
}

/** Stops watching `fd` for writing; true if `loop` had a writer for it. */
export function removeWriter(loop: BaseEventLoop, fd: FileLike): boolean {
  return unregister(loop, fileDescriptor(fd, 'removeWriter'), false);
}

/**
 * `addReader` (`reading`) or `addWriter` for the fd of a Socket, whose
 * `close()` and `detach()` call `forgetFd`: the fd's poll handle then stays
 * open between registrations, and armed until an event nobody wants arrives,
 * because the loop's `sock*` methods register anew for every wait, and
 * opening, starting and stopping a poll handle each cost system calls.
 */
export function addSocketWatch(loop: BaseEventLoop, fd: number, reading: boolean, callback: AnyCallback): Handle {
  const handle = register(loop, fd, callback, [], reading, reading ? 'addReader' : 'addWriter');
  watches.get(fd)!.retained = true;
  return handle;
}

/** Removes the reader or writer of `fd` whose Handle is `handle`, if it is still registered (a later registration is left alone). */
export function removeHandle(fd: number, handle: Handle): void {
  const watch = watches.get(fd);
  if (watch === undefined) return;
  if (watch.reader?.handle === handle) drop(watch, watch.reader);
  else if (watch.writer?.handle === handle) drop(watch, watch.writer);
}

/**
 * Drops every reader and writer of `fd`, whichever loop registered them.
 * Must run before the fd is closed: a poll handle left on a closed fd would
 * watch whatever the number is reused for.
 */
export function forgetFd(fd: number): void {
  const watch = watches.get(fd);
  if (watch === undefined) return;
  watch.reader?.handle.cancel();
  watch.writer?.handle.cancel();
  release(watch);
}

/** Drops every reader and writer `loop` registered; for `EventLoop.close()`. */
export function closeLoopWatches(loop: BaseEventLoop): void {
  for (const watch of [...watches.values()]) {
    if (watch.reader?.loop === loop) drop(watch, watch.reader);
    if (watch.writer?.loop === loop) drop(watch, watch.writer);
  }
}

function register(loop: BaseEventLoop, fileobj: FileLike, callback: AnyCallback, args: unknown[], reading: boolean, method: string): Handle {
  loop._checkClosed();
  const fd = fileDescriptor(fileobj, method);
  checkCallback(callback, method);
  const watch = watches.get(fd) ?? open(fd, method);
  const registration: Registration = { loop, handle: new Handle(callback, args, loop), parked: false };
  const previous = reading ? watch.reader : watch.writer;
  previous?.handle.cancel();
  if (reading) watch.reader = registration;
  else watch.writer = registration;
  sync(watch);
  return registration.handle;
}

function unregister(loop: BaseEventLoop, fd: number, reading: boolean): boolean {
  const watch = watches.get(fd);
  const registration = reading ? watch?.reader : watch?.writer;
  if (watch === undefined || registration == null || registration.loop !== loop) return false;
  drop(watch, registration);
  return true;
}

function drop(watch: FdWatch, registration: Registration): void {
  registration.handle.cancel();
  if (watch.reader === registration) watch.reader = null;
  if (watch.writer === registration) watch.writer = null;
  if (watch.retained) return; // its native mask is trimmed lazily: see onPollEvent
  if (watch.reader === null && watch.writer === null) release(watch);
  else sync(watch);
}

function open(fd: number, method: string): FdWatch {
  let poll: PollWatchHandle;
  const id = (lastId = (lastId + 1) | 0);
  try {
    poll = native.pollOpen(fd, id);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new RuntimeError(
        `${method}: fd ${fd} is owned by a libuv handle of this thread (a Node socket, pipe or stream): use its transport, or a dup() of the fd`,
        { cause: error },
      );
    }
    throw error;
  }
  const watch: FdWatch = { fd, id, poll, reader: null, writer: null, armed: 0, retained: false };
  watches.set(fd, watch);
  watchesById.set(id, watch);
  return watch;
}

function release(watch: FdWatch): void {
  watches.delete(watch.fd);
  watchesById.delete(watch.id);
  native.pollClose(watch.poll);
}

/** Starts or stops the native handle for the sides that want events now. */
function sync(watch: FdWatch): void {
  const { reader, writer } = watch;
  const wanted = (reader !== null && !reader.parked ? READABLE : 0) | (writer !== null && !writer.parked ? WRITABLE : 0);
  if (wanted === watch.armed) return;
  if (wanted === 0) native.pollStop(watch.poll);
  else native.pollStart(watch.poll, wanted);
  watch.armed = wanted;
}

/**
 * The `count` events the native layer wrote to `batch`, in order. Each is
 * handled even if one before it threw (a bug here: user callbacks report to
 * their loop); the first such error is rethrown after the last event.
 */
function onPollEvents(count: number): void {
  let failed = false;
  let failure: unknown;
  for (let i = 0; i < 3 * count; i += 3) {
    try {
      onPollEvent(batch[i]!, batch[i + 1]!, batch[i + 2]!);
    } catch (error) {
      if (!failed) failure = error;
      failed = true;
    }
  }
  if (failed) throw failure;
}

function onPollEvent(id: number, status: number, events: number): void {
  const watch = watchesById.get(id);
  if (watch === undefined) return;
  if (status < 0) {
    // libuv stopped the handle on an fd error (POLLERR, as after a refused
    // connect). asyncio's selectors report such an fd ready both ways, so
    // that the callbacks find the error in recv() or SO_ERROR.
    watch.armed = 0;
    events = READABLE | WRITABLE;
  }
  // An event nobody is registered for comes from a retained watch, which
  // stays armed after a sock* wait ends because the next wait usually comes
  // first (saving a stop and a restart); now it is trimmed.
  const unwanted = (events & READABLE && watch.reader === null) || (events & WRITABLE && watch.writer === null);
  if (events & READABLE && watch.reader !== null) deliver(watch, watch.reader);
  // The reader may have removed or replaced the writer, or dropped the fd.
  if (events & WRITABLE && watch.writer !== null) deliver(watch, watch.writer);
  if ((unwanted || status < 0) && watchesById.get(id) === watch) sync(watch);
}

function deliver(watch: FdWatch, registration: Registration): void {
  const loop = registration.loop;
  if (loop.isRunning()) {
    loop._callIoUntimed(runHandle, loop, registration.handle);
    return;
  }
  if (loop.isClosed()) {
    // Closed without EventLoop.close(): nothing will ever run this side again.
    drop(watch, registration);
    return;
  }
  registration.parked = true;
  sync(watch);
  loop._callIo(unpark, watch, registration);
}

/** As the loop runs a ready Handle: counted in its statistics, timed in debug mode. */
function runHandle(loop: BaseEventLoop, handle: Handle): void {
  if (!handle._cancelled) loop._runHandle(handle);
}

/** Runs on the loop's next iteration after an event arrived while it was stopped. */
function unpark(watch: FdWatch, registration: Registration): void {
  if (!registration.parked) return;
  registration.parked = false;
  if (watches.get(watch.fd) === watch && (watch.reader === registration || watch.writer === registration)) sync(watch);
}
