/**
 * Servers: `Server` and the listening side of TCP (`createServer`) and UNIX
 * sockets (`createUnixServer`). A plain server listens on native sockets
 * (`ListeningSocket`: accept4, a batch per readiness event) and serves each
 * accepted fd with an `FdTransport`, no Node stream in between. A TLS
 * server (TLS needs Node streams), one adopting a `net.Server`, or a UNIX
 * one on an abstract name listens with a Node `net.Server` and serves each
 * connection with a `StreamTransport`.
 */
import fs from 'node:fs';
import net from 'node:net';
import type tls from 'node:tls';
import { native } from '../native/index.js';
import type { BaseEventLoop } from './base_events.js';
import { acceptedExtra, adoptConnectedFd, startFdTransport } from './fd_transport.js';
import { adoptListener, listeningSockets, openListeners, openUnixListener, type ListeningSocket } from './listening_socket.js';
import type { Protocol, ProtocolFactory } from './protocols.js';
import { acceptedConnection, checkHost, checkPort, checkProtocolFactory, detachedFd, nodeFamily, type ConnectionOwner } from './tcp.js';
import { Server } from './server.js';
import { checkSsl, serverTls, type SslOption } from './tls.js';
import { addressTuple, registerLoopResource, unregisterLoopResource, whenDone, type Address, type LoopResource } from './transports.js';

