/**
 * ListeningSocket: a raw, non-blocking listening socket (native layer) that
 * accepts with `accept4`, a batch per readiness event, and hands each new
 * fd to its owner: a loop's `Server` (servers.ts) or the coordinator's
 * `RuntimeServer` (runtime_server.ts). Also how such sockets are opened:
 * `openListeners` (TCP) and `openUnixListener`.
 *
 * Accepting costs no JS socket object, no libuv handle and no stream per
 * connection: what the owner builds on the fd is its own choice.
 */
import net from 'node:net';
import { native, type NativeAddress } from '../native/index.js';
import type { BaseEventLoop } from './base_events.js';
import type { TimerHandle } from './handles.js';
import { addReader, forgetFd, removeReader } from './poll.js';
import { resolveHost } from './tcp.js';
import { addressTuple, type Address } from './transports.js';

const C = native.constants;

/** Connections accepted per readiness event before the loop runs other work. */
const ACCEPT_BATCH = 64;
/** After an accept error other than "none pending" (EMFILE, ENFILE, ENOBUFS...), how long to stop accepting (seconds) so as not to spin. */
const ACCEPT_BACKOFF = 0.1;

/**
 * What every connection a listening socket accepts is known to have, so
 * that its transport need not ask the OS (two system calls and an address
 * per connection, ~7% of a churned connection's CPU here).
 */
export interface AcceptedTraits {
  /**
   * Its local address, as `getsockname` gives it: the listener's own, when
   * that is bound to a specific TCP address. Null when it varies (a
   * wildcard listener, several listeners, UNIX sockets).
   */
  readonly sockname: Readonly<NativeAddress> | null;
  /** TCP_NODELAY is on: Linux copies it from the listener, which had it before it listened. */
  readonly noDelay: boolean;
}

/** The traits shared by every connection that any of `sockets` accepts. */
export function sharedTraits(sockets: readonly ListeningSocket[]): AcceptedTraits {
  return {
    sockname: sockets.length === 1 ? sockets[0]!.accepted.sockname : null,
    noDelay: sockets.every((sock) => sock.accepted.noDelay),
  };
}

/**
 * A ListeningSocket for each of `fds`, which they own from now on. If one
 * cannot be made, every fd is closed (those already wrapped, through their
 * socket) and the error thrown.
 */
export function listeningSockets(fds: readonly number[]): ListeningSocket[] {
  const sockets: ListeningSocket[] = [];
  try {
    for (const fd of fds) sockets.push(new ListeningSocket(fd));
  } catch (exc) {
    // The one that failed closed its own fd.
    for (const fd of fds.slice(sockets.length + 1)) native.close(fd);
    for (const sock of sockets) sock._close();
    throw exc;
  }
  return sockets;
}

/** One listening socket, as a server's `sockets` lists it. */
export class ListeningSocket {
  /** AF_INET, AF_INET6 or AF_UNIX: that of every connection it accepts. */
  readonly family: number;
  /** @internal What every connection it accepts has. */
  readonly accepted: AcceptedTraits;
  readonly #fd: number;
  /**
   * A dup of `#fd`, which is the one watched and accepted on: `fileno()`
   * hands `#fd` out, and a Socket built on it (to read an option, say)
   * drops every poll watch of its fd when detached or closed (socket.ts).
   */
  readonly #acceptFd: number;
  #loop: BaseEventLoop | null = null;
  #onAccepted: (fd: number, family: number) => void = () => {};
  #context: Record<string, unknown> = {};
  #backoff: TimerHandle | null = null;
  #closed = false;

