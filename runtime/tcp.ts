/**
 * The stream transport (over a Node stream: a TCP, UNIX or TLS `net.Socket`,
 * or a pipe) and `createConnection`.
 */
import { Buffer } from 'node:buffer';
import dns from 'node:dns';
import net from 'node:net';
import type { Readable, Writable } from 'node:stream';
import tls from 'node:tls';
import type { BaseEventLoop } from './base_events.js';
import { RuntimeError } from './errors.js';
import { AF_INET, AF_INET6, AF_UNSPEC, IPPROTO_TCP } from './socket.js';
import type { Protocol, ProtocolFactory } from './protocols.js';
import { checkSsl, clientTls, tlsAccept, tlsConnect, tlsExtra, type ClientTls, type SslOption } from './tls.js';
import { addressTuple, checkBytes, StreamTransportBase, whenDone, type Transport } from './transports.js';

/** Which halves a stream transport uses, and whether a received EOF may leave it half-open. */
export interface StreamMode {
  readable: boolean;
  writable: boolean;
  halfOpen: boolean;
}

const SOCKET_MODE: StreamMode = { readable: true, writable: true, halfOpen: true };

/** What owns accepted connections (a `Server`): told when each one's `connectionLost` ran. */
export interface ConnectionOwner {
  _attach(): void;
  _detach(): void;
}

/**
 * asyncio's stream transport over a Node stream. Guarantees: the protocol's
 * `connectionMade` runs first, then `dataReceived` in order, `eofReceived`
 * at most once, and `connectionLost` exactly once, all through the loop.
 */
export class StreamTransport<P extends Protocol = Protocol> extends StreamTransportBase<P> implements Transport {
  private readonly _stream: Readable & Writable;
  private readonly _mode: StreamMode;
  private _reading = true;
  /**
   * Chunks (and EOF, as null) Node emitted that had not reached the
   * protocol when it paused reading: Node may emit several per turn and
   * each waits its turn on the loop, but asyncio delivers none while
   * paused. They go to the protocol, in order, after `resumeReading()`.
   */
  private _held: (Buffer | null)[] = [];
  /**
   * `close()`, `abort()` or a fatal error stopped reading: what arrives or
   * was held since is dropped, as asyncio drops unread data. (`_closing`
   * also turns true when Node closes the stream, after which what Node
   * emitted before must still be delivered.)
   */
  private _readStopped = false;
  private _eofWritten = false;
  private _lost = false;
  private _error: Error | null = null;
  private readonly _owner: ConnectionOwner | null;

  private readonly _onData = (data: Buffer): void => this._loop._callIo(this._deliverData, data);
  private readonly _onEnd = (): void => this._loop._callIo(this._deliverEof);
  private readonly _onError = (err: Error): void => {
    this._error ??= err;
  };
  private readonly _onClose = (): void => {
    this._closing = true;
    this._unregister();
    // A closed loop already aborted this transport and can run no callback.
    if (!this._loop.isClosed()) this._loop._callIo(this._deliverLost);
    else this._owner?._detach();
  };
  // A destroyed stream fails its pending writes: that drops the buffer, which must not resume the protocol (asyncio's abort does not).
  private readonly _onWritten = (): void => {
    if (!this._stream.destroyed) this._maybeResumeProtocol();
  };
  private readonly _destroyStream = (): void => {
    this._stream.destroy();
  };

  private readonly _deliverData = (data: Buffer): void => {
    if (this._readStopped) return;
    if (!this._reading || this._held.length > 0) this._held.push(data);
    else this._callDataReceived(data);
  };
  private readonly _deliverEof = (): void => {
    if (this._readStopped) return;
    if (!this._reading || this._held.length > 0) this._held.push(null);
    else this._callEofReceived(this._mode.halfOpen);
  };
  /** Delivers what was held while paused, in order, until it is all delivered or the protocol pauses again. */
  private readonly _deliverHeld = (): void => {
    while (this._held.length > 0 && this._reading && !this._readStopped) this._deliverOneHeld();
  };
  private _deliverOneHeld(): void {
    const data = this._held.shift()!;
    if (data === null) this._callEofReceived(this._mode.halfOpen);
    else this._callDataReceived(data);
  }
  private readonly _deliverLost = (): void => {
    if (this._lost) return;
    this._lost = true;
    // Node ended the stream while the protocol had paused with chunks held:
    // they came before the end, and there is no later resume to wait for.
    while (this._held.length > 0 && !this._readStopped) this._deliverOneHeld();
    try {
      this._protocol.connectionLost(this._error);
    } finally {
      this._owner?._detach();
    }
  };

