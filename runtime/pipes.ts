/**
 * Pipes: `connectReadPipe`/`connectWritePipe` over a file descriptor (a
 * pipe, FIFO, socket or character device) or an existing Node stream. The
 * transport is the stream transport of `tcp.ts`, using one half.
 */
import net from 'node:net';
import { Readable, Writable } from 'node:stream';
import type { BaseEventLoop } from './base_events.js';
import type { Protocol, ProtocolFactory } from './protocols.js';
import { checkProtocolFactory, startTransport, type StreamTransport, type StreamMode } from './tcp.js';

/** What `connectReadPipe`/`connectWritePipe` take: an fd the transport then owns, or a stream. */
export type PipeLike = number | Readable | Writable;

export const READ_PIPE: StreamMode = { readable: true, writable: false, halfOpen: false };
export const WRITE_PIPE: StreamMode = { readable: false, writable: true, halfOpen: false };

/** Turns `pipe` into a Node stream of the wanted direction; throws a TypeError naming `pipe` otherwise. */
function pipeStream(pipe: unknown, readable: boolean): Readable | Writable {
  if (typeof pipe === 'number') {
    if (!Number.isInteger(pipe) || pipe < 0) throw new RangeError(`pipe must be a valid file descriptor, not ${pipe}`);
    // A regular file makes Node throw here: like asyncio, only pollable fds are pipes.
    return new net.Socket({ fd: pipe, readable, writable: !readable, allowHalfOpen: true });
  }
  // A Duplex (net.Socket, a child's pipes) passes both checks: Writable's instanceof knows Duplex.
  if (readable ? pipe instanceof Readable : pipe instanceof Writable) return pipe as Readable | Writable;
  throw new TypeError(`pipe must be a file descriptor or a ${readable ? 'Readable' : 'Writable'} stream`);
}

/**
 * Wraps one direction of a pipe in a transport with `protocolFactory()`'s
 * protocol; settles with `[transport, protocol]` after `connectionMade` ran.
 */
export function connectPipe<P extends Protocol>(
  loop: BaseEventLoop,
  protocolFactory: ProtocolFactory<P>,
  stream: Readable | Writable,
  mode: StreamMode,
): Promise<[StreamTransport<P>, P]> {
  return startTransport(loop, stream, protocolFactory, { pipe: stream }, null, mode);
}

/**
 * `connectPipe` for a caller's arguments: throws a RuntimeError on a closed
 * loop and a TypeError or RangeError naming a bad `protocolFactory` or
 * `pipe`, before anything is opened.
 */
function checkedConnectPipe<P extends Protocol>(
  loop: BaseEventLoop,
  protocolFactory: ProtocolFactory<P>,
  pipe: PipeLike,
  mode: StreamMode,
): Promise<[StreamTransport<P>, P]> {
  loop._checkClosed();
  checkProtocolFactory(protocolFactory);
  return connectPipe(loop, protocolFactory, pipeStream(pipe, mode.readable), mode);
}

/**
 * The seed's `connect_read_pipe`: `dataReceived` for each chunk, then
 * `eofReceived` and `connectionLost(null)` at EOF (a read pipe never stays
 * half-open). The transport closes `pipe` when it closes.
 */
export function connectReadPipe<P extends Protocol>(
  loop: BaseEventLoop,
  protocolFactory: ProtocolFactory<P>,
  pipe: PipeLike,
): Promise<[StreamTransport<P>, P]> {
  return checkedConnectPipe(loop, protocolFactory, pipe, READ_PIPE);
}

/**
 * The seed's `connect_write_pipe`: a write transport with flow control; a
 * reader that went away shows as `connectionLost(EPIPE)` on the next write.
 * The transport closes `pipe` when it closes.
 */
export function connectWritePipe<P extends Protocol>(
  loop: BaseEventLoop,
  protocolFactory: ProtocolFactory<P>,
  pipe: PipeLike,
): Promise<[StreamTransport<P>, P]> {
  return checkedConnectPipe(loop, protocolFactory, pipe, WRITE_PIPE);
}