  /** Takes ownership of `fd`, a listening non-blocking stream socket: it is closed by `_close()`, or when the thread ends. */
  constructor(fd: number) {
    this.#fd = fd;
    native.own(fd);
    try {
      this.family = native.getsockopt(fd, C.SOL_SOCKET, C.SO_DOMAIN);
      this.accepted = acceptedTraitsOf(fd, this.family);
      this.#acceptFd = native.dup(fd);
    } catch (exc) {
      native.close(fd);
      throw exc;
    }
    native.own(this.#acceptFd);
  }

  /** The address the socket listens on: `[host, port]`, `[host, port, flowinfo, scopeId]` or a path. */
  getsockname(): Address {
    const name = native.getsockname(this.#fd);
    if (typeof name === 'string') return name;
    return name.length === 2 ? addressTuple(name[0], name[1], net.isIP(name[0])) : name;
  }

  fileno(): number {
    return this.#fd;
  }

  /**
   * @internal Accepts on `loop` from now on: each accepted connection's fd
   * (non-blocking, close-on-exec) goes to `onAccepted`, which owns it, with
   * the socket's family.
   * An accept failure goes to the loop's exception handler with `context`,
   * and accepting pauses for a moment.
   */
  _startAccepting(loop: BaseEventLoop, onAccepted: (fd: number, family: number) => void, context: Record<string, unknown>): void {
    this.#loop = loop;
    this.#onAccepted = onAccepted;
    this.#context = context;
    addReader(loop, this.#acceptFd, this.#accept);
  }

  /** @internal Stops accepting and closes the socket. Idempotent. */
  _close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#backoff?.cancel();
    // A poll handle left on a closed fd would watch whatever the number is reused for.
    forgetFd(this.#acceptFd);
    native.close(this.#acceptFd);
    native.close(this.#fd);
  }

  readonly #accept = (): void => {
    for (let i = 0; i < ACCEPT_BATCH && !this.#closed; i++) {
      let accepted: number | null;
      try {
        accepted = native.acceptFd(this.#acceptFd);
      } catch (exception) {
        this.#backOff(exception);
        return;
      }
      if (accepted === null) return;
      this.#onAccepted(accepted, this.family);
    }
  };

  /** Reports an accept failure and stops accepting for a moment: a level-triggered fd would otherwise spin on EMFILE. */
  #backOff(exception: unknown): void {
    const loop = this.#loop!;
    loop.callExceptionHandler({ ...this.#context, message: 'accept() failed on a listening socket', exception, socket: this });
    if (this.#backoff !== null || this.#closed) return;
    removeReader(loop, this.#acceptFd);
    this.#backoff = loop.callLater(ACCEPT_BACKOFF, () => {
      this.#backoff = null;
      if (!this.#closed) addReader(loop, this.#acceptFd, this.#accept);
    });
  }
}

/** Where to listen: host and port (resolved), or an adopted listening fd. */
export interface ListenSpec {
  host: string | string[] | null;
  port: number;
  family: 0 | 4 | 6;
  backlog: number;
  reusePort: boolean;
  /** SO_REUSEADDR (default true). */
  reuseAddress?: boolean;
  /** getaddrinfo flags for resolving `host` (default 0). */
  flags?: number;
  /** An adopted listening socket (systemd socket activation): its fd. */
  fd: number | null;
}

const ADDRESS_UNAVAILABLE = new Set(['EAFNOSUPPORT', 'EADDRNOTAVAIL']);

/**
 * Opens the listening sockets of `spec`: one per address of `host` (null
 * or '' meaning every IPv4 and IPv6 interface, the IPv6 socket IPv6-only),
 * all on the port the first one got when `port` is 0. A wildcard address
 * whose family the machine lacks is skipped while the other one listens.
 * On failure, closes those already open and throws the OS error.
 */
export async function openListeners(spec: ListenSpec): Promise<number[]> {
  if (spec.fd !== null) return [adoptListener(spec.fd)];
  const hosts = Array.isArray(spec.host) ? spec.host : [spec.host];
  const addresses: { address: string; family: number; wildcard: boolean }[] = [];
  const seen = new Set<string>();
  for (const host of hosts) {
    const wildcard = host === null || host === '';
    const found = wildcard
      ? [
          { address: '0.0.0.0', family: 4 },
          { address: '::', family: 6 },
        ].filter((a) => spec.family === 0 || a.family === spec.family)
      : await resolveHost(host, spec.family, spec.flags ?? 0);
    for (const a of found) {
      if (seen.has(a.address)) continue;
      seen.add(a.address);
      addresses.push({ address: a.address, family: a.family, wildcard });
    }
  }
  const fds: number[] = [];
  let port = spec.port;
  let skipped: unknown = null;
  try {
    for (const a of addresses) {
      let fd: number;
      try {
        fd = listenOn(a.address, a.family, port, spec);
      } catch (exc) {
        if (!a.wildcard || !ADDRESS_UNAVAILABLE.has((exc as NodeJS.ErrnoException).code ?? '')) throw exc;
        skipped = exc;
        continue;
      }
      fds.push(fd);
      if (port === 0) port = (native.getsockname(fd) as [string, number])[1];
    }
    if (fds.length === 0) throw skipped ?? new RangeError(`host ${JSON.stringify(spec.host)} resolved to no address to listen on`);
  } catch (exc) {
    for (const fd of fds) native.close(fd);
    throw exc;
  }
  return fds;
}

function listenOn(address: string, family: number, port: number, spec: ListenSpec): number {
  const af = family === 6 ? C.AF_INET6 : C.AF_INET;
  const fd = native.socket(af, C.SOCK_STREAM, 0);
  try {
    if (spec.reuseAddress ?? true) native.setsockopt(fd, C.SOL_SOCKET, C.SO_REUSEADDR, 1);
    if (spec.reusePort) native.setsockopt(fd, C.SOL_SOCKET, C.SO_REUSEPORT, 1);
    if (af === C.AF_INET6) native.setsockopt(fd, C.IPPROTO_IPV6, C.IPV6_V6ONLY, 1);
    // Before listen(): every connection accepted from now on inherits it (see AcceptedTraits).
    native.setsockopt(fd, C.IPPROTO_TCP, C.TCP_NODELAY, 1);
    native.bind(fd, af, address, port);
    native.listen(fd, spec.backlog);
  } catch (exc) {
    native.close(fd);
    throw exc;
  }
  return fd;
}

/** Hosts that accept on every local address (IPv4's, IPv6's, IPv4's mapped into IPv6): each connection has its own. */
const WILDCARDS = new Set(['0.0.0.0', '::', '::ffff:0.0.0.0']);

/** See AcceptedTraits. */
function acceptedTraitsOf(fd: number, family: number): AcceptedTraits {
  if (family === C.AF_UNIX) return { sockname: null, noDelay: false };
  const name = native.getsockname(fd);
  const wildcard = typeof name === 'string' || WILDCARDS.has(name[0]);
  return {
    sockname: wildcard ? null : name,
    noDelay: native.getsockopt(fd, C.IPPROTO_TCP, C.TCP_NODELAY) !== 0,
  };
}

/** A listening UNIX socket bound to `path`; throws the OS error (EADDRINUSE for an existing file) and leaks nothing. */
export function openUnixListener(path: string, backlog: number): number {
  const fd = native.socket(C.AF_UNIX, C.SOCK_STREAM, 0);
  try {
    native.bind(fd, C.AF_UNIX, path);
    native.listen(fd, backlog);
  } catch (exc) {
    native.close(fd);
    throw exc;
  }
  return fd;
}

/**
 * Checks that an inherited `fd` is a stream socket that listens, or, given
 * a `backlog`, makes it listen (a bound socket is then enough), and makes it
 * non-blocking. Throws a TypeError naming `sock` for anything else; `fd`
 * stays the caller's either way.
 */
export function adoptListener(fd: number, backlog: number | null = null): number {
  let listening: number;
  try {
    listening = native.getsockopt(fd, C.SOL_SOCKET, C.SO_ACCEPTCONN);
  } catch (cause) {
    throw new TypeError(`sock must be a listening socket; fd ${fd} is not a socket`, { cause });
  }
  if (native.getsockopt(fd, C.SOL_SOCKET, C.SO_TYPE) !== C.SOCK_STREAM) throw new TypeError(`sock must be a stream socket; fd ${fd} is not`);
  if (backlog !== null) native.listen(fd, backlog);
  else if (listening === 0) throw new TypeError(`sock must be a listening socket; fd ${fd} is not listening`);
  native.setNonBlocking(fd, true);
  return fd;
}
