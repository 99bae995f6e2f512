/**
 * Transports: the interfaces of asyncio's transports, and the state and
 * write flow control every concrete transport shares (TCP/UNIX/TLS streams,
 * pipes, UDP, subprocesses).
 */
import type { EventEmitter } from 'node:events';
import type { BaseEventLoop } from './base_events.js';
import { logger } from './log.js';
import type { BaseProtocol, Protocol } from './protocols.js';

/**
 * A socket address in the seed's tuple shape: `[host, port]` (IPv4),
 * `[host, port, flowinfo, scopeId]` (IPv6), or a path (UNIX).
 */
export type Address = [string, number] | [string, number, number, number] | string;

/** What every transport offers. */
export interface BaseTransport {
  /** `name`'s value (`peername`, `sockname`, `socket`, `sslcontext`, `peercert`, ...) or `dflt`. */
  getExtraInfo(name: string, dflt?: unknown): unknown;
  /** True once `close()` or `abort()` was called or the connection was lost. */
  isClosing(): boolean;
  /** Closes after flushing buffered data; the protocol's `connectionLost(null)` follows. */
  close(): void;
  getProtocol(): BaseProtocol;
  setProtocol(protocol: BaseProtocol): void;
}

/** The read half of a stream transport. */
export interface ReadTransport extends BaseTransport {
  /** Stops `dataReceived` calls until `resumeReading()`; no byte is dropped. */
  pauseReading(): void;
  resumeReading(): void;
  isReading(): boolean;
}

/** The write half of a stream transport. */
export interface WriteTransport extends BaseTransport {
  /** Queues `data` to send; never blocks, never throws for a lost connection. */
  write(data: Uint8Array): void;
  writelines(list: Iterable<Uint8Array>): void;
  /** Half-closes: sends EOF after the buffered data. */
  writeEof(): void;
  canWriteEof(): boolean;
  /** Closes at once, dropping buffered data; `connectionLost(null)` follows. */
  abort(): void;
  setWriteBufferLimits(high?: number | null, low?: number | null): void;
  /** Returns `[low, high]`, as asyncio does. */
  getWriteBufferLimits(): [number, number];
  getWriteBufferSize(): number;
}

export interface Transport extends ReadTransport, WriteTransport {}

export interface DatagramTransport extends BaseTransport {
  /** Sends one datagram to `addr`, or to the connected peer when `addr` is omitted. */
  sendto(data: Uint8Array, addr?: Address | null): void;
  abort(): void;
  getWriteBufferSize(): number;
}

export interface SubprocessTransport extends BaseTransport {
  getPid(): number;
  /** The exit status, minus the signal number if a signal ended the child, null while it runs. */
  getReturncode(): number | null;
  /** The transport of the child's fd 0, 1 or 2, or null if that pipe was not created. */
  getPipeTransport(fd: number): ReadTransport | WriteTransport | null;
  sendSignal(sig: number | NodeJS.Signals): void;
  terminate(): void;
  kill(): void;
}

/** asyncio's default write-buffer high-water mark. */
const DEFAULT_HIGH_WATER = 64 * 1024;

/**
 * Converts a Node (address, port, family) triple to the seed's tuple shape.
 * Node gives an IPv6 zone as `addr%zone`; a numeric zone becomes the scope id.
 */
export function addressTuple(host: string, port: number, family: string | number | undefined): Address {
  if (family === 'IPv6' || family === 6) {
    const zone = host.indexOf('%');
    if (zone < 0) return [host, port, 0, 0];
    const scope = Number(host.slice(zone + 1));
    return [host.slice(0, zone), port, 0, Number.isInteger(scope) ? scope : 0];
  }
  return [host, port];
}

/** Throws a TypeError naming `name` unless `data` is bytes. */
export function checkBytes(data: unknown, name: string): asserts data is Uint8Array {
  if (!(data instanceof Uint8Array)) {
    const got = data === null ? 'null' : typeof data;
    throw new TypeError(`${name} must be a Buffer or Uint8Array, not ${got}`);
  }
}

/**
 * Settles with `emitter` once `start` calls the `done` it is given (a Node
 * socket bound, connected or listening; a child spawned). An 'error' the
 * emitter emits first runs `undo`, which closes what was opened, and rejects.
 */
