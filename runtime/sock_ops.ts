/**
 * The loop's low-level socket operations (asyncio's `sock_recv`,
 * `sock_sendall`, `sock_connect`, `sock_accept`) on a non-blocking Socket.
 *
 * Each tries the system call at once and, only if it would block, waits for
 * readiness with a reader or writer on the socket's fd, as asyncio's selector
 * loop does. Each returns a Future: cancelling it stops the wait (what was
 * already sent by `sockSendall` stays sent). Bad arguments throw at the call;
 * OS errors (ECONNREFUSED, EPIPE, ...) become the Future's exception.
 */
import type { BaseEventLoop } from './base_events.js';
import type { Future } from './futures.js';
import type { Handle } from './handles.js';
import { addSocketWatch, removeHandle } from './poll.js';
import { AF_UNIX, bytesOf, checkByteCount, checkNonBlockingSocket, nativeAddress, type Socket, type SocketAddress } from './socket.js';
import { native } from '../native/index.js';

/** One attempt at the operation: its result, or null if it would block. */
type Attempt<T> = () => T | null;

/** Receives at most `nbytes` bytes; an empty Buffer means the peer closed its side. */
export function sockRecv(loop: BaseEventLoop, sock: Socket, nbytes: number): Future<Buffer> {
  loop._checkClosed();
  checkNonBlockingSocket(sock, 'sockRecv');
  checkByteCount(nbytes, 'sockRecv', 'nbytes');
  return whenReady(loop, sock, true, () => sock._tryRecv(nbytes, 'sockRecv'));
}

/** Sends all of `data`; resolves with undefined once the kernel has taken every byte. */
export function sockSendall(loop: BaseEventLoop, sock: Socket, data: Uint8Array): Future<undefined> {
  loop._checkClosed();
  checkNonBlockingSocket(sock, 'sockSendall');
  const bytes = bytesOf(data, 'sockSendall');
  let offset = 0;
  return whenReady(loop, sock, false, () => {
    while (offset < bytes.length) {
      const sent = sock._trySend(bytes, offset);
      if (sent === null) return null;
      offset += sent;
    }
    return undefined;
  });
}

/**
 * Connects to an already resolved `address` (numeric host, or a UNIX path);
 * a failure rejects with the OS error, its message naming the address.
 */
export function sockConnect(loop: BaseEventLoop, sock: Socket, address: SocketAddress): Future<undefined> {
  loop._checkClosed();
  checkNonBlockingSocket(sock, 'sockConnect');
  nativeAddress(sock.family, address, 'sockConnect');
  // A UNIX socket's connect never goes on in the background: EAGAIN (the
  // listener's backlog is full) means "try again", so each attempt connects.
  const retries = sock.family === AF_UNIX;
  let started = false;
  return whenReady<undefined>(loop, sock, false, () => {
    try {
      if (!started || retries) {
        started = true;
        return sock._startConnect(address, 'sockConnect') ? undefined : null;
      }
      native.connectResult(sock.fileno());
      return undefined;
    } catch (error) {
      throw withAddress(error, address);
    }
  });
}

/** Adds the peer address to a connect error's message, as Node's net does. */
function withAddress(error: unknown, address: SocketAddress): unknown {
  const err = error as NodeJS.ErrnoException;
  if (typeof err?.code !== 'string' || err.syscall !== 'connect') return error;
  err.message += ` ${typeof address === 'string' ? address : `${address[0]}:${address[1]}`}`;
  return err;
}

/** Accepts a connection: `[Socket, address]`, the new socket non-blocking. */
export function sockAccept(loop: BaseEventLoop, sock: Socket): Future<[Socket, SocketAddress]> {
  loop._checkClosed();
  checkNonBlockingSocket(sock, 'sockAccept');
  return whenReady(loop, sock, true, () => sock._tryAccept());
}

/**
 * Runs `attempt` now and then each time the socket is ready (readable when
 * `reading`, else writable) until it yields a result or throws.
 */
function whenReady<T>(loop: BaseEventLoop, sock: Socket, reading: boolean, attempt: Attempt<T>): Future<T> {
  const future = loop.createFuture<T>();
  if (settle(future, attempt)) return future;
  const fd = sock.fileno();
  const onReady = (): void => {
    if (!future.done() && settle(future, attempt)) removeHandle(fd, handle);
  };
  const handle: Handle = addSocketWatch(loop, fd, reading, onReady);
  // A cancelled future must stop the wait too.
  future.addDoneCallback(() => removeHandle(fd, handle));
  return future;
}

/** Settles `future` from one attempt; false if the attempt would block. */
function settle<T>(future: Future<T>, attempt: Attempt<T>): boolean {
  let result: T | null;
  try {
    result = attempt();
  } catch (error) {
    future.setException(error);
    return true;
  }
  if (result === null) return false;
  future.setResult(result);
  return true;
}