  /**
   * Wraps `stream` (already connected) and schedules `connectionMade`.
   * `stream` is the transport's from now on: it closes it. `owner` is told
   * once `connectionLost` ran.
   */
  constructor(
    loop: BaseEventLoop,
    stream: Readable | Writable,
    protocol: P,
    extra: Record<string, unknown>,
    mode: StreamMode = SOCKET_MODE,
    owner: ConnectionOwner | null = null,
  ) {
    super(loop, protocol, extra);
    this._owner = owner;
    owner?._attach();
    // One object serves both halves; `mode` says which ones this transport uses.
    this._stream = stream as Readable & Writable;
    this._mode = mode;
    stream.on('error', this._onError);
    stream.on('close', this._onClose);
    loop._callIo(() => this._protocol.connectionMade(this));
    if (mode.readable) {
      this._stream.on('end', this._onEnd);
      this._stream.on('data', this._onData);
    }
  }

  write(data: Uint8Array): void {
    checkBytes(data, 'data');
    if (!this._mode.writable) throw new RuntimeError('write() on a read-only transport');
    if (this._eofWritten) throw new RuntimeError('Cannot call write() after writeEof()');
    if (this._closing || this._stream.destroyed) {
      this._warnWriteAfterClose();
      return;
    }
    if (data.length === 0) return;
    // A copy: Node's streams keep the caller's buffer until it is sent, but asyncio's write()
    // buffers the bytes, so code written for it reuses its buffer at once.
    this._stream.write(Buffer.from(data), this._onWritten);
    this._maybePauseProtocol();
  }

  /** Writes every buffer of `list` in order, as one gathered write. */
  writelines(list: Iterable<Uint8Array>): void {
    if (!this._mode.writable) throw new RuntimeError('writelines() on a read-only transport');
    const chunks = Array.from(list);
    for (const chunk of chunks) checkBytes(chunk, 'every item of list');
    this._stream.cork();
    try {
      for (const chunk of chunks) this.write(chunk);
    } finally {
      this._stream.uncork();
    }
  }

  writeEof(): void {
    if (this._closing || this._eofWritten) return;
    if (!this._mode.writable) throw new RuntimeError('writeEof() on a read-only transport');
    this._eofWritten = true;
    this._stream.end();
  }

  /** True for every writable stream, TLS included (Node sends close_notify; asyncio's TLS cannot). */
  canWriteEof(): boolean {
    return this._mode.writable;
  }

  getWriteBufferSize(): number {
    // Node keeps counting the writes a destroyed (aborted) stream dropped; asyncio's abort empties the buffer.
    return this._mode.writable && !this._stream.destroyed ? this._stream.writableLength : 0;
  }

  pauseReading(): void {
    if (!this._mode.readable) throw new RuntimeError('pauseReading() on a write-only transport');
    if (this._closing || !this._reading) return;
    this._reading = false;
    this._stream.pause();
  }

  resumeReading(): void {
    if (!this._mode.readable) throw new RuntimeError('resumeReading() on a write-only transport');
    if (this._closing || this._reading) return;
    this._reading = true;
    // Through the loop, as asyncio's resume_reading: no protocol callback runs inside it.
    if (this._held.length > 0) this._loop.callSoon(this._deliverHeld);
    this._stream.resume();
  }

  isReading(): boolean {
    return this._mode.readable && this._reading && !this._closing;
  }

  /** Stops reading, flushes what was written, then closes; `connectionLost(null)` follows. */
  close(): void {
    if (this._closing) return;
    this._closing = true;
    this._readStopped = true;
    if (this._mode.readable) this._stream.pause();
    if (this._mode.writable && !this._stream.writableFinished && !this._stream.destroyed) {
      this._stream.end(this._destroyStream);
    } else {
      this._stream.destroy();
    }
  }