export function whenDone<E extends EventEmitter>(emitter: E, undo: () => void, start: (done: () => void) => void): Promise<E> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      undo();
      reject(err);
    };
    emitter.once('error', onError);
    start(() => {
      emitter.removeListener('error', onError);
      resolve(emitter);
    });
  });
}

/** True for errors the OS or the network produced (as opposed to bugs in callbacks). */
function isSystemError(exc: unknown): boolean {
  return exc instanceof Error && typeof (exc as NodeJS.ErrnoException).code === 'string';
}

/** Something a loop must close when it closes: a transport or a server. */
export interface LoopResource {
  /** Closes at once; called by `loop.close()` on what is still open. */
  _forceClose(exc: Error | null): void;
}

/** Transports and servers still open on each loop. */
const openResources = new WeakMap<BaseEventLoop, Set<LoopResource>>();

/** Records `resource` as open on `loop` until `unregisterLoopResource`. */
export function registerLoopResource(loop: BaseEventLoop, resource: LoopResource): void {
  let open = openResources.get(loop);
  if (open === undefined) openResources.set(loop, (open = new Set()));
  open.add(resource);
}

export function unregisterLoopResource(loop: BaseEventLoop, resource: LoopResource): void {
  openResources.get(loop)?.delete(resource);
}

/**
 * Closes every transport and server still open on `loop`: a closed loop can
 * run no callback, so they could otherwise never report their end.
 */
export function closeLoopResources(loop: BaseEventLoop): void {
  const open = openResources.get(loop);
  if (open === undefined) return;
  openResources.delete(loop);
  for (const resource of open) {
    if (loop.getDebug()) logger.warn(`unclosed ${resource.constructor.name} closed by loop.close()`);
    resource._forceClose(null);
  }
}

/**
 * The state every transport shares: its loop, protocol, extra info and
 * closing flag; registration with the loop; asyncio's fatal-error policy.
 */
export abstract class TransportBase<P extends BaseProtocol> implements BaseTransport, LoopResource {
  protected readonly _loop: BaseEventLoop;
  protected _protocol: P;
  protected readonly _extra: Record<string, unknown>;
  protected _closing = false;

  constructor(loop: BaseEventLoop, protocol: P, extra: Record<string, unknown>) {
    this._loop = loop;
    this._protocol = protocol;
    this._extra = extra;
    registerLoopResource(loop, this);
  }

  getExtraInfo(name: string, dflt: unknown = undefined): unknown {
    return Object.hasOwn(this._extra, name) ? this._extra[name] : dflt;
  }

  isClosing(): boolean {
    return this._closing;
  }

  getProtocol(): P {
    return this._protocol;
  }

  setProtocol(protocol: P): void {
    this._protocol = protocol;
  }

  abstract close(): void;

  /** Closes at once, dropping buffered data; `connectionLost` follows once. */
  abstract _forceClose(exc: Error | null): void;

  /** Forgets this transport in the loop's registry; call once the connection is lost. */
  protected _unregister(): void {
    unregisterLoopResource(this._loop, this);
  }

  /**
   * asyncio's policy for an error that ends a connection: OS/network errors
   * are expected (logged in debug mode only), anything else is a bug and goes
   * to the loop's exception handler; either way the transport is aborted.
   */
  protected _fatalError(exc: unknown, message: string): void {
    if (isSystemError(exc)) {
      if (this._loop.getDebug()) logger.debug(`${message}: ${String(exc)}`);
    } else {
      this._loop.callExceptionHandler({ message, exception: exc, transport: this, protocol: this._protocol });
    }
    this._forceClose(exc instanceof Error ? exc : new Error(String(exc)));
  }

  /** Reports, in debug mode, data written after the transport closed (it is dropped, never thrown). */
  protected _warnWriteAfterClose(): void {
    if (this._loop.getDebug()) logger.warn(`${this.constructor.name}: write after close() dropped`);
  }
}

/**
 * Write flow control shared by every writable transport: the protocol's
 * `pauseWriting()` runs when the buffer grows over the high-water mark and
 * `resumeWriting()` when it drains to the low-water mark, each exactly once
 * per crossing. Subclasses call `_maybePauseProtocol()` after queueing data
 * and `_maybeResumeProtocol()` after data left the buffer.
 */
