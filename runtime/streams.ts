/**
 * Streams: asyncio's high-level connection API. `StreamReader` buffers what
 * a transport receives and hands it out by size, line or separator;
 * `StreamWriter` writes with real backpressure through `drain()`.
 * `openConnection`/`startServer` (and their UNIX forms) build them over the
 * transports of `tcp.ts`/`unix.ts`/`servers.ts`.
 */
import type { BaseEventLoop } from './base_events.js';
import { RuntimeError } from './errors.js';
import { getEventLoop } from './events.js';
import type { Future } from './futures.js';
import { Protocol } from './protocols.js';
import type { Server } from './server.js';
import { createServer, createUnixServer, type ServerOptions, type UnixServerOptions } from './servers.js';
import { sleep } from './task_functions.js';
import { createConnection, type ConnectionOptions } from './tcp.js';
import { checkBytes, type Transport } from './transports.js';
import { createUnixConnection, type UnixConnectionOptions } from './unix.js';

/** asyncio's default buffer limit of a `StreamReader` (64 KiB). */
export const DEFAULT_LIMIT = 2 ** 16;

const EMPTY = Buffer.alloc(0);
const NEWLINE = Buffer.from('\n');

/** The stream ended before `expected` bytes (or a separator, when `expected` is null) arrived. */
export class IncompleteReadError extends Error {
  override name = 'IncompleteReadError';
  /** The bytes read before EOF. */
  readonly partial: Buffer;
  readonly expected: number | null;

  constructor(partial: Buffer, expected: number | null) {
    super(`${partial.length} bytes read on a total of ${expected === null ? 'undefined' : expected} expected bytes`);
    this.partial = partial;
    this.expected = expected;
  }
}

/** A line or separator was not found within the reader's `limit`. */
export class LimitOverrunError extends Error {
  override name = 'LimitOverrunError';
  /** How many bytes must be consumed to get past the overrun. */
  readonly consumed: number;

  constructor(message: string, consumed: number) {
    super(message);
    this.consumed = consumed;
  }
}

export interface StreamOptions {
  /** The loop; defaults to the current one (`getEventLoop()`). */
  loop?: BaseEventLoop;
  /** The buffer limit: `readline`/`readuntil` fail past it, reading pauses at twice it. */
  limit?: number;
}

function checkLimit(limit: unknown): number {
  if (limit === undefined) return DEFAULT_LIMIT;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit <= 0) {
    throw new RangeError(`limit must be a positive integer, not ${String(limit)}`);
  }
  return limit;
}

/**
 * Buffers the bytes of one connection. One reader serves one consumer at a
 * time: a second concurrent read throws RuntimeError. The transport is
 * paused while more than twice `limit` bytes wait, and resumed at `limit`.
 */
export class StreamReader {
  private readonly _loop: BaseEventLoop;
  private readonly _limit: number;
  /** The buffered bytes: `_buffer`, then the chunks fed since it was last joined (joined only when a read must look across them). */
  private _buffer: Buffer = EMPTY;
  private _fed: Buffer[] = [];
  private _length = 0;
  private _eof = false;
  private _waiter: Future<void> | null = null;
  private _exception: Error | null = null;
  private _transport: Transport | null = null;
  private _paused = false;

  constructor(options: StreamOptions = {}) {
    this._limit = checkLimit(options.limit);
    this._loop = options.loop ?? getEventLoop();
  }

  exception(): Error | null {
    return this._exception;
  }

  /** Makes every pending and later read reject with `exc`. */
  setException(exc: Error): void {
    this._exception = exc;
    const waiter = this._waiter;
    if (waiter !== null && !waiter.done()) waiter.setException(exc);
  }

  setTransport(transport: Transport): void {
    if (this._transport !== null) throw new RuntimeError('Transport already set');
    this._transport = transport;
  }

  feedEof(): void {
    this._eof = true;
    this._wakeup();
  }

  /** True once EOF was fed and the buffer is empty. */
  atEof(): boolean {
    return this._eof && this._length === 0;
  }

  feedData(data: Buffer): void {
    if (this._eof) throw new RuntimeError('feedData after feedEof');
    if (data.length === 0) return;
    // Appending chunk by chunk would copy the buffer once per chunk: a long readexactly() would cost O(n²).
    if (this._length === 0) this._buffer = data;
    else this._fed.push(data);
    this._length += data.length;
    this._wakeup();
    if (this._transport !== null && !this._paused && this._length > 2 * this._limit) {
      this._paused = true;
      this._transport.pauseReading();
    }
  }