  abort(): void {
    this._forceClose(null);
  }

  _forceClose(exc: Error | null): void {
    this._closing = true;
    this._readStopped = true;
    this._error ??= exc;
    this._stream.destroy();
  }
}

/** An already connected socket to adopt: our `Socket` (detached), an fd we then own, or a `net.Socket`. */
export type SocketLike = net.Socket | number | { fileno(): number; detach(): number };

/**
 * The fd of a `sock` option that is a raw fd or our `Socket` (which is
 * detached: the fd is the caller's from now on), or null for anything else.
 * Throws a RangeError naming `sock` for a number that is no fd.
 */
export function detachedFd(sock: unknown): number | null {
  let fd: number;
  if (typeof sock === 'number') fd = sock;
  else if (typeof sock === 'object' && sock !== null && typeof (sock as { detach?: unknown }).detach === 'function') {
    fd = (sock as { detach(): number }).detach();
  } else return null;
  if (!Number.isInteger(fd) || fd < 0) throw new RangeError(`sock must be a valid file descriptor, not ${fd}`);
  return fd;
}

/** Turns a `sock` option into a `net.Socket` the transport owns; throws a TypeError naming `sock` otherwise. */
export function adoptSocket(sock: unknown): net.Socket {
  if (sock instanceof net.Socket) {
    // A received EOF must reach the protocol, which decides whether to half-close.
    sock.allowHalfOpen = true;
    return sock;
  }
  const fd = detachedFd(sock);
  if (fd === null) throw new TypeError(`sock must be a Socket, a net.Socket or a file descriptor, not ${typeof sock}`);
  return new net.Socket({ fd, readable: true, writable: true, allowHalfOpen: true });
}

/** The extra info of a connected TCP or TLS socket. */
function socketExtra(sock: net.Socket): Record<string, unknown> {
  return {
    peername:
      sock.remoteAddress === undefined ? null : addressTuple(sock.remoteAddress, sock.remotePort ?? 0, sock.remoteFamily),
    sockname:
      sock.localAddress === undefined ? null : addressTuple(sock.localAddress, sock.localPort ?? 0, sock.localFamily),
    socket: sock,
  };
}

/**
 * Creates the protocol and the transport of a connected `sock` (a socket,
 * or one direction of a pipe with its `mode`) and runs `connectionMade`;
 * settles with the pair after `connectionMade` ran. The stream is destroyed
 * if the protocol factory throws.
 */
export function startTransport<P extends Protocol>(
  loop: BaseEventLoop,
  sock: Readable | Writable,
  protocolFactory: ProtocolFactory<P>,
  extra: Record<string, unknown>,
  owner: ConnectionOwner | null = null,
  mode: StreamMode = SOCKET_MODE,
): Promise<[StreamTransport<P>, P]> {
  let protocol: P;
  try {
    loop._checkClosed();
    protocol = protocolFactory();
  } catch (exc) {
    sock.destroy();
    return Promise.reject(exc);
  }
  const transport = new StreamTransport(loop, sock, protocol, extra, mode, owner);
  // Queued behind connectionMade, so the caller sees the pair only after it ran.
  return new Promise((resolve) => loop._callIo(resolve, [transport, protocol]));
}

/** Runs the TLS handshake if asked, then `startTransport` with the socket's extra info. */
export async function startSocketTransport<P extends Protocol>(
  loop: BaseEventLoop,
  sock: net.Socket,
  protocolFactory: ProtocolFactory<P>,
  tlsClient: ClientTls | null,
  extra: Record<string, unknown> = {},
): Promise<[StreamTransport<P>, P]> {
  if (tlsClient === null) return startTransport(loop, sock, protocolFactory, { ...socketExtra(sock), ...extra });
  const secure = await tlsConnect(sock, tlsClient);
  return startTransport(loop, secure, protocolFactory, {
    ...socketExtra(sock),
    ...tlsExtra(secure, tlsClient.context),
    ...extra,
    socket: secure,
  });
}

