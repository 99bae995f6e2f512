/**
 * FdTransport: asyncio's socket transport (`_SelectorSocketTransport`) over
 * a connected non-blocking stream socket, with its I/O done straight through
 * the native layer: readiness from the poll layer (poll.ts), `recv` and
 * `send` system calls (socket.ts), no Node stream in between.
 *
 * Why it exists: wrapping an fd in a `net.Socket` costs tens of µs per
 * connection (a Duplex, a probe of the fd's type), and every byte then goes
 * through Node's stream machinery. Here a connection costs one poll handle,
 * a read is one system call and a copy of the bytes read, and a write is
 * one system call when the kernel takes it all; only what it does not take
 * is buffered, and only while such a backlog waits is the fd watched for
 * writability (see bench/RESULTS.md).
 *
 * Semantics are `StreamTransport`'s (tcp.ts), which are asyncio's: the
 * protocol's `connectionMade` runs first, then `dataReceived` in order,
 * `eofReceived` at most once (a true result keeps the transport half-open),
 * and `connectionLost` exactly once, with the error that ended the
 * connection or null; no callback runs while the loop is stopped.
 */
import { Buffer } from 'node:buffer';
import type { BaseEventLoop } from './base_events.js';
import { RuntimeError } from './errors.js';
import type { Handle } from './handles.js';
import type { AcceptedTraits } from './listening_socket.js';
import { addSocketWatch, removeHandle } from './poll.js';
import type { Protocol, ProtocolFactory } from './protocols.js';
import { AF_UNIX, IPPROTO_TCP, SHUT_WR, SOCK_STREAM, Socket, TCP_NODELAY } from './socket.js';
import type { ConnectionOwner } from './tcp.js';
import { checkBytes, StreamTransportBase, type Transport } from './transports.js';

/** The most one read asks for: the size of the Socket's reused receive buffer, so no read allocates it. */
const RECV_SIZE = 64 * 1024;
/** A flush gathers small buffered chunks into one send of up to this many bytes. */
const GATHER_SIZE = 64 * 1024;

export class FdTransport<P extends Protocol = Protocol> extends StreamTransportBase<P> implements Transport {
  private readonly _sock: Socket;
  private readonly _fd: number;
  private readonly _owner: ConnectionOwner | null;
  /** Data not yet sent, in order; the first chunk from `_sentOfFirst` on. */
  private _buffer: Uint8Array[] = [];
  private _sentOfFirst = 0;
  private _buffered = 0;
  private _reader: Handle | null = null;
  private _writer: Handle | null = null;
  private _paused = false;
  private _eofReceived = false;
  private _eofWritten = false;
  /** The socket is closed and `connectionLost` scheduled. */
  private _finished = false;
  /** `connectionLost` ran (or can never run: see `_finish`). */
  private _lost = false;

  private readonly _deliverMade = (): void => this._protocol.connectionMade(this);
  private readonly _deliverLost = (exc: Error | null): void => {
    if (this._lost) return;
    this._lost = true;
    try {
      this._protocol.connectionLost(exc);
    } finally {
      this._owner?._detach();
    }
  };
  private readonly _detachIfLoopClosed = (): void => {
    if (this._lost || !this._loop.isClosed()) return;
    this._lost = true;
    this._owner?._detach();
  };

  private readonly _onReadable = (): void => {
    let data: Buffer | null;
    try {
      // Bytes of their own (a view of a read arena no later read reuses): the protocol may keep them.
      data = this._sock._tryRecv(RECV_SIZE, 'recv');
    } catch (exc) {
      this._fatalError(exc, 'Fatal read error on socket transport');
      return;
    }
    if (data === null) return;
    if (data.length === 0) {
      this._onEof();
      return;
    }
    this._callDataReceived(data);
  };

  private readonly _onWritable = (): void => {
    while (this._buffered > 0) {
      const pending = this._pending();
      let sent: number | null;
      try {
        sent = this._sock._trySend(pending, 0);
      } catch (exc) {
        this._fatalError(exc, 'Fatal write error on socket transport');
        return;
      }
      if (sent === null) break;
      this._consume(sent);
      // The kernel took less than offered: its buffer is full, the next send would fail.
      if (sent < pending.length) break;
    }
    this._maybeResumeProtocol();
    if (this._buffered > 0) return;
    this._stopWriting();
    if (this._closing) this._finish(null);
    else if (this._eofWritten) this._shutdownWrite();
  };

