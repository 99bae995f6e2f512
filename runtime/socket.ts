/**
 * Socket: a thin wrapper of an OS socket, Python's `socket.socket` for the
 * loop's low-level `sock*` methods, `addReader`/`addWriter`, and the `sock`
 * option of `createConnection`/`createServer`.
 *
 * Unlike Python, sockets are created non-blocking: a blocking call would
 * stall the whole event loop of the thread. Every socket is close-on-exec.
 * Operations that cannot complete now throw the Node-style EAGAIN error
 * (`code: 'EAGAIN'`, Python's BlockingIOError); a non-blocking `connect`
 * throws EINPROGRESS. Addresses have asyncio's shapes: `[host, port]` (IPv4),
 * `[host, port, flowinfo, scopeId]` (IPv6), a path string (UNIX; a leading
 * '\0' names Linux's abstract namespace). Hosts must be numeric: resolve
 * names with `loop.getaddrinfo()`. An unclosed Socket that is garbage
 * collected is closed, with a warning through `logger`, as Python does; the
 * open Sockets of a worker thread are closed when the thread ends.
 */
import { isIP } from 'node:net';
import { constants as osConstants } from 'node:os';
import { native, systemError, type NativeAddress } from '../native/index.js';
import { logger } from './log.js';
import { forgetFd } from './poll.js';
import { receive } from './read_arena.js';
import { describe } from './validate.js';

const C = native.constants;
const { EAGAIN, EBADF, EINPROGRESS } = osConstants.errno;
export const AF_UNSPEC = C.AF_UNSPEC;
export const AF_INET = C.AF_INET;
export const AF_INET6 = C.AF_INET6;
export const AF_UNIX = C.AF_UNIX;
export const SOCK_STREAM = C.SOCK_STREAM;
export const SOCK_DGRAM = C.SOCK_DGRAM;
export const SOCK_RAW = C.SOCK_RAW;
export const IPPROTO_TCP = C.IPPROTO_TCP;
export const IPPROTO_UDP = C.IPPROTO_UDP;
export const IPPROTO_IPV6 = C.IPPROTO_IPV6;
export const IPV6_V6ONLY = C.IPV6_V6ONLY;
export const TCP_NODELAY = C.TCP_NODELAY;
export const SOL_SOCKET = C.SOL_SOCKET;
export const SO_REUSEADDR = C.SO_REUSEADDR;
export const SO_REUSEPORT = C.SO_REUSEPORT;
export const SO_KEEPALIVE = C.SO_KEEPALIVE;
export const SO_BROADCAST = C.SO_BROADCAST;
export const SO_RCVBUF = C.SO_RCVBUF;
export const SO_SNDBUF = C.SO_SNDBUF;
export const SO_ERROR = C.SO_ERROR;
export const SHUT_RD = C.SHUT_RD;
export const SHUT_WR = C.SHUT_WR;
export const SHUT_RDWR = C.SHUT_RDWR;

/** A socket address in asyncio's shape. */
export type SocketAddress = NativeAddress;

/** Python's default listen() backlog: min(SOMAXCONN, 128). */
const DEFAULT_BACKLOG = 128;

/** Closes the fd of a Socket that was garbage collected while open. */
const unclosed = new FinalizationRegistry<number>((fd) => {
  forgetFd(fd);
  try {
    native.close(fd);
    logger.warn(`unclosed Socket fd=${fd}: closed when garbage collected`);
  } catch (error) {
    // Someone closed the fd behind the Socket's back; a finalizer must not throw.
    logger.warn(`unclosed Socket fd=${fd} garbage collected, but its fd could not be closed:`, error);
  }
});

export class Socket {
  readonly family: number;
  readonly type: number;
  readonly proto: number;
  private fd: number;
  private blocking: boolean;
  /** @internal TCP_NODELAY is known to be on (inherited from the listener that accepted the socket): a transport need not set it. */
  _noDelay = false;

  /**
   * A new socket (default AF_INET, SOCK_STREAM), or, with `fileno`, a Socket
   * that takes ownership of an existing socket fd, left in its blocking mode;
   * as in Python, the family, type and protocol not given are read from it.
   * (`blocking`, internal: the fd's mode when the caller knows it, as for a
   * fd from `accept4`, which then is not asked of the OS.)
   */
  constructor(family?: number, type?: number, proto?: number, fileno: number | null = null, blocking?: boolean) {
    if (family !== undefined) checkInt(family, 'Socket', 'family');
    if (type !== undefined) checkInt(type, 'Socket', 'type');
    if (proto !== undefined) checkInt(proto, 'Socket', 'proto');
    if (fileno === null) {
      this.family = family ?? AF_INET;
      this.type = type ?? SOCK_STREAM;
      this.proto = proto ?? 0;
      this.fd = native.socket(this.family, this.type, this.proto);
      this.blocking = false;
    } else {
      checkInt(fileno, 'Socket', 'fileno');
      if (fileno < 0) throw new RangeError(`Socket: fileno must be a file descriptor, got ${fileno}`);
      this.family = family ?? native.getsockopt(fileno, SOL_SOCKET, C.SO_DOMAIN);
      this.type = type ?? native.getsockopt(fileno, SOL_SOCKET, C.SO_TYPE);
      this.proto = proto ?? native.getsockopt(fileno, SOL_SOCKET, C.SO_PROTOCOL);
      this.blocking = blocking ?? !native.isNonBlocking(fileno);
      this.fd = fileno;
    }
    native.own(this.fd);
    unclosed.register(this, this.fd, this);
  }