/**
 * Wraps a connection a server accepted (or one handed over by another
 * thread): TLS handshake when `ssl` is a context, then protocol, transport
 * and `connectionMade`; `owner` (the server) counts it until its
 * `connectionLost` ran. Never throws: a failed handshake is logged in debug
 * mode and a failing protocol factory goes to the loop's exception handler;
 * either way the socket is closed and the promise settles with null.
 */
export async function acceptedConnection<P extends Protocol>(
  loop: BaseEventLoop,
  sock: net.Socket,
  protocolFactory: ProtocolFactory<P>,
  ssl: tls.SecureContext | null = null,
  extra: Record<string, unknown> = {},
  owner: ConnectionOwner | null = null,
): Promise<StreamTransport<P> | null> {
  const base = { ...socketExtra(sock), ...extra };
  let stream: net.Socket = sock;
  if (ssl !== null) {
    try {
      stream = await tlsAccept(sock, ssl);
    } catch (exc) {
      if (loop.getDebug() && !loop.isClosed()) loop.callExceptionHandler({ message: 'TLS handshake failed', exception: exc });
      return null;
    }
    Object.assign(base, tlsExtra(stream as tls.TLSSocket, ssl), { socket: stream });
  }
  try {
    const [transport] = await startTransport(loop, stream, protocolFactory, base, owner);
    return transport;
  } catch (exc) {
    if (!loop.isClosed()) {
      loop.callExceptionHandler({ message: 'protocol factory failed for an accepted connection', exception: exc });
    }
    return null;
  }
}

/** Options of `createConnection`, as the seed names them. */
export interface ConnectionOptions {
  ssl?: SslOption;
  family?: number;
  proto?: number;
  flags?: number;
  sock?: SocketLike | null;
  localAddr?: [string, number] | null;
  serverHostname?: string | null;
}


/** Node's family number (0, 4, 6) for an `AF_*` value; throws a RangeError naming `family` otherwise. */
export function nodeFamily(family: unknown): 0 | 4 | 6 {
  if (family === AF_UNSPEC || family === undefined || family === null) return 0;
  if (family === AF_INET) return 4;
  if (family === AF_INET6) return 6;
  throw new RangeError(`family must be AF_UNSPEC, AF_INET or AF_INET6, not ${String(family)}`);
}

/** Checks a port argument: an integer 0..65535 or its decimal string; throws naming `name`. */
export function checkPort(port: unknown, name = 'port'): number {
  const n = typeof port === 'string' && /^\d+$/.test(port) ? Number(port) : port;
  if (typeof n !== 'number') throw new TypeError(`${name} must be a number, not ${typeof port}`);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new RangeError(`${name} must be an integer in 0..65535, not ${n}`);
  return n;
}

/** Checks a host argument: a string or null; throws a TypeError naming `name`. */
export function checkHost(host: unknown, name = 'host'): asserts host is string | null {
  if (host !== null && typeof host !== 'string') throw new TypeError(`${name} must be a string or null, not ${typeof host}`);
}

/** The getaddrinfo flags Node's resolver passes on; AI_PASSIVE only matters for a null host, handled by callers. */
const LOOKUP_HINTS = dns.ADDRCONFIG | dns.V4MAPPED | dns.ALL;

/** Resolves `host` without blocking the loop (a literal address needs no lookup). */
export async function resolveHost(host: string, family: 0 | 4 | 6, flags: number): Promise<dns.LookupAddress[]> {
  const literal = net.isIP(host);
  if (literal !== 0) return family === 0 || family === literal ? [{ address: host, family: literal }] : [];
  return dns.promises.lookup(host, { all: true, family, hints: flags & LOOKUP_HINTS });
}

/**
 * Connects a new half-open-capable net.Socket (TCP or UNIX, by `options`);
 * rejects with the OS error, leaving nothing open.
 */
export function connectSocket(options: net.SocketConnectOpts): Promise<net.Socket> {
  const sock = new net.Socket({ allowHalfOpen: true });
  return whenDone(sock, () => sock.destroy(), (done) => sock.connect(options, done));
}

/**
 * Connects to each address of `host` in turn, as asyncio does; the first
 * that accepts wins. All failing with one error code rejects with the first
 * such OS error; mixed failures reject with an AggregateError of them all.
 */
