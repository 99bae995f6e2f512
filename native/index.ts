/**
 * The TypeScript face of multiloop's native addon (native/src/*.cc).
 *
 * The addon is built by `npm ci` (the package's install script) or
 * `npm run build:native`, into native/build/Release. It is loaded once per
 * thread: Node-API addons are context-aware, so each worker thread gets its
 * own instance, bound to that thread's libuv loop.
 *
 * Errors thrown by these functions are Node-style system errors: `message`
 * "<syscall> <CODE>", `code` ('ECONNREFUSED', ...), `errno` (negative, as
 * Node reports it) and `syscall`. Calls that would block return `null` (or
 * `false` for connect) instead of throwing.
 */
import { createRequire } from 'node:module';
import { constants } from 'node:os';
import { getSystemErrorName } from 'node:util';

/** Socket, address and name-resolution constants of the platform. */
export interface NativeConstants {
  readonly AF_UNSPEC: number;
  readonly AF_INET: number;
  readonly AF_INET6: number;
  readonly AF_UNIX: number;
  readonly SOCK_STREAM: number;
  readonly SOCK_DGRAM: number;
  readonly SOCK_RAW: number;
  readonly IPPROTO_IP: number;
  readonly IPPROTO_TCP: number;
  readonly IPPROTO_UDP: number;
  readonly IPPROTO_IPV6: number;
  readonly IPV6_V6ONLY: number;
  readonly TCP_NODELAY: number;
  readonly SOL_SOCKET: number;
  readonly SO_REUSEADDR: number;
  readonly SO_REUSEPORT: number;
  readonly SO_KEEPALIVE: number;
  readonly SO_BROADCAST: number;
  readonly SO_RCVBUF: number;
  readonly SO_SNDBUF: number;
  readonly SO_ERROR: number;
  readonly SO_TYPE: number;
  readonly SO_DOMAIN: number;
  readonly SO_PROTOCOL: number;
  readonly SO_ACCEPTCONN: number;
  readonly SHUT_RD: number;
  readonly SHUT_WR: number;
  readonly SHUT_RDWR: number;
  readonly AI_PASSIVE: number;
  readonly AI_CANONNAME: number;
  readonly AI_NUMERICHOST: number;
  readonly AI_NUMERICSERV: number;
  readonly AI_V4MAPPED: number;
  readonly AI_ALL: number;
  readonly AI_ADDRCONFIG: number;
  readonly NI_NUMERICHOST: number;
  readonly NI_NUMERICSERV: number;
  readonly NI_NOFQDN: number;
  readonly NI_NAMEREQD: number;
  readonly NI_DGRAM: number;
}

/** An opaque uv_poll_t of the calling thread, made by `pollOpen`. */
export type PollWatchHandle = { readonly __pollWatch: unique symbol };

/** A socket address in asyncio's shape (see API.md). */
export type NativeAddress = [string, number] | [string, number, number, number] | string;

export interface NativeBinding {
  readonly constants: NativeConstants;
  readonly UV_READABLE: number;
  readonly UV_WRITABLE: number;
  /**
   * Sets this thread's receiver of poll events: the events of one libuv loop
   * turn are written to `batch`, `(id, status, events)` each, and handed over
   * as `dispatch(count)` (sooner when `batch` is full). `status < 0` is a
   * libuv error, after which the watch is stopped until the next `pollStart`.
   */
  pollInit(dispatch: (count: number) => void, batch: Int32Array): void;
  /** A stopped, unreferenced uv_poll_t for `fd` on this thread's loop, reporting as `id`. Throws EEXIST if a libuv handle of this thread owns `fd`, EPERM if epoll cannot watch it. Makes `fd` non-blocking (libuv does). */
  pollOpen(fd: number, id: number): PollWatchHandle;
  /** Watches for `events` (UV_READABLE | UV_WRITABLE), replacing the previous mask. */
  pollStart(watch: PollWatchHandle, events: number): void;
  /** No more events until the next `pollStart`. */
  pollStop(watch: PollWatchHandle): void;
  /** Releases the watch; no event follows. Idempotent. */
  pollClose(watch: PollWatchHandle): void;

