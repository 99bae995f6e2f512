/**
 * Servers: `Server` and the listening side of TCP (`createServer`) and UNIX
 * sockets (`createUnixServer`). Each listening socket is a Node `net.Server`;
 * each accepted connection gets its own protocol and stream transport.
 */
import fs from 'node:fs';
import net from 'node:net';
import type tls from 'node:tls';
import type { BaseEventLoop } from './base_events.js';
import type { Protocol, ProtocolFactory } from './protocols.js';
import {
  acceptedConnection, checkHost, checkPort, checkProtocolFactory, detachedFd, nodeFamily, resolveHost, type ConnectionOwner,
} from './tcp.js';
import { AF_INET, AF_INET6, IPPROTO_IPV6, IPV6_V6ONLY, SOCK_STREAM, socket } from './socket.js';
import { checkSsl, serverTls, type SslOption } from './tls.js';
import { addressTuple, registerLoopResource, unregisterLoopResource, type Address, type LoopResource } from './transports.js';

/** One listening socket of a `Server`, as `Server.sockets` lists it. */
export class ServerSocket {
  readonly #server: net.Server;
  readonly #fd: number;

  constructor(server: net.Server) {
    this.#server = server;
    // The fd is kept while listening: Node exposes it only on its internal handle.
    this.#fd = (server as unknown as { _handle?: { fd?: number } })._handle?.fd ?? -1;
  }

  /** The address the socket listens on: `[host, port]`, `[host, port, flowinfo, scopeId]` or a path. */
  getsockname(): Address {
    const address = this.#server.address();
    if (address === null) return '';
    if (typeof address === 'string') return address;
    return addressTuple(address.address, address.port, address.family);
  }

  fileno(): number {
    return this.#fd;
  }
}

/**
 * The seed's `Server`. `close()` stops listening at once; connections
 * already accepted stay open. `waitClosed()` settles once the server is
 * closed and every connection it accepted has run `connectionLost`
 * (asyncio 3.12's semantics).
 */
export class Server implements LoopResource, ConnectionOwner {
  /** The listening sockets, or null once `close()` was called. */
  sockets: ServerSocket[] | null;
  readonly #loop: BaseEventLoop;
  readonly #servers: net.Server[];
  #active = 0;
  #listenersClosed = false;
  readonly #closed: Promise<void>;
  #settleClosed!: () => void;

  constructor(loop: BaseEventLoop, servers: net.Server[]) {
    this.#loop = loop;
    this.#servers = servers;
    this.sockets = servers.map((s) => new ServerSocket(s));
    this.#closed = new Promise((resolve) => (this.#settleClosed = resolve));
    registerLoopResource(loop, this);
  }

  getLoop(): BaseEventLoop {
    return this.#loop;
  }

  isServing(): boolean {
    return this.sockets !== null;
  }

  /** Stops listening and sets `sockets` to null; accepted connections stay open. Idempotent. */
  close(): void {
    if (this.sockets === null) return;
    this.sockets = null;
    unregisterLoopResource(this.#loop, this);
    let open = this.#servers.length;
    const onClosed = (): void => {
      if (--open > 0) return;
      this.#listenersClosed = true;
      this.#maybeClosed();
    };
    // Node calls back once the listening socket and the connections it counts are gone.
    for (const server of this.#servers) server.close(onClosed);
  }

  /** Settles once closed and every accepted connection ran `connectionLost`. */
  waitClosed(): Promise<void> {
    return this.#closed;
  }

  _forceClose(): void {
    this.close();
  }

  /** @internal An accepted connection's transport was created. */
  _attach(): void {
    this.#active++;
  }

  /** @internal An accepted connection's `connectionLost` ran. */
  _detach(): void {
    this.#active--;
    this.#maybeClosed();
  }

  #maybeClosed(): void {
    if (this.#listenersClosed && this.#active === 0) this.#settleClosed();
  }
}

/** Options of `createServer`, as the seed names them. */
export interface ServerOptions {
  family?: number;
  flags?: number;
  sock?: ListeningSocketLike | null;
  backlog?: number;
  ssl?: SslOption;
  reuseAddress?: boolean | null;
}

/** Options of `createUnixServer`. */
export interface UnixServerOptions {
  sock?: ListeningSocketLike | null;
  backlog?: number;
  ssl?: SslOption;
}

/** A listening socket to adopt: our `Socket` (detached), an fd we then own, or a `net.Server`. */
export type ListeningSocketLike = net.Server | number | { fileno(): number; detach(): number };

/** Where a `net.Server` listens: an address, a path or an adopted fd. */
type ListenTarget = net.ListenOptions | { fd: number } | net.Server;

function checkBacklog(backlog: unknown): number {
  if (backlog === undefined) return 100;
  if (typeof backlog !== 'number' || !Number.isInteger(backlog) || backlog < 0) {
    throw new TypeError(`backlog must be a non-negative integer, not ${String(backlog)}`);
  }
  return backlog;
}

/**
 * The checks every kind of server makes before it opens anything: a
 * RuntimeError if `loop` is closed, a TypeError naming a bad
 * `protocolFactory`, `ssl` or `backlog`. Returns the TLS context (null
 * without TLS) and the backlog to listen with.
 */
function checkServing(
  loop: BaseEventLoop,
  protocolFactory: unknown,
  options: UnixServerOptions,
): { context: tls.SecureContext | null; backlog: number } {
  loop._checkClosed();
  checkProtocolFactory(protocolFactory);
  checkSsl(options.ssl);
  return { context: serverTls(options.ssl), backlog: checkBacklog(options.backlog) };
}

/** Turns a `sock` option into something `net.Server.listen` takes; throws a TypeError naming `sock` otherwise. */
function listeningTarget(sock: unknown): ListenTarget {
  if (sock instanceof net.Server) return sock;
  const fd = detachedFd(sock);
  if (fd === null) throw new TypeError(`sock must be a Socket, a net.Server or a file descriptor, not ${typeof sock}`);
  return { fd };
}

/** Listens on one target; rejects with the OS error (the server is then closed). */
function listen(target: ListenTarget, backlog: number, onConnection: (sock: net.Socket) => void): Promise<net.Server> {
  const server = target instanceof net.Server ? target : net.createServer({ allowHalfOpen: true, noDelay: true });
  server.on('connection', onConnection);
  if (server.listening) return Promise.resolve(server);
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      server.close();
      reject(err);
    };
    server.once('error', onError);
    const onListening = (): void => {
      server.removeListener('error', onError);
      resolve(server);
    };
    if ('fd' in target) server.listen(target, backlog, onListening);
    else server.listen({ ...(target as net.ListenOptions), backlog }, onListening);
  });
}