async function connectTcp(
  host: string,
  port: number,
  family: 0 | 4 | 6,
  flags: number,
  localAddr: [string, number] | null,
): Promise<net.Socket> {
  const addresses = await resolveHost(host, family, flags);
  if (addresses.length === 0) {
    const err: NodeJS.ErrnoException = new Error(`getaddrinfo returned no address for ${host}`);
    err.code = 'ENOTFOUND';
    throw err;
  }
  const locals = localAddr === null ? null : await resolveHost(localAddr[0], family, flags);
  const errors: Error[] = [];
  for (const address of addresses) {
    let local: dns.LookupAddress | null = null;
    if (locals !== null) {
      local = locals.find((l) => l.family === address.family) ?? null;
      if (local === null) {
        errors.push(new Error(`no local address of family IPv${address.family} in localAddr ${localAddr![0]}`));
        continue;
      }
    }
    try {
      return await connectSocket({
        host: address.address,
        port,
        family: address.family,
        localAddress: local?.address,
        localPort: local === null ? undefined : (localAddr?.[1] ?? 0),
      });
    } catch (exc) {
      errors.push(exc as Error);
    }
  }
  const code = (errors[0] as NodeJS.ErrnoException).code;
  if (errors.every((e) => (e as NodeJS.ErrnoException).code === code)) throw errors[0];
  throw new AggregateError(errors, `Multiple exceptions: ${errors.map(String).join(', ')}`);
}

/** Throws a TypeError naming `protocolFactory` unless it is callable. */
export function checkProtocolFactory(protocolFactory: unknown): void {
  if (typeof protocolFactory !== 'function') {
    throw new TypeError(`protocolFactory must be a function, not ${typeof protocolFactory}`);
  }
}

/** Checks a `localAddr`-style `[host, port]` pair; throws naming `name`. */
export function checkHostPort(addr: unknown, name: string): asserts addr is [string, number] | null {
  if (addr === null || addr === undefined) return;
  if (!Array.isArray(addr) || addr.length < 2) throw new TypeError(`${name} must be a [host, port] array`);
  checkHost(addr[0], `${name}[0]`);
  checkPort(addr[1], `${name}[1]`);
}

/**
 * The seed's `create_connection`: connects to `host`:`port` (or adopts
 * `sock`), with TLS when `ssl` is set, and settles with
 * `[transport, protocol]` after `connectionMade` ran. Bad arguments throw
 * at once; a refused or failed connect rejects with the OS error.
 */
export function createConnection<P extends Protocol>(
  loop: BaseEventLoop,
  protocolFactory: ProtocolFactory<P>,
  host: string | null = null,
  port: number | string | null = null,
  options: ConnectionOptions = {},
): Promise<[StreamTransport<P>, P]> {
  loop._checkClosed();
  checkProtocolFactory(protocolFactory);
  checkHost(host);
  checkSsl(options.ssl);
  const tlsClient = clientTls(options.ssl, host, options.serverHostname);
  if (options.sock !== null && options.sock !== undefined) {
    if (host !== null || port !== null || options.family || options.proto || options.flags || options.localAddr) {
      throw new TypeError('host, port, family, proto, flags and localAddr must not be given with sock');
    }
    return startSocketTransport(loop, adoptSocket(options.sock), protocolFactory, tlsClient);
  }
  if (port === null) throw new TypeError('port must be given when sock is not');
  const portNumber = checkPort(port);
  const family = nodeFamily(options.family);
  if (options.proto !== undefined && options.proto !== 0 && options.proto !== IPPROTO_TCP) {
    throw new RangeError(`proto must be 0 or IPPROTO_TCP (${IPPROTO_TCP}), not ${options.proto}`);
  }
  const flags = options.flags ?? 0;
  if (!Number.isInteger(flags)) throw new TypeError(`flags must be an integer, not ${typeof flags}`);
  const localAddr = options.localAddr ?? null;
  checkHostPort(localAddr, 'localAddr');
  return connectTcp(host ?? 'localhost', portNumber, family, flags, localAddr).then((sock) =>
    startSocketTransport(loop, sock, protocolFactory, tlsClient),
  );
}