  /** A doorbell on this thread's loop (unreferenced): each ring calls `onRing()` here; rings that arrive together coalesce. Returns its process-wide id (never 0). */
  doorbellOpen(onRing: () => void): number;
  /** Wakes bell `id`'s thread, from any thread; false if it is not open (closed, or its thread ended). */
  doorbellRing(id: number): boolean;
  /** Closes a bell of this thread: no `onRing` call follows. False if this thread has no open bell `id`. */
  doorbellClose(id: number): boolean;

  /** A new non-blocking, close-on-exec socket. */
  socket(family: number, type: number, proto: number): number;
  /** Two connected non-blocking, close-on-exec sockets. */
  socketpair(family: number, type: number, proto: number): [number, number];
  /** Binds to a numeric host ('' for any) and port, or a UNIX path. */
  bind(fd: number, family: number, hostOrPath: string, port?: number, flowinfo?: number, scopeId?: number): void;
  /** Starts a connect: true when connected, false when in progress (wait for writability, then `connectResult`). */
  connect(fd: number, family: number, hostOrPath: string, port?: number, flowinfo?: number, scopeId?: number): boolean;
  /** Throws the error of a finished non-blocking connect, if it failed. */
  connectResult(fd: number): void;
  listen(fd: number, backlog: number): void;
  /** accept4: `[fd, peerAddress]` of a new non-blocking, close-on-exec socket, or null when none is pending. */
  accept(fd: number): [number, NativeAddress] | null;
  /** accept4 without the peer's address: the new socket's fd, or null when none is pending. */
  acceptFd(fd: number): number | null;
  /** Bytes read into `buffer[offset, offset + length)` (0 at EOF), or null if none are available. */
  recv(fd: number, buffer: Uint8Array, offset: number, length: number): number | null;
  /** Bytes sent from `buffer[offset, offset + length)`, or null if the send buffer is full. Never raises SIGPIPE. */
  send(fd: number, buffer: Uint8Array, offset: number, length: number): number | null;
  shutdown(fd: number, how: number): void;
  getsockname(fd: number): NativeAddress;
  getpeername(fd: number): NativeAddress;
  setsockopt(fd: number, level: number, option: number, value: number | Uint8Array): void;
  getsockopt(fd: number, level: number, option: number): number;
  setNonBlocking(fd: number, flag: boolean): void;
  isNonBlocking(fd: number): boolean;
  /** fcntl(F_DUPFD_CLOEXEC): a new fd for the same open file. */
  dup(fd: number): number;
  /** Closes `fd`, ending its ownership if owned. */
  close(fd: number): void;
  /** This thread owns `fd` until `close(fd)` or `disown(fd)`: if the thread's environment ends first (a worker ending or terminated), the fd is closed, so that none leaks. */
  own(fd: number): void;
  /** Ends `own(fd)` without closing the fd (it has a new owner). */
  disown(fd: number): void;
}

function load(): NativeBinding {
  const path = new URL('../../native/build/Release/multiloop_native.node', import.meta.url);
  try {
    return createRequire(import.meta.url)(path.pathname) as NativeBinding;
  } catch (cause) {
    throw new Error(
      `multiloop: cannot load the native addon at ${path.pathname}; build it with \`npm run build:native\``,
      { cause },
    );
  }
}

/**
 * The addon's functions, loaded for the calling thread. Copied into a plain
 * object: the addon's own exports object is in dictionary mode (V8 makes
 * one when an addon defines its properties), so every `native.x` load on a
 * hot path went through the generic load IC (2% of a churning worker).
 */
export const native: NativeBinding = { ...load() };

/** errno -> its first name (EAGAIN, not its alias EWOULDBLOCK), including those libuv has no name for (EINPROGRESS, ...). */
const ERRNO_NAMES = new Map<number, string>();
for (const [name, value] of Object.entries(constants.errno)) {
  if (!ERRNO_NAMES.has(value)) ERRNO_NAMES.set(value, name);
}

/**
 * An Error shaped like those the addon throws, for failures detected in
 * TypeScript (a would-block result turned into an error, a connect result).
 * `errno` is positive or negative; it is stored negative, as Node does.
 */
export function systemError(syscall: string, errno: number): NodeJS.ErrnoException {
  const code = ERRNO_NAMES.get(Math.abs(errno)) ?? getSystemErrorName(-Math.abs(errno));
  const error: NodeJS.ErrnoException = new Error(`${syscall} ${code}`);
  error.code = code;
  error.errno = -Math.abs(errno);
  error.syscall = syscall;
  return error;
}