export abstract class FlowControlTransport<P extends BaseProtocol> extends TransportBase<P> {
  private _highWater = DEFAULT_HIGH_WATER;
  private _lowWater = DEFAULT_HIGH_WATER / 4;
  private _protocolPaused = false;
  /** A `resumeWriting()` is queued on the loop and has not run yet. */
  private _resumeQueued = false;
  // Bound once per transport so each crossing costs no allocation.
  private readonly _deliverResumeWriting = (): void => {
    // A pause since it was queued took it back: the protocol never learnt it could resume.
    if (!this._resumeQueued) return;
    this._resumeQueued = false;
    try {
      this._protocol.resumeWriting();
    } catch (exception) {
      this._flowControlFailed('protocol.resumeWriting() failed', exception);
    }
  };

  abstract getWriteBufferSize(): number;

  /**
   * Sets the marks as asyncio does: `high` defaults to 64 KiB (or 4 × `low`),
   * `low` to `high / 4`; requires `high >= low >= 0`.
   */
  setWriteBufferLimits(high: number | null = null, low: number | null = null): void {
    if (high !== null && (typeof high !== 'number' || Number.isNaN(high))) {
      throw new TypeError(`high must be a number, not ${typeof high}`);
    }
    if (low !== null && (typeof low !== 'number' || Number.isNaN(low))) {
      throw new TypeError(`low must be a number, not ${typeof low}`);
    }
    const hi = high ?? (low === null ? DEFAULT_HIGH_WATER : 4 * low);
    const lo = low ?? Math.floor(hi / 4);
    if (!(hi >= lo && lo >= 0)) throw new RangeError(`high (${hi}) must be >= low (${lo}) must be >= 0`);
    this._highWater = hi;
    this._lowWater = lo;
    this._maybePauseProtocol();
  }

  getWriteBufferLimits(): [number, number] {
    return [this._lowWater, this._highWater];
  }

  /**
   * Called right after data was queued, inside the caller's `write()`: as in
   * asyncio, `pauseWriting()` runs before `write()` returns, so a producer
   * looping `while (!paused) transport.write(chunk)` stops (queued through
   * the loop it would never run while that loop spins).
   */
  protected _maybePauseProtocol(): void {
    if (this._protocolPaused || this.getWriteBufferSize() <= this._highWater) return;
    this._protocolPaused = true;
    if (this._resumeQueued) {
      // The protocol is still paused as far as it knows: cancel the queued resume instead of pausing twice.
      this._resumeQueued = false;
      return;
    }
    try {
      this._protocol.pauseWriting();
    } catch (exception) {
      this._flowControlFailed('protocol.pauseWriting() failed', exception);
    }
  }

  /** Called after data left the buffer (an I/O event): `resumeWriting()` runs through the loop. */
  protected _maybeResumeProtocol(): void {
    if (this._protocolPaused && this.getWriteBufferSize() <= this._lowWater) {
      this._protocolPaused = false;
      this._resumeQueued = true;
      this._loop._callIo(this._deliverResumeWriting);
    }
  }

  /** asyncio's policy for a failing pauseWriting/resumeWriting: reported, the transport goes on. */
  private _flowControlFailed(message: string, exception: unknown): void {
    this._loop.callExceptionHandler({ message, exception, transport: this, protocol: this._protocol });
  }
}

/**
 * A stream transport: write flow control plus asyncio's delivery of received
 * bytes and EOF to a stream protocol, where a throwing callback is fatal.
 */
export abstract class StreamTransportBase<P extends Protocol> extends FlowControlTransport<P> {
  /** Hands `data` to `protocol.dataReceived()`. */
  protected _callDataReceived(data: Buffer): void {
    try {
      this._protocol.dataReceived(data);
    } catch (exc) {
      this._fatalError(exc, 'Fatal error: protocol.dataReceived() call failed.');
    }
  }

  /**
   * Calls `protocol.eofReceived()`, then closes unless it returned a truthy
   * value and `halfOpen` allows the transport to stay open.
   */
  protected _callEofReceived(halfOpen: boolean): void {
    let keepOpen: boolean | void;
    try {
      keepOpen = this._protocol.eofReceived();
    } catch (exc) {
      this._fatalError(exc, 'Fatal error: protocol.eofReceived() call failed.');
      return;
    }
    if (!(keepOpen && halfOpen)) this.close();
  }
}