/**
 * Listens on every target in order and builds the `Server`; if one fails,
 * closes those already listening and rejects with that error. A target
 * whose address family the machine lacks is skipped when `optional` says so.
 */
async function serve<P extends Protocol>(
  loop: BaseEventLoop,
  protocolFactory: ProtocolFactory<P>,
  targets: ListenTarget[],
  backlog: number,
  ssl: tls.SecureContext | null,
  extra: (sock: net.Socket) => Record<string, unknown>,
  optional: (target: ListenTarget, err: NodeJS.ErrnoException) => boolean = () => false,
): Promise<Server> {
  let owner: Server | null = null;
  // Connections accepted while later addresses are still being bound wait for the Server.
  const early: net.Socket[] = [];
  const accept = (sock: net.Socket): void => {
    void acceptedConnection(loop, sock, protocolFactory, ssl, extra(sock), owner);
  };
  const onConnection = (sock: net.Socket): void => {
    if (owner === null) early.push(sock);
    else accept(sock);
  };
  const servers: net.Server[] = [];
  let port = -1;
  let skipped: Error | null = null;
  let handed = 0;
  try {
    for (const target of targets) {
      handed++;
      // Port 0 on several addresses: all share the port the first one got.
      const bound = port > 0 && 'port' in target && target.port === 0 ? { ...target, port } : target;
      let server: net.Server;
      try {
        server = await listen(bound, backlog, onConnection);
      } catch (exc) {
        if (!optional(target, exc as NodeJS.ErrnoException)) throw exc;
        skipped = exc as Error;
        continue;
      }
      servers.push(server);
      const address = server.address();
      if (port < 0 && address !== null && typeof address === 'object') port = address.port;
    }
    if (servers.length === 0 && skipped !== null) throw skipped;
    loop._checkClosed();
  } catch (exc) {
    for (const server of servers) server.close();
    for (const sock of early) sock.destroy();
    // Adopted or pre-bound fds are ours: those never handed to a net.Server must not leak.
    for (const target of targets.slice(handed)) {
      if ('fd' in target) fs.closeSync(target.fd);
    }
    throw exc;
  }
  for (const server of servers) {
    server.on('error', (exception: Error) => {
      // Accept failures (EMFILE, ...) must not crash the thread; the server keeps listening.
      if (!loop.isClosed()) loop.callExceptionHandler({ message: 'accept() failed on a listening socket', exception });
    });
  }
  owner = new Server(loop, servers);
  for (const sock of early) accept(sock);
  return owner;
}

const ADDRESS_UNAVAILABLE = new Set(['EAFNOSUPPORT', 'EADDRNOTAVAIL']);

/** A TCP address to listen on, as `createServer` resolves them. */
type ListenAddress = { host: string; port: number; ipv6Only: boolean };

/**
 * Binds a socket per address without SO_REUSEADDR (libuv sets it on every
 * socket Node binds), sharing the first one's port when `port` is 0; the
 * bound fds then go to `net.Server.listen({ fd })`. On a failure, closes
 * those already bound and throws the OS error.
 */
