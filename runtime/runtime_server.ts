/**
 * RuntimeServer: a server of the runtime, whose listening sockets live in
 * the coordinator thread and whose connections are served by worker loops.
 *
 * The listening sockets are raw, non-blocking sockets (native layer) watched
 * by the coordinator's loop (`addReader`); each readiness accepts a batch
 * with `accept4` and hands every new fd to the worker its dispatch policy
 * chooses (handoff.ts). Accepting costs the coordinator no JS socket object,
 * no libuv handle and no postMessage per connection.
 *
 * It has the surface of the seed's `Server`: `sockets`, `close()`,
 * `waitClosed()`, `isServing()`, `getLoop()`.
 */
import net from 'node:net';
import { native } from '../native/index.js';
import { RingClosedError } from '../shared/ring.js';
import type { BaseEventLoop } from './base_events.js';
import type { DispatchCandidate, DispatchPolicy } from './dispatch.js';
import type { EventLoop } from './event_loop.js';
import { addressTuple, type Address } from './transports.js';
import { resolveHost } from './tcp.js';

const C = native.constants;

/** Connections accepted per readiness event before the coordinator's loop runs other work. */
const ACCEPT_BATCH = 64;
/** After an accept error other than "none pending" (EMFILE, ENFILE, ENOBUFS...), how long to stop accepting (seconds) so as not to spin. */
const ACCEPT_BACKOFF = 0.1;

/** One listening socket of a RuntimeServer, as `sockets` lists it. */
export class ListeningSocket {
  readonly #fd: number;

  constructor(fd: number) {
    this.#fd = fd;
  }

  /** The address the socket listens on: `[host, port]` or `[host, port, flowinfo, scopeId]`. */
  getsockname(): Address {
    const name = native.getsockname(this.#fd);
    if (typeof name === 'string') return name;
    return name.length === 2 ? addressTuple(name[0], name[1], net.isIP(name[0])) : name;
  }

  fileno(): number {
    return this.#fd;
  }
}

/** What a RuntimeServer needs from the coordinator. */
export interface ServerHost {
  readonly loop: EventLoop;
  /**
   * Hands `fd` to the worker at `index` in the dispatch candidates; throws
   * RingClosedError when that worker's loop is gone (the fd is then still
   * the caller's).
   */
  hand(index: number, serverId: number, fd: number): void;
  /** Marks the worker at `index` as gone, after a hand-off found its loop closed. */
  lost(index: number): void;
  readonly candidates: readonly DispatchCandidate[];
  /** Tells every worker that `serverId` gets no more connections; settles once they all served their last one. */
  unserve(serverId: number): Promise<void>;
}

export class RuntimeServer {
  /** The listening sockets, or null once closed. */
  sockets: ListeningSocket[] | null;
  readonly id: number;
  readonly #host: ServerHost;
  readonly #policy: DispatchPolicy;
  readonly #fds: number[];
  readonly #closed: Promise<void>;
  #markClosed: (ended: Promise<void>) => void = () => {};
  #paused = false;

  /** Starts accepting on `fds` (listening, non-blocking; the server owns them from now on). */
  constructor(host: ServerHost, id: number, fds: number[], policy: DispatchPolicy) {
    this.#host = host;
    this.id = id;
    this.#fds = fds;
    this.#policy = policy;
    this.sockets = fds.map((fd) => new ListeningSocket(fd));
    this.#closed = new Promise((resolve) => (this.#markClosed = resolve));
    this.#watch();
  }

  getLoop(): BaseEventLoop {
    return this.#host.loop;
  }

  isServing(): boolean {
    return this.sockets !== null;
  }

  /** Stops listening (the listening sockets are closed); accepted connections stay open. Idempotent. */
  close(): void {
    if (this.sockets === null) return;
    this.sockets = null;
    this.#unwatch();
    for (const fd of this.#fds) native.close(fd);
    this.#markClosed(this.#host.unserve(this.id));
  }

  /** Settles once closed and every connection it accepted has ended, in whichever worker. */
  waitClosed(): Promise<void> {
    return this.#closed;
  }

  #watch(): void {
    for (const fd of this.#fds) this.#host.loop.addReader(fd, this.#accept, fd);
  }

  #unwatch(): void {
    for (const fd of this.#fds) this.#host.loop.removeReader(fd);
  }

  readonly #accept = (fd: number): void => {
    for (let i = 0; i < ACCEPT_BATCH; i++) {
      let accepted: [number, unknown] | null;
      try {
        accepted = native.accept(fd);
      } catch (exception) {
        this.#backOff(exception);
        return;
      }
      if (accepted === null) return;
      this.#dispatch(accepted[0]);
    }
  };