  /** Up to `n` bytes (everything until EOF when `n` is negative); an empty Buffer at EOF. */
  async read(n = -1): Promise<Buffer> {
    if (this._exception !== null) throw this._exception;
    if (n === 0) return EMPTY;
    if (n < 0) {
      const blocks: Buffer[] = [];
      for (;;) {
        const block = await this.read(this._limit);
        if (block.length === 0) return Buffer.concat(blocks);
        blocks.push(block);
      }
    }
    if (this._length === 0 && !this._eof) await this._waitForData('read');
    return this._take(Math.min(n, this._length));
  }

  /**
   * One line, `\n` included; at EOF, what is left (possibly empty). A line
   * longer than `limit` throws RangeError (asyncio's ValueError; its
   * `cause` is readuntil's LimitOverrunError) after dropping the line (or
   * the whole buffer if its end was not received yet).
   */
  async readline(): Promise<Buffer> {
    try {
      return await this.readuntil(NEWLINE);
    } catch (exc) {
      if (exc instanceof IncompleteReadError) return exc.partial;
      if (exc instanceof LimitOverrunError) {
        if (this._joined()[exc.consumed] === NEWLINE[0]) this._take(exc.consumed + 1);
        else this._take(this._length);
        throw new RangeError(exc.message, { cause: exc });
      }
      throw exc;
    }
  }

  /** Exactly `n` bytes; IncompleteReadError (with what was read) if EOF comes first. */
  async readexactly(n: number): Promise<Buffer> {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`n must be a non-negative integer, not ${n}`);
    if (this._exception !== null) throw this._exception;
    while (this._length < n) {
      if (this._eof) throw new IncompleteReadError(this._take(this._length), n);
      await this._waitForData('readexactly');
    }
    return this._take(n);
  }

  /**
   * Everything up to and including `separator`. At EOF without it:
   * IncompleteReadError with the rest. More than `limit` bytes before it:
   * LimitOverrunError, the data left in the buffer.
   */
  async readuntil(separator: Uint8Array = NEWLINE): Promise<Buffer> {
    checkBytes(separator, 'separator');
    const sepLength = separator.length;
    if (sepLength === 0) throw new RangeError('separator must contain at least one byte');
    if (this._exception !== null) throw this._exception;
    let offset = 0;
    let found: number;
    for (;;) {
      const length = this._length;
      if (length - offset >= sepLength) {
        found = this._joined().indexOf(separator, offset);
        if (found !== -1) break;
        // The separator may straddle the next chunk: search again from here.
        offset = length + 1 - sepLength;
        if (offset > this._limit) throw new LimitOverrunError('Separator is not found, and chunk exceed the limit', offset);
      }
      if (this._eof) throw new IncompleteReadError(this._take(length), null);
      await this._waitForData('readuntil');
    }
    if (found > this._limit) throw new LimitOverrunError('Separator is found, but chunk is longer than limit', found);
    return this._take(found + sepLength);
  }

  /** Lines until EOF: `for await (const line of reader)`. */
  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    for (;;) {
      const line = await this.readline();
      if (line.length === 0) return;
      yield line;
    }
  }

  /** Removes and returns the first `n` bytes, resuming the transport once the buffer is small again. */
  private _take(n: number): Buffer {
    const buffer = n > this._buffer.length ? this._joined() : this._buffer;
    const chunk = buffer.subarray(0, n);
    this._buffer = n === buffer.length ? EMPTY : buffer.subarray(n);
    this._length -= n;
    if (this._paused && this._length <= this._limit) {
      this._paused = false;
      this._transport!.resumeReading();
    }
    return chunk;
  }

  /** The buffered bytes as one Buffer. */
  private _joined(): Buffer {
    if (this._fed.length > 0) {
      this._buffer = Buffer.concat([this._buffer, ...this._fed], this._length);
      this._fed = [];
    }
    return this._buffer;
  }

  private _wakeup(): void {
    const waiter = this._waiter;
    if (waiter !== null && !waiter.done()) waiter.setResult(undefined);
  }

  private async _waitForData(method: string): Promise<void> {
    if (this._waiter !== null) {
      throw new RuntimeError(`${method}() called while another coroutine is already waiting for incoming data`);
    }
    if (this._eof) throw new RuntimeError(`${method}() waiting for data after EOF`);
    // The transport may be paused with a buffer that cannot satisfy this read: let data in.
    if (this._paused) {
      this._paused = false;
      this._transport!.resumeReading();
    }
    this._waiter = this._loop.createFuture<void>();
    try {
      await this._waiter;
    } finally {
      this._waiter = null;
    }
  }
}