  /** The fd, or -1 once closed or detached. */
  fileno(): number {
    return this.fd;
  }

  /** Gives up ownership of the fd without closing it, and returns it; the Socket then acts as closed. Readers and writers of the fd are dropped, since its new owner may not share it with a poll handle. */
  detach(): number {
    const fd = this.fd;
    if (fd < 0) return -1;
    this.release();
    native.disown(fd);
    return fd;
  }

  /** Closes the socket (dropping its readers and writers first). Idempotent. */
  close(): void {
    const fd = this.fd;
    if (fd < 0) return;
    this.release();
    native.close(fd);
  }

  /** Binds to `address` (numeric host, '' for any; or a UNIX path). */
  bind(address: SocketAddress): void {
    native.bind(this.open('bind'), ...nativeAddress(this.family, address, 'bind'));
  }

  /** Starts listening with a queue of `backlog` pending connections. */
  listen(backlog = DEFAULT_BACKLOG): void {
    checkInt(backlog, 'listen', 'backlog');
    native.listen(this.open('listen'), Math.max(0, backlog));
  }

  /** Connects to `address`; a non-blocking socket throws EINPROGRESS unless the connection completed at once (use `loop.sockConnect`). */
  connect(address: SocketAddress): void {
    if (!this._startConnect(address, 'connect')) throw systemError('connect', EINPROGRESS);
  }

  /** Accepts a pending connection: `[Socket, address]`; throws EAGAIN when none is pending. */
  accept(): [Socket, SocketAddress] {
    const accepted = this._tryAccept();
    if (accepted === null) throw systemError('accept', EAGAIN);
    return accepted;
  }

  /** Receives at most `bufsize` bytes (empty at EOF); throws EAGAIN when none are available. */
  recv(bufsize: number): Buffer {
    checkByteCount(bufsize, 'recv', 'bufsize');
    const data = this._tryRecv(bufsize, 'recv');
    if (data === null) throw systemError('recv', EAGAIN);
    return data;
  }

  /** Sends what fits of `data` now and returns the byte count; throws EAGAIN when nothing fits. */
  send(data: Uint8Array): number {
    const sent = this._trySend(bytesOf(data, 'send'), 0);
    if (sent === null) throw systemError('send', EAGAIN);
    return sent;
  }

  /** Shuts down reading (SHUT_RD), writing (SHUT_WR) or both (SHUT_RDWR). */
  shutdown(how: number): void {
    checkInt(how, 'shutdown', 'how');
    native.shutdown(this.open('shutdown'), how);
  }

  getsockname(): SocketAddress {
    return native.getsockname(this.open('getsockname'));
  }

  getpeername(): SocketAddress {
    return native.getpeername(this.open('getpeername'));
  }

  /** Sets an option: `value` is an integer (a boolean counts as 0/1) or the option's raw bytes. */
  setsockopt(level: number, option: number, value: number | boolean | Uint8Array): void {
    checkInt(level, 'setsockopt', 'level');
    checkInt(option, 'setsockopt', 'option');
    const raw = typeof value === 'boolean' ? Number(value) : value;
    if (typeof raw !== 'number' && !(raw instanceof Uint8Array)) {
      throw new TypeError(`setsockopt: value must be an integer, a boolean or a Uint8Array, got ${describe(value)}`);
    }
    native.setsockopt(this.open('setsockopt'), level, option, raw);
  }

  /** Reads an integer option. */
  getsockopt(level: number, option: number): number {
    checkInt(level, 'getsockopt', 'level');
    checkInt(option, 'getsockopt', 'option');
    return native.getsockopt(this.open('getsockopt'), level, option);
  }

  /** Blocking (true) or non-blocking (false) mode; the loop's `sock*` methods need non-blocking. */
  setblocking(flag: boolean): void {
    native.setNonBlocking(this.open('setblocking'), !flag);
    this.blocking = Boolean(flag);
  }

  getblocking(): boolean {
    return this.blocking;
  }

  toString(): string {
    return `<Socket fd=${this.fd} family=${this.family} type=${this.type} proto=${this.proto}>`;
  }

  /** @internal Starts a connect: true if connected now, false if in progress. */
  _startConnect(address: SocketAddress, method: string): boolean {
    return native.connect(this.open(method), ...nativeAddress(this.family, address, method));
  }