  /**
   * Serves `sock`, a connected non-blocking stream socket, which the
   * transport owns from now on (it closes it, exactly once), and schedules
   * `connectionMade`. TCP sockets get TCP_NODELAY, as asyncio's do. `owner`
   * is attached before `connectionMade` runs and detached once
   * `connectionLost` ran. If the socket cannot be set up, it is
   * closed and the OS error thrown.
   */
  constructor(loop: BaseEventLoop, sock: Socket, protocol: P, extra: Record<string, unknown>, owner: ConnectionOwner | null = null) {
    super(loop, protocol, extra);
    this._sock = sock;
    this._fd = sock.fileno();
    this._owner = owner;
    try {
      if (sock.getblocking()) sock.setblocking(false);
      if (sock.family !== AF_UNIX && !sock._noDelay) sock.setsockopt(IPPROTO_TCP, TCP_NODELAY, 1);
      // Before connectionMade, which may run now and close the transport.
      this._startReading();
    } catch (exc) {
      this._unregister();
      sock.close();
      throw exc;
    }
    owner?._attach();
    loop._callIo(this._deliverMade);
  }

  /**
   * Sends `data`: what the kernel takes at once is sent now, the rest is
   * copied into the buffer (as asyncio's write() does: the caller may reuse
   * `data` at once) and sent as the socket drains. Never throws for a lost
   * connection.
   */
  write(data: Uint8Array): void {
    checkBytes(data, 'data');
    if (this._eofWritten) throw new RuntimeError('Cannot call write() after writeEof()');
    if (this._closing) {
      this._warnWriteAfterClose();
      return;
    }
    const length = data.length;
    if (length === 0) return;
    let sent = 0;
    if (this._buffered === 0) {
      try {
        sent = this._sock._trySend(data, 0) ?? 0;
      } catch (exc) {
        this._fatalError(exc, 'Fatal write error on socket transport');
        return;
      }
      if (sent === length) return;
      this._startWriting();
    }
    this._buffer.push(Buffer.from(sent === 0 ? data : data.subarray(sent)));
    this._buffered += length - sent;
    this._maybePauseProtocol();
  }