  /** Hands `fd` to a worker; if none can take it, closes it and says so. */
  #dispatch(fd: number): void {
    const host = this.#host;
    for (;;) {
      const index = this.#policy.choose(host.candidates);
      if (index < 0) {
        native.close(fd);
        host.loop.callExceptionHandler({
          message: `server ${this.id}: no worker loop is accepting connections; an accepted connection was closed`,
        });
        return;
      }
      try {
        host.hand(index, this.id, fd);
        return;
      } catch (exc) {
        if (!(exc instanceof RingClosedError)) {
          native.close(fd);
          host.loop.callExceptionHandler({ message: `server ${this.id}: hand-off of an accepted connection failed; it was closed`, exception: exc });
          return;
        }
        host.lost(index);
      }
    }
  }

  /** Reports an accept failure and stops accepting for a moment: a level-triggered fd would otherwise spin on EMFILE. */
  #backOff(exception: unknown): void {
    const loop = this.#host.loop;
    loop.callExceptionHandler({ message: `server ${this.id}: accept() failed on a listening socket`, exception });
    if (this.#paused || this.sockets === null) return;
    this.#paused = true;
    this.#unwatch();
    loop.callLater(ACCEPT_BACKOFF, () => {
      this.#paused = false;
      if (this.sockets !== null) this.#watch();
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
  /** An adopted listening socket (systemd socket activation): its fd. */
  fd: number | null;
}

/**
 * Opens the listening sockets of `spec`: one per address of `host` (null
 * or '' meaning every IPv4 and IPv6 interface, the IPv6 socket IPv6-only),
 * all on the port the first one got when `port` is 0. On failure, closes
 * those already open and throws the OS error.
 */
export async function openListeners(spec: ListenSpec): Promise<number[]> {
  if (spec.fd !== null) return [adoptListener(spec.fd)];
  const hosts = Array.isArray(spec.host) ? spec.host : [spec.host];
  const addresses: { address: string; family: number }[] = [];
  const seen = new Set<string>();
  const everyInterface = hosts.some((h) => h === null || h === '');
  for (const host of hosts) {
    const found =
      host === null || host === ''
        ? [
            { address: '0.0.0.0', family: 4 },
            { address: '::', family: 6 },
          ].filter((a) => spec.family === 0 || a.family === spec.family)
        : await resolveHost(host, spec.family, 0);
    for (const a of found) {
      if (seen.has(a.address)) continue;
      seen.add(a.address);
      addresses.push(a);
    }
  }
  const fds: number[] = [];
  let port = spec.port;
  try {
    for (const a of addresses) {
      let fd: number;
      try {
        fd = listenOn(a.address, a.family, port, spec);
      } catch (exc) {
        // A machine without IPv6 (or IPv4) still serves "every interface" on the other family.
        const code = (exc as NodeJS.ErrnoException).code;
        if (everyInterface && (code === 'EAFNOSUPPORT' || code === 'EADDRNOTAVAIL') && addresses.length > 1) continue;
        throw exc;
      }
      fds.push(fd);
      if (port === 0) port = (native.getsockname(fd) as [string, number])[1];
    }
    if (fds.length === 0) throw new RangeError(`host ${JSON.stringify(spec.host)} resolved to no address to listen on`);
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
    native.setsockopt(fd, C.SOL_SOCKET, C.SO_REUSEADDR, 1);
    if (spec.reusePort) native.setsockopt(fd, C.SOL_SOCKET, C.SO_REUSEPORT, 1);
    if (af === C.AF_INET6) native.setsockopt(fd, C.IPPROTO_IPV6, C.IPV6_V6ONLY, 1);
    native.bind(fd, af, address, port);
    native.listen(fd, spec.backlog);
  } catch (exc) {
    native.close(fd);
    throw exc;
  }
  return fd;
}

/** Checks that an inherited `fd` is a listening stream socket and makes it non-blocking. */
function adoptListener(fd: number): number {
  let listening: number;
  try {
    listening = native.getsockopt(fd, C.SOL_SOCKET, C.SO_ACCEPTCONN);
  } catch (cause) {
    throw new TypeError(`sock must be a listening socket; fd ${fd} is not a socket`, { cause });
  }
  if (listening === 0) throw new TypeError(`sock must be a listening socket; fd ${fd} is not listening`);
  native.setNonBlocking(fd, true);
  return fd;
}