/** The callback of `startServer`: gets each connection's pair; a returned promise runs as a Task. */
export type ClientConnected = (reader: StreamReader, writer: StreamWriter) => unknown;

/** The error `drain()` and `waitClosed()` report when the connection was lost without one. */
function connectionReset(): Error {
  const err: NodeJS.ErrnoException = new Error('Connection lost');
  err.code = 'ECONNRESET';
  return err;
}

/**
 * The protocol between a stream transport and a `StreamReader`/`StreamWriter`
 * pair: feeds the reader, and turns the transport's write flow control into
 * `drain()` waits.
 */
export class StreamReaderProtocol extends Protocol {
  private readonly _loop: BaseEventLoop;
  private readonly _reader: StreamReader;
  private readonly _clientConnected: ClientConnected | null;
  private _overTls = false;
  private _paused = false;
  private _lost = false;
  private _drainWaiters: Future<void>[] = [];
  /** Settles when the connection is lost: null, or rejected with the error. */
  readonly _closed: Future<void>;

  constructor(reader: StreamReader, clientConnected: ClientConnected | null, loop: BaseEventLoop) {
    super();
    this._reader = reader;
    this._clientConnected = clientConnected;
    this._loop = loop;
    this._closed = loop.createFuture<void>();
    // Nobody may ever wait on it: an error here must not be reported as unretrieved.
    this._closed.addDoneCallback((f) => void (f.cancelled() || f.exception()));
  }

  override connectionMade(transport: Transport): void {
    this._reader.setTransport(transport);
    this._overTls = transport.getExtraInfo('sslcontext') !== undefined;
    if (this._clientConnected === null) return;
    const writer = new StreamWriter(transport, this, this._reader, this._loop);
    const result = this._clientConnected(this._reader, writer);
    if (result === null || typeof result !== 'object' || typeof (result as PromiseLike<unknown>).then !== 'function') return;
    const task = this._loop.createTask(result as Promise<unknown>);
    task.addDoneCallback((t) => {
      if (t.cancelled()) return transport.close();
      const exception = t.exception();
      if (exception === null) return;
      this._loop.callExceptionHandler({ message: 'Unhandled exception in clientConnected callback', exception, transport });
      transport.close();
    });
  }

  override connectionLost(exc: Error | null): void {
    this._lost = true;
    if (exc === null) this._reader.feedEof();
    else this._reader.setException(exc);
    if (exc === null) this._closed.setResult(undefined);
    else this._closed.setException(exc);
    const waiters = this._drainWaiters;
    this._drainWaiters = [];
    for (const waiter of waiters) {
      if (waiter.done()) continue;
      waiter.setException(exc ?? connectionReset());
    }
  }

  override dataReceived(data: Buffer): void {
    this._reader.feedData(data);
  }

  /** Feeds EOF; keeps a plain connection half-open so the writer can still answer (not TLS). */
  override eofReceived(): boolean {
    this._reader.feedEof();
    return !this._overTls;
  }

  override pauseWriting(): void {
    this._paused = true;
  }

  override resumeWriting(): void {
    this._paused = false;
    const waiters = this._drainWaiters;
    this._drainWaiters = [];
    for (const waiter of waiters) if (!waiter.done()) waiter.setResult(undefined);
  }

  /** Settles once the transport's buffer drained below its low-water mark; rejects if the connection was lost. */
  async _drainHelper(): Promise<void> {
    if (this._lost) throw connectionReset();
    if (!this._paused) return;
    const waiter = this._loop.createFuture<void>();
    this._drainWaiters.push(waiter);
    await waiter;
  }
}

/** Writes to a stream transport; `drain()` is where a writer waits for the peer to keep up. */
export class StreamWriter {
  readonly transport: Transport;
  private readonly _protocol: StreamReaderProtocol;
  private readonly _reader: StreamReader | null;
  private readonly _loop: BaseEventLoop;