  /** @internal accept() that returns null instead of throwing EAGAIN. */
  _tryAccept(): [Socket, SocketAddress] | null {
    const accepted = native.accept(this.open('accept'));
    if (accepted === null) return null;
    return [new Socket(this.family, this.type, this.proto, accepted[0], false), accepted[1]];
  }

  /** @internal recv() of a checked `bufsize` that returns null instead of throwing EAGAIN. */
  _tryRecv(bufsize: number, method: string): Buffer | null {
    return receive(this.open(method), bufsize);
  }

  /** @internal send() of `data[offset:]` that returns null instead of throwing EAGAIN. */
  _trySend(data: Uint8Array, offset: number): number | null {
    return native.send(this.open('send'), data, offset, data.length - offset);
  }

  /** The fd of an open socket; throws EBADF (as Python's OSError) once closed. */
  private open(method: string): number {
    if (this.fd < 0) throw systemError(method, EBADF);
    return this.fd;
  }

  private release(): void {
    forgetFd(this.fd);
    unclosed.unregister(this);
    this.fd = -1;
  }
}

/** A new non-blocking socket (Python's `socket.socket(family, type, proto)`). */
export function socket(family: number = AF_INET, type: number = SOCK_STREAM, proto = 0): Socket {
  return new Socket(family, type, proto);
}

/** Two connected non-blocking sockets (Python's `socket.socketpair()`). */
export function socketpair(family: number = AF_UNIX, type: number = SOCK_STREAM, proto = 0): [Socket, Socket] {
  checkInt(family, 'socketpair', 'family');
  checkInt(type, 'socketpair', 'type');
  checkInt(proto, 'socketpair', 'proto');
  const [a, b] = native.socketpair(family, type, proto);
  return [new Socket(family, type, proto, a), new Socket(family, type, proto, b)];
}

/** Checks that `sock` is an open non-blocking Socket, for the loop's `sock*` methods. */
export function checkNonBlockingSocket(sock: unknown, method: string): asserts sock is Socket {
  if (!(sock instanceof Socket)) throw new TypeError(`${method}: sock must be a Socket, got ${describe(sock)}`);
  if (sock.getblocking()) throw new RangeError(`${method}: sock must be non-blocking (call sock.setblocking(false))`);
}

/** Checks a byte count argument: an integer from 0 to 2**31-1. */
export function checkByteCount(value: unknown, method: string, arg: string): asserts value is number {
  checkInt(value, method, arg);
  if (value < 0 || value > 0x7fffffff) throw new RangeError(`${method}: ${arg} must be between 0 and 2**31-1, got ${value}`);
}

/** `data` as bytes: any Uint8Array or other ArrayBuffer view; strings are refused, as Python refuses str. */
export function bytesOf(data: unknown, method: string): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  throw new TypeError(`${method}: data must be bytes (a Uint8Array, Buffer or ArrayBuffer view), got ${describe(data)}`);
}

type NativeAddressArgs = [family: number, hostOrPath: string, port?: number, flowinfo?: number, scopeId?: number];

/** Validates `address` for a socket of `family` and flattens it for the addon; throws TypeError or RangeError naming it. */
export function nativeAddress(family: number, address: unknown, method: string): NativeAddressArgs {
  if (family === AF_UNIX) {
    if (typeof address !== 'string') throw new TypeError(`${method}: address must be a path string for an AF_UNIX socket, got ${describe(address)}`);
    return [family, address];
  }
  const size = family === AF_INET6 ? '[host, port, flowinfo?, scopeId?]' : '[host, port]';
  if (!Array.isArray(address) || typeof address[0] !== 'string' || address.length < 2 || address.length > (family === AF_INET6 ? 4 : 2)) {
    throw new TypeError(`${method}: address must be ${size} for this socket's family, got ${describe(address)}`);
  }
  const [host, port, flowinfo = 0, scopeId = 0] = address as unknown[];
  if (!Number.isInteger(port)) throw new TypeError(`${method}: address port must be an integer, got ${describe(port)}`);
  if ((port as number) < 0 || (port as number) > 65535) throw new RangeError(`${method}: address port must be 0-65535, got ${port}`);
  if (!Number.isInteger(flowinfo) || !Number.isInteger(scopeId)) throw new TypeError(`${method}: address flowinfo and scopeId must be integers`);
  if (host !== '' && isIP(host as string) !== (family === AF_INET6 ? 6 : 4)) {
    throw new TypeError(`${method}: address host must be a numeric ${family === AF_INET6 ? 'IPv6' : 'IPv4'} address, got ${describe(host)} (resolve names with loop.getaddrinfo())`);
  }
  return [family, host as string, port as number, flowinfo as number, scopeId as number];
}

function checkInt(value: unknown, method: string, arg: string): asserts value is number {
  if (!Number.isInteger(value)) throw new TypeError(`${method}: ${arg} must be an integer, got ${describe(value)}`);
}