/** One listening `net.Server` of a TLS or adopted-`net.Server` `Server`, as `Server.sockets` lists it. */
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

  /** @internal Stops listening; settles once Node closed the listening socket and the connections it counts. */
  _close(): Promise<void> {
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

/**
 * A loop's `Server`. `close()` stops listening at once; connections
 * already accepted stay open. `waitClosed()` settles once the server is
 * closed and every connection it accepted has run `connectionLost`
 * (asyncio 3.12's semantics).
 */
export class LoopServer extends Server implements LoopResource, ConnectionOwner {
  /** The listening sockets, or null once `close()` was called. */
  sockets: (ListeningSocket | ServerSocket)[] | null;
  readonly #loop: BaseEventLoop;
  /** The UNIX socket path this server bound, removed when it closes (as Node and asyncio do). */
  readonly #path: string | null;
  #active = 0;
  #listenersClosed = false;
  readonly #closed: Promise<void>;
  #settleClosed!: () => void;

  constructor(loop: BaseEventLoop, sockets: (ListeningSocket | ServerSocket)[], path: string | null = null) {
    super();
    this.#loop = loop;
    this.sockets = sockets;
    this.#path = path;
    this.#closed = new Promise((resolve) => (this.#settleClosed = resolve));
    registerLoopResource(loop, this);
  }

  getLoop(): BaseEventLoop {
    return this.#loop;
  }

  close(): void {
    const sockets = this.sockets;
    if (sockets === null) return;
    this.sockets = null;
    unregisterLoopResource(this.#loop, this);
    const closing = sockets.map((sock) => sock._close());
    if (this.#path !== null) {
      try {
        removeSocketFile(this.#path);
      } catch (exception) {
        this.#loop.callExceptionHandler({ message: `could not remove the UNIX socket file ${this.#path} of a closed server`, exception, server: this });
      }
    }
    void Promise.all(closing).then(() => {
      this.#listenersClosed = true;
      this.#maybeClosed();
    });
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

/** Where a `net.Server` listens: a path, an fd we own, or the adopted `net.Server` itself. */
type ListenTarget = { path: string } | { fd: number } | net.Server;

export function checkBacklog(backlog: unknown): number {
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

/** The fd of a `sock` option that is no `net.Server`, which we own from now on; throws a TypeError naming `sock` otherwise. */
function adoptedFd(sock: unknown): number {
  const fd = detachedFd(sock);
  if (fd === null) throw new TypeError(`sock must be a Socket, a net.Server or a file descriptor, not ${typeof sock}`);
  return fd;
}

/** Makes the adopted `fd` listen with `backlog`; on failure, closes it (it is ours) and throws. */
function adoptListening(fd: number, backlog: number): number {
  try {
    return adoptListener(fd, backlog);
  } catch (exc) {
    native.close(fd);
    throw exc;
  }
}

/**
 * Serves `fds` (listening, non-blocking; the server owns them from now on)
 * with an FdTransport per accepted connection, whose extra info `extra`
 * adds to. If `loop` closed meanwhile, closes them and throws RuntimeError.
 */
function serveNative<P extends Protocol>(
  loop: BaseEventLoop,
  protocolFactory: ProtocolFactory<P>,
  fds: number[],
  extra: Record<string, unknown> | null,
  path: string | null = null,
): LoopServer {
  try {
    loop._checkClosed();
  } catch (exc) {
    for (const fd of fds) native.close(fd);
    throw exc;
  }
  const sockets = listeningSockets(fds);
  const server = new LoopServer(loop, sockets, path);
  for (const sock of sockets) {
    const { noDelay } = sock.accepted;
    const connectionExtra = acceptedExtra(sock.accepted, extra);
    const serve = (fd: number, family: number): void => {
      try {
        startFdTransport(loop, adoptConnectedFd(fd, family, noDelay), protocolFactory, server, connectionExtra);
      } catch (exception) {
        // The connection was closed; the server goes on accepting.
        const message = 'protocol factory or socket set-up failed for an accepted connection; it was closed';
        loop.callExceptionHandler({ message, exception, server });
      }
    };
    sock._startAccepting(loop, serve, { server });
  }
  return server;
}

/** Listens on one target; rejects with the OS error (the server is then closed). */
function listen(target: ListenTarget, backlog: number, onConnection: (sock: net.Socket) => void): Promise<net.Server> {
  const server = target instanceof net.Server ? target : net.createServer({ allowHalfOpen: true, noDelay: true });
  server.on('connection', onConnection);
  if (server.listening) return Promise.resolve(server);
  return whenDone(
    server,
    () => server.close(),
    (done) => {
      if ('fd' in target) server.listen(target, backlog, done);
      else server.listen({ ...(target as { path: string }), backlog }, done);
    },
  );
}

/**
 * Listens with a `net.Server` on every target in order and builds the
 * `Server`, each connection served by a StreamTransport (TLS when `ssl`);
 * if one fails, closes those already listening, and the fds not yet handed
 * to Node, and rejects with that error.
 */
async function serveNode<P extends Protocol>(
  loop: BaseEventLoop,
  protocolFactory: ProtocolFactory<P>,
  targets: ListenTarget[],
  backlog: number,
  ssl: tls.SecureContext | null,
  extra: Record<string, unknown>,
): Promise<LoopServer> {
  let owner: LoopServer | null = null;
  // Connections accepted while later addresses are still being bound wait for the Server.
  const early: net.Socket[] = [];
  const accept = (sock: net.Socket): void => {
    void acceptedConnection(loop, sock, protocolFactory, ssl, extra, owner);
  };
  const onConnection = (sock: net.Socket): void => {
    if (owner === null) early.push(sock);
    else accept(sock);
  };
  const servers: net.Server[] = [];
  let handed = 0;
  try {
    for (const target of targets) {
      handed++;
      servers.push(await listen(target, backlog, onConnection));
    }
    loop._checkClosed();
  } catch (exc) {
    for (const server of servers) server.close();
    for (const sock of early) sock.destroy();
    for (const target of targets.slice(handed)) {
      if ('fd' in target) native.close(target.fd);
    }
    throw exc;
  }
  for (const server of servers) {
    server.on('error', (exception: Error) => {
      // Accept failures (EMFILE, ...) must not crash the thread; the server keeps listening.
      if (!loop.isClosed()) loop.callExceptionHandler({ message: 'accept() failed on a listening socket', exception });
    });
  }
  owner = new LoopServer(loop, servers.map((server) => new ServerSocket(server)));
  for (const sock of early) accept(sock);
  return owner;
}

/**
 * The seed's `create_server`: one listening socket per address of `host`
 * (a name, a list of names, or null/'' for every interface: IPv4 and IPv6,
 * the IPv6 one IPv6-only), or the adopted `sock`. `reuseAddress` (default
 * true, as on UNIX) sets SO_REUSEADDR. With port 0 and several addresses,
 * all listen on the port the first one got. Plain connections get an
 * FdTransport; TLS ones (`ssl`) and those of an adopted `net.Server` a
 * StreamTransport.
 */
export function createServer<P extends Protocol>(
  loop: BaseEventLoop,
  protocolFactory: ProtocolFactory<P>,
  host: string | string[] | null = null,
  port: number | string | null = null,
  options: ServerOptions = {},
): Promise<LoopServer> {
  const { context, backlog } = checkServing(loop, protocolFactory, options);
  const reuseAddress = options.reuseAddress ?? true;
  if (typeof reuseAddress !== 'boolean') throw new TypeError(`reuseAddress must be a boolean, not ${typeof reuseAddress}`);
  const sock = options.sock;
  if (sock !== null && sock !== undefined) {
    if ((host !== null && host !== '') || port !== null) throw new TypeError('host and port must not be given with sock');
    if (sock instanceof net.Server) return serveNode(loop, protocolFactory, [sock], backlog, context, {});
    const fd = adoptedFd(sock);
    if (context !== null) return serveNode(loop, protocolFactory, [{ fd }], backlog, context, {});
    return Promise.resolve().then(() => serveNative(loop, protocolFactory, [adoptListening(fd, backlog)], null));
  }
  const hosts = Array.isArray(host) ? host : [host];
  for (const h of hosts) checkHost(h, Array.isArray(host) ? 'every item of host' : 'host');
  const portNumber = port === null ? 0 : checkPort(port);
  const family = nodeFamily(options.family);
  const flags = options.flags ?? 0;
  if (!Number.isInteger(flags)) throw new TypeError(`flags must be an integer, not ${typeof flags}`);
  const listening = openListeners({ host, port: portNumber, family, backlog, reusePort: false, reuseAddress, flags, fd: null });
  if (context === null) return listening.then((fds) => serveNative(loop, protocolFactory, fds, null));
  return listening.then((fds) => serveNode(loop, protocolFactory, fds.map((fd) => ({ fd })), backlog, context, {}));
}

/** Removes a UNIX socket file at `path` (a stale one, or the server's own once it closed), never a file of another kind. */
function removeSocketFile(path: string): void {
  if (path.startsWith('\0')) return;
  try {
    if (fs.statSync(path).isSocket()) fs.unlinkSync(path);
  } catch (exc) {
    if ((exc as NodeJS.ErrnoException).code !== 'ENOENT') throw exc;
  }
}

/**
 * The seed's `create_unix_server`: listens on the UNIX socket `path` (a
 * stale socket file there is replaced, and the server's own removed when
 * it closes) or the adopted `sock`. Accepted transports report `sockname`
 * as the path and `peername` as `''`. Plain connections get an
 * FdTransport; TLS ones, those of an adopted `net.Server` and those of an
 * abstract name (see below) a StreamTransport.
 */
export function createUnixServer<P extends Protocol>(
  loop: BaseEventLoop,
  protocolFactory: ProtocolFactory<P>,
  path: string | null = null,
  options: UnixServerOptions = {},
): Promise<LoopServer> {
  const { context, backlog } = checkServing(loop, protocolFactory, options);
  const extra = { sockname: path ?? '', peername: '' };
  const sock = options.sock;
  if (sock !== null && sock !== undefined) {
    if (path !== null) throw new TypeError('path must not be given with sock');
    if (sock instanceof net.Server) return serveNode(loop, protocolFactory, [sock], backlog, context, extra);
    const fd = adoptedFd(sock);
    if (context !== null) return serveNode(loop, protocolFactory, [{ fd }], backlog, context, extra);
    return Promise.resolve().then(() => serveNative(loop, protocolFactory, [adoptListening(fd, backlog)], extra));
  }
  if (typeof path !== 'string' || path === '') throw new TypeError(`path must be a non-empty string, not ${typeof path}`);
  removeSocketFile(path);
  // Node 20's net (which createUnixConnection connects with) names an
  // abstract socket otherwise than by the exact length the native layer
  // binds, so such a server listens with net, to be reachable on every Node.
  if (context !== null || path.startsWith('\0')) return serveNode(loop, protocolFactory, [{ path }], backlog, context, extra);
  return Promise.resolve().then(() => serveNative(loop, protocolFactory, [openUnixListener(path, backlog)], extra, path));
}