  constructor(transport: Transport, protocol: StreamReaderProtocol, reader: StreamReader | null, loop: BaseEventLoop) {
    this.transport = transport;
    this._protocol = protocol;
    this._reader = reader;
    this._loop = loop;
  }

  write(data: Uint8Array): void {
    this.transport.write(data);
  }

  writelines(list: Iterable<Uint8Array>): void {
    this.transport.writelines(list);
  }

  writeEof(): void {
    this.transport.writeEof();
  }

  canWriteEof(): boolean {
    return this.transport.canWriteEof();
  }

  /** Flushes, then closes the transport; `waitClosed()` settles when it is closed. */
  close(): void {
    this.transport.close();
  }

  isClosing(): boolean {
    return this.transport.isClosing();
  }

  /** Settles once the connection is closed; rejects with the error that ended it, if any. */
  async waitClosed(): Promise<void> {
    await this._protocol._closed;
  }

  getExtraInfo(name: string, dflt?: unknown): unknown {
    return this.transport.getExtraInfo(name, dflt);
  }

  /**
   * Waits until the write buffer is below its high-water mark: call it after
   * `write()` so a fast writer cannot outrun a slow peer. Rejects with the
   * reader's error, or ECONNRESET once the connection is lost.
   */
  async drain(): Promise<void> {
    const exc = this._reader?.exception();
    if (exc) throw exc;
    if (this.transport.isClosing()) {
      // Let connectionLost run first, so a lost connection rejects below.
      await sleep(0);
    }
    await this._protocol._drainHelper();
  }

  getLoop(): BaseEventLoop {
    return this._loop;
  }
}

/** Options of `openConnection`: `createConnection`'s plus the reader's. */
export type OpenConnectionOptions = ConnectionOptions & StreamOptions;
export type StartServerOptions = ServerOptions & StreamOptions;

function streamPair(loop: BaseEventLoop, limit: number | undefined): [StreamReader, StreamReaderProtocol] {
  const reader = new StreamReader({ loop, limit });
  return [reader, new StreamReaderProtocol(reader, null, loop)];
}

function serverProtocol(loop: BaseEventLoop, limit: number | undefined, clientConnected: ClientConnected): () => StreamReaderProtocol {
  if (typeof clientConnected !== 'function') {
    throw new TypeError(`clientConnected must be a function, not ${typeof clientConnected}`);
  }
  checkLimit(limit);
  return () => new StreamReaderProtocol(new StreamReader({ loop, limit }), clientConnected, loop);
}

/** Connects to `host`:`port` (options as `createConnection`) and settles with `[reader, writer]`. */
export async function openConnection(
  host: string | null = null,
  port: number | string | null = null,
  options: OpenConnectionOptions = {},
): Promise<[StreamReader, StreamWriter]> {
  const { loop = getEventLoop(), limit, ...rest } = options;
  const [reader, protocol] = streamPair(loop, limit);
  const [transport] = await createConnection(loop, () => protocol, host, port, rest);
  return [reader, new StreamWriter(transport, protocol, reader, loop)];
}

/** Serves `host`:`port` (options as `createServer`): `clientConnected(reader, writer)` per connection. */
export function startServer(
  clientConnected: ClientConnected,
  host: string | string[] | null = null,
  port: number | string | null = null,
  options: StartServerOptions = {},
): Promise<Server> {
  const { loop = getEventLoop(), limit, ...rest } = options;
  return createServer(loop, serverProtocol(loop, limit, clientConnected), host, port, rest);
}

/** `openConnection` over the UNIX socket `path`. */
export async function openUnixConnection(
  path: string | null = null,
  options: UnixConnectionOptions & StreamOptions = {},
): Promise<[StreamReader, StreamWriter]> {
  const { loop = getEventLoop(), limit, ...rest } = options;
  const [reader, protocol] = streamPair(loop, limit);
  const [transport] = await createUnixConnection(loop, () => protocol, path, rest);
  return [reader, new StreamWriter(transport, protocol, reader, loop)];
}

/** `startServer` on the UNIX socket `path`. */
export function startUnixServer(
  clientConnected: ClientConnected,
  path: string | null = null,
  options: UnixServerOptions & StreamOptions = {},
): Promise<Server> {
  const { loop = getEventLoop(), limit, ...rest } = options;
  return createUnixServer(loop, serverProtocol(loop, limit, clientConnected), path, rest);
}