function bindAllWithoutReuse(addresses: ListenAddress[]): { fd: number }[] {
  const bound: { fd: number }[] = [];
  let port = -1;
  try {
    for (const { host, port: wanted, ipv6Only } of addresses) {
      const sock = socket(ipv6Only ? AF_INET6 : AF_INET, SOCK_STREAM);
      try {
        if (ipv6Only) sock.setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, 1);
        sock.bind([host, wanted === 0 && port > 0 ? port : wanted]);
        if (port < 0) port = (sock.getsockname() as [string, number])[1];
      } catch (exc) {
        sock.close();
        throw exc;
      }
      bound.push({ fd: sock.detach() });
    }
  } catch (exc) {
    for (const { fd } of bound) fs.closeSync(fd);
    throw exc;
  }
  return bound;
}

/**
 * The seed's `create_server`: one listening socket per address of `host`
 * (a name, a list of names, or null/'' for every interface: IPv4 and IPv6,
 * the IPv6 one IPv6-only), or the adopted `sock`. `reuseAddress` (default
 * true, as on UNIX) sets SO_REUSEADDR; with false the sockets are bound by
 * the native layer, since libuv sets it on every socket Node binds. With
 * port 0 and several addresses, all listen on the port the first one got.
 */
export function createServer<P extends Protocol>(
  loop: BaseEventLoop,
  protocolFactory: ProtocolFactory<P>,
  host: string | string[] | null = null,
  port: number | string | null = null,
  options: ServerOptions = {},
): Promise<Server> {
  const { context, backlog } = checkServing(loop, protocolFactory, options);
  const reuseAddress = options.reuseAddress ?? true;
  if (typeof reuseAddress !== 'boolean') throw new TypeError(`reuseAddress must be a boolean, not ${typeof reuseAddress}`);
  const extra = (): Record<string, unknown> => ({});
  if (options.sock !== null && options.sock !== undefined) {
    if ((host !== null && host !== '') || port !== null) throw new TypeError('host and port must not be given with sock');
    return serve(loop, protocolFactory, [listeningTarget(options.sock)], backlog, context, extra);
  }
  const hosts = Array.isArray(host) ? host : [host];
  for (const h of hosts) checkHost(h, Array.isArray(host) ? 'every item of host' : 'host');
  const portNumber = port === null ? 0 : checkPort(port);
  const family = nodeFamily(options.family);
  const flags = options.flags ?? 0;
  if (!Number.isInteger(flags)) throw new TypeError(`flags must be an integer, not ${typeof flags}`);
  const targets = async (): Promise<ListenTarget[]> => {
    const seen = new Set<string>();
    const out: ListenAddress[] = [];
    for (const h of hosts) {
      const addresses =
        h === null || h === ''
          ? [
              { address: '0.0.0.0', family: 4 },
              { address: '::', family: 6 },
            ].filter((a) => family === 0 || a.family === family)
          : await resolveHost(h, family, flags);
      for (const a of addresses) {
        if (seen.has(a.address)) continue;
        seen.add(a.address);
        out.push({ host: a.address, port: portNumber, ipv6Only: a.family === 6 });
      }
    }
    return reuseAddress ? out : bindAllWithoutReuse(out);
  };
  const everyInterface = hosts.some((h) => h === null || h === '');
  const optional = (target: ListenTarget, err: NodeJS.ErrnoException): boolean =>
    everyInterface && 'host' in target && (target.host === '::' || target.host === '0.0.0.0') && ADDRESS_UNAVAILABLE.has(err.code ?? '');
  return targets().then((list) => serve(loop, protocolFactory, list, backlog, context, extra, optional));
}

/** Removes a stale UNIX socket file at `path` (as asyncio does), never a file of another kind. */
function removeStaleSocket(path: string): void {
  if (path.startsWith('\0')) return;
  try {
    if (fs.statSync(path).isSocket()) fs.unlinkSync(path);
  } catch (exc) {
    if ((exc as NodeJS.ErrnoException).code !== 'ENOENT') throw exc;
  }
}

/**
 * The seed's `create_unix_server`: listens on the UNIX socket `path` (a
 * stale socket file there is replaced) or the adopted `sock`. Accepted
 * transports report `sockname` as the path and `peername` as `''`.
 */
export function createUnixServer<P extends Protocol>(
  loop: BaseEventLoop,
  protocolFactory: ProtocolFactory<P>,
  path: string | null = null,
  options: UnixServerOptions = {},
): Promise<Server> {
  const { context, backlog } = checkServing(loop, protocolFactory, options);
  let target: ListenTarget;
  if (options.sock !== null && options.sock !== undefined) {
    if (path !== null) throw new TypeError('path must not be given with sock');
    target = listeningTarget(options.sock);
  } else {
    if (typeof path !== 'string' || path === '') throw new TypeError(`path must be a non-empty string, not ${typeof path}`);
    removeStaleSocket(path);
    target = { path };
  }
  const extra = (): Record<string, unknown> => ({ sockname: path ?? '', peername: '' });
  return serve(loop, protocolFactory, [target], backlog, context, extra);
}