  /** Writes every buffer of `list` in order, gathered into one send. */
  writelines(list: Iterable<Uint8Array>): void {
    const chunks = Array.from(list);
    for (const chunk of chunks) checkBytes(chunk, 'every item of list');
    this.write(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
  }

  /** Half-closes: the peer gets EOF once the buffered data is sent; reading goes on. */
  writeEof(): void {
    if (this._closing || this._eofWritten) return;
    this._eofWritten = true;
    if (this._buffered === 0) this._shutdownWrite();
  }

  canWriteEof(): boolean {
    return true;
  }

  getWriteBufferSize(): number {
    return this._buffered;
  }

  pauseReading(): void {
    if (this._closing || this._paused) return;
    this._paused = true;
    this._stopReading();
  }

  resumeReading(): void {
    if (this._closing || !this._paused) return;
    this._paused = false;
    if (!this._eofReceived) this._startReading();
  }

  isReading(): boolean {
    return !this._paused && !this._closing;
  }

  /** Stops reading, sends what is buffered, then closes; `connectionLost(null)` follows. */
  close(): void {
    if (this._closing) return;
    this._closing = true;
    this._stopReading();
    if (this._buffered === 0) this._finish(null);
  }

  abort(): void {
    this._forceClose(null);
  }

  _forceClose(exc: Error | null): void {
    if (this._finished) return;
    this._closing = true;
    this._buffer = [];
    this._buffered = 0;
    this._finish(exc);
  }

  override toString(): string {
    return `<FdTransport fd=${this._fd}${this._finished ? ' closed' : this._closing ? ' closing' : ''}>`;
  }

  private _onEof(): void {
    this._eofReceived = true;
    this._stopReading();
    this._callEofReceived(true);
  }

  private _shutdownWrite(): void {
    try {
      this._sock.shutdown(SHUT_WR);
    } catch (exc) {
      this._fatalError(exc, 'Fatal error on socket transport: shutdown(SHUT_WR) failed');
    }
  }

  /**
   * Closes the socket now (so no fd outlives the transport, even when the
   * loop closes before running another callback) and schedules
   * `connectionLost(exc)`.
   */
  private _finish(exc: Error | null): void {
    this._finished = true;
    this._reader = null;
    this._writer = null;
    // Drops the fd's reader and writer (their queued calls are cancelled), then closes it.
    this._sock.close();
    this._unregister();
    if (this._loop.isClosed()) {
      this._detachIfLoopClosed();
      return;
    }
    this._loop.callSoon(this._deliverLost, exc);
    // loop.close() force-closes what is still open, then drops the callbacks
    // queued, this one included: the owner must still learn the connection ended.
    if (this._owner !== null && !this._loop.isRunning()) process.nextTick(this._detachIfLoopClosed);
  }

  private _startReading(): void {
    this._reader = addSocketWatch(this._loop, this._fd, true, this._onReadable);
  }

  private _stopReading(): void {
    if (this._reader === null) return;
    removeHandle(this._fd, this._reader);
    this._reader = null;
  }

  private _startWriting(): void {
    this._writer = addSocketWatch(this._loop, this._fd, false, this._onWritable);
  }

  private _stopWriting(): void {
    if (this._writer === null) return;
    removeHandle(this._fd, this._writer);
    this._writer = null;
  }

  /** The next bytes to send: the first buffered chunk, or small chunks gathered into one. */
  private _pending(): Uint8Array {
    const buffer = this._buffer;
    const first = this._sentOfFirst === 0 ? buffer[0]! : buffer[0]!.subarray(this._sentOfFirst);
    if (buffer.length === 1 || first.length >= GATHER_SIZE) return first;
    const parts = [first];
    let size = first.length;
    for (let i = 1; i < buffer.length && size < GATHER_SIZE; i++) {
      parts.push(buffer[i]!);
      size += buffer[i]!.length;
    }
    return Buffer.concat(parts, size);
  }

  /** Drops `sent` bytes from the head of the buffer. */
  private _consume(sent: number): void {
    this._buffered -= sent;
    let left = sent;
    while (left > 0) {
      const rest = this._buffer[0]!.length - this._sentOfFirst;
      if (left < rest) {
        this._sentOfFirst += left;
        return;
      }
      left -= rest;
      this._buffer.shift();
      this._sentOfFirst = 0;
    }
  }
}

/**
 * The extra info of a connected socket, as asyncio gives it, with `extra`
 * added over it: an address `extra` gives is not asked of the OS; one the OS
 * no longer knows (a reset connection) is null. `socket` is the transport's
 * own Socket, for options and names: closing it is the transport's job.
 */
function socketExtra(sock: Socket, extra: Record<string, unknown> | null): Record<string, unknown> {
  const info: Record<string, unknown> = { socket: sock };
  if (extra === null || !Object.hasOwn(extra, 'sockname')) info.sockname = addressOrNull(() => sock.getsockname());
  if (extra === null || !Object.hasOwn(extra, 'peername')) info.peername = addressOrNull(() => sock.getpeername());
  return extra === null ? info : Object.assign(info, extra);
}

function addressOrNull<T>(get: () => T): T | null {
  try {
    return get();
  } catch {
    return null;
  }
}

/**
 * Takes ownership of `fd`, a connected non-blocking stream socket of
 * `family` (as `accept4` makes them), as a Socket of this thread: from now
 * on it is closed if the thread ends. Nothing is asked of the OS, so an fd
 * that is no socket fails at the transport's set-up, which closes it.
 * `noDelay`: its TCP_NODELAY is on already (see AcceptedTraits).
 */
export function adoptConnectedFd(fd: number, family: number, noDelay = false): Socket {
  const sock = new Socket(family, SOCK_STREAM, 0, fd, false);
  sock._noDelay = noDelay;
  return sock;
}

/**
 * The extra info that the connections of a listener with `traits` share,
 * `extra` added over it: passed to `startFdTransport`, it spares each
 * connection the system calls for what the traits already say. One object
 * for all of them, made once per listener.
 */
export function acceptedExtra(traits: AcceptedTraits, extra: Record<string, unknown> | null): Record<string, unknown> | null {
  // Frozen: every connection's extra info holds this one array (it may have come through a ring).
  return traits.sockname === null ? extra : { sockname: Object.freeze(traits.sockname), ...extra };
}

/**
 * Creates the protocol and the transport of connected `sock` and schedules
 * `connectionMade`; `extra` adds to (or overrides) the socket's extra info.
 * If the protocol factory or the transport's set-up throws, `sock` is
 * closed and the error thrown.
 */
export function startFdTransport<P extends Protocol>(
  loop: BaseEventLoop,
  sock: Socket,
  protocolFactory: ProtocolFactory<P>,
  owner: ConnectionOwner | null = null,
  extra: Record<string, unknown> | null = null,
): FdTransport<P> {
  let protocol: P;
  try {
    loop._checkClosed();
    protocol = protocolFactory();
  } catch (exc) {
    sock.close();
    throw exc;
  }
  return new FdTransport(loop, sock, protocol, socketExtra(sock, extra), owner);
}
