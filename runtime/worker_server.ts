/**
 * WorkerServer: a worker loop's side of the runtime's servers.
 *
 * The coordinator owns the listening sockets and hands each accepted fd to
 * one worker loop (handoff.ts); here the worker takes the fd and serves the
 * connection with what its module registered under the server's name: a
 * protocol factory (`runtime.createServer`), a streams client handler
 * (`runtime.startServer`) or a Node `(req, res)` handler (`runtime.serveHttp`,
 * through an `http.Server` of this thread fed with `emit('connection')`).
 * Plain protocol and streams connections are served by an FdTransport
 * straight on the fd (no Node stream: the cheapest path, per connection and
 * per byte); TLS and HTTP need a Node stream, so their fd is wrapped in a
 * `net.Socket`. TLS is terminated here, with a context built in this thread
 * from the server's key and certificate (a SecureContext cannot cross threads).
 *
 * Every connection is counted in the loop's shared statistics while it is
 * open, and tracked so that a drain can wait for it and a shutdown can close
 * it: no connection is dropped without its socket being closed.
 */
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import tls from 'node:tls';
import type { BaseEventLoop } from './base_events.js';
import { RuntimeError } from './errors.js';
import type { EventLoop } from './event_loop.js';
import { acceptedExtra, adoptConnectedFd, FdTransport, startFdTransport } from './fd_transport.js';
import type { AcceptedTraits } from './listening_socket.js';
import { CONNECTION_CALL, takeHandoff } from './handoff.js';
import { native } from '../native/index.js';
import type { LoopStats } from './loop_stats.js';
import type { Protocol, ProtocolFactory } from './protocols.js';
import { StreamReader, StreamReaderProtocol, type ClientConnected } from './streams.js';
import { acceptedConnection } from './tcp.js';

/** How a runtime server serves each connection. */
export type ServeKind = 'protocol' | 'streams' | 'http';

/** What every worker is told about a runtime server: plain data, sent through the rings. */
export interface ServeSpec {
  kind: ServeKind;
  /** The name its handler is registered under in every worker loop. */
  name: string;
  /** Key, certificate, ... for `tls.createSecureContext`, or null for plain TCP. */
  ssl: tls.SecureContextOptions | null;
  /** The StreamReader buffer limit (streams only). */
  limit: number | null;
  /** What every connection of the server has from its listening sockets. */
  accepted: AcceptedTraits;
}

/** The names under which every worker loop registers its side of the runtime's servers (reserved: 'multiloop.' prefix). */
export const SERVE_CALL = 'multiloop.serve';
export const UNSERVE_CALL = 'multiloop.unserve';
export const DRAIN_CALL = 'multiloop.drain';

/** Looks up a function registered on this worker's loop by name (undefined when none). */
export type RegisteredLookup = (name: string) => unknown;

/** How often a drain re-checks its connections (seconds): an HTTP keep-alive connection turns idle only when its response ends. */
const DRAIN_POLL = 0.05;

/** How a protocol or streams server without TLS serves each handed-off fd: made once per server. */
interface FdServing {
  readonly factory: ProtocolFactory<Protocol>;
  /** The fd's TCP_NODELAY is on already (AcceptedTraits). */
  readonly noDelay: boolean;
  /** The extra info every connection shares (its local address, when the traits know it). */
  readonly extra: Record<string, unknown> | null;
}

/** An open connection: a Node socket (TLS, HTTP), or the transport that serves the fd. */
type Connection = net.Socket | FdTransport;

/** One runtime server as this worker serves it. */
interface Served {
  /** Takes the handed-off fd (a socket of the given family) and serves it; counts it in `connections` until it ends. */
  readonly accept: (fd: number, family: number) => void;
  readonly connections: Set<Connection>;
  readonly http: http.Server | null;
  /** Set by `unserve`: the coordinator sends no more connections for it. */
  closed: boolean;
  readonly idleWaiters: (() => void)[];
}

export class WorkerServer {
  readonly #loop: BaseEventLoop;
  readonly #stats: LoopStats;
  readonly #lookup: RegisteredLookup;
  readonly #served = new Map<number, Served>();

  constructor(loop: BaseEventLoop, stats: LoopStats, lookup: RegisteredLookup) {
    this.#loop = loop;
    this.#stats = stats;
    this.#lookup = lookup;
  }

  /**
   * Starts serving runtime server `serverId` per `spec`. Throws a
   * RuntimeError if no function is registered under `spec.name` on this
   * loop, and TLS errors for a bad key or certificate.
   */
  serve(serverId: number, spec: ServeSpec): void {
    if (this.#served.has(serverId)) throw new RuntimeError(`server ${serverId} is already served by this loop`);
    const handler = this.#lookup(spec.name);
    if (typeof handler !== 'function') {
      throw new RuntimeError(`no function is registered as '${spec.name}' on worker loop (register it with loop.register in the worker module's setup)`);
    }
    const context = spec.ssl === null ? null : tls.createSecureContext(spec.ssl);
    let server: http.Server | null = null;
    let accept: (served: Served, fd: number, family: number) => void;
    if (spec.kind === 'http') {
      const listener = guardedListener(this.#loop, handler as RequestHandler);
      server = spec.ssl === null ? http.createServer(listener) : https.createServer(spec.ssl, listener);
      // It never listens itself, but Node tracks an http.Server's connections (for closeIdleConnections,
      // and for its header and request timeouts) only from its 'listening' event on.
      server.emit('listening');
      const target = server;
      accept = (served, fd) => this.#acceptSocket(serverId, served, fd, (sock) => void target.emit('connection', sock));
    } else {
      const factory: ProtocolFactory<Protocol> =
        spec.kind === 'streams' ? this.#streamsFactory(handler as ClientConnected, spec.limit) : (handler as ProtocolFactory<Protocol>);
      const serving: FdServing = { factory, noDelay: spec.accepted.noDelay, extra: acceptedExtra(spec.accepted, null) };
      accept =
        context === null
          ? (served, fd, family) => this.#acceptFd(serverId, served, fd, family, serving)
          : (served, fd) => this.#acceptSocket(serverId, served, fd, (sock) => void acceptedConnection(this.#loop, sock, factory, context));
    }
    const served: Served = { accept: (fd, family) => accept(served, fd, family), connections: new Set(), http: server, closed: false, idleWaiters: [] };
    this.#served.set(serverId, served);
  }

  /** Serves the connection whose fd (a socket of `family`) the coordinator handed over for `serverId`. */
  connection(serverId: number, fd: number, family: number): void {
    const served = this.#served.get(serverId);
    if (served === undefined) {
      // The coordinator sends a server's connections only between its serve and unserve records.
      this.#stats.handoffTaken();
      native.close(fd);
      throw new RuntimeError(`a connection arrived for server ${serverId}, which this loop does not serve; it was closed`);
    }
    served.accept(fd, family);
  }

  /**
   * No more connections will come for `serverId`; those open stay served.
   * Settles once they have all ended (the server's `waitClosed`).
   */
  unserve(serverId: number): Promise<void> {
    const served = this.#served.get(serverId);
    if (served === undefined) return Promise.resolve();
    served.closed = true;
    if (served.connections.size === 0) {
      this.#becameIdle(serverId, served);
      return Promise.resolve();
    }
    return new Promise((resolve) => served.idleWaiters.push(resolve));
  }

  /** Connections open on this loop, over every server. */
  get connections(): number {
    let n = 0;
    for (const served of this.#served.values()) n += served.connections.size;
    return n;
  }

  /**
   * Lets open connections finish: HTTP connections close as soon as they
   * are idle between requests; the others end when their peer or protocol
   * ends them. After `timeout` seconds, closes what remains. Settles with
   * the number of connections closed at the deadline.
   */
  drain(timeout: number): Promise<number> {
    const deadline = this.#loop.time() + timeout;
    return new Promise((resolve) => {
      const check = (): void => {
        for (const served of this.#served.values()) served.http?.closeIdleConnections();
        if (this.connections === 0) resolve(0);
        else if (this.#loop.time() >= deadline) resolve(this.abortAll());
        else this.#loop.callLater(Math.min(DRAIN_POLL, Math.max(0, deadline - this.#loop.time())), check);
      };
      check();
    });
  }

  /** Closes every open connection at once (their protocols see connectionLost). Returns how many. */
  abortAll(): number {
    let n = 0;
    for (const served of this.#served.values()) {
      for (const connection of served.connections) {
        if (connection instanceof FdTransport) connection.abort();
        else connection.destroy();
        n++;
      }
    }
    return n;
  }

  /** Serves `fd` on a `net.Socket` of this thread, given to `serve`; counted until the socket closes. */
  #acceptSocket(serverId: number, served: Served, fd: number, serve: (sock: net.Socket) => void): void {
    const sock = takeHandoff(fd, this.#stats);
    // As loop.createServer's connections (and asyncio's TCP transports) are.
    sock.setNoDelay(true);
    this.#stats.connectionOpened();
    served.connections.add(sock);
    sock.once('close', () => this.#ended(serverId, served, sock));
    serve(sock);
  }

  /**
   * Serves `fd` with an FdTransport and a protocol of `serving.factory`;
   * counted until its `connectionLost` ran. A failing factory (or socket
   * set-up) goes to the loop's exception handler, and the fd is closed.
   */
  #acceptFd(serverId: number, served: Served, fd: number, family: number, serving: FdServing): void {
    // Counted before it is wrapped: see handoff.ts.
    this.#stats.handoffTaken();
    const sock = adoptConnectedFd(fd, family, serving.noDelay);
    let transport: FdTransport;
    // Counted once the transport exists and before its protocol runs (a policy must never see a
    // connection that already answered its client missing); its connectionLost runs later, from the loop.
    const owner = { _attach: () => this.#stats.connectionOpened(), _detach: () => this.#ended(serverId, served, transport) };
    try {
      transport = startFdTransport(this.#loop, sock, serving.factory, owner, serving.extra);
    } catch (exc) {
      this.#loop.callExceptionHandler({ message: 'cannot serve an accepted connection', exception: exc });
      return;
    }
    served.connections.add(transport);
  }

  #ended(serverId: number, served: Served, connection: Connection): void {
    served.connections.delete(connection);
    this.#stats.connectionClosed();
    if (served.connections.size === 0) this.#becameIdle(serverId, served);
  }

  #becameIdle(serverId: number, served: Served): void {
    if (!served.closed) return;
    this.#served.delete(serverId);
    // Stops the connection-checking timer that 'listening' started.
    served.http?.close();
    for (const resolve of served.idleWaiters.splice(0)) resolve();
  }

  #streamsFactory(clientConnected: ClientConnected, limit: number | null): ProtocolFactory<StreamReaderProtocol> {
    const loop = this.#loop;
    return () => new StreamReaderProtocol(new StreamReader({ loop, limit: limit ?? undefined }), clientConnected, loop);
  }
}

/** A `serveHttp` handler: Node's `(req, res)` listener, which may return a promise (an async function). */
type RequestHandler = (req: http.IncomingMessage, res: http.ServerResponse) => unknown;

/**
 * `handler`, with what it throws, or its promise rejects with, sent to the
 * loop's exception handler and that request's connection closed. Unguarded,
 * Node lets the throw escape as an uncaught exception, which ends the whole
 * worker thread and every connection it serves; the runtime's promise is
 * that a callback's exception goes to its loop's exception handler and the
 * loop goes on, as a failing protocol factory closes only its own connection.
 */
function guardedListener(loop: BaseEventLoop, handler: RequestHandler): http.RequestListener {
  const fail = (exception: unknown, res: http.ServerResponse): void => {
    loop.callExceptionHandler({ message: 'Exception in a serveHttp request handler; its connection was closed', exception });
    res.destroy();
  };
  return (req, res) => {
    let result: unknown;
    try {
      result = handler(req, res);
    } catch (exception) {
      fail(exception, res);
      return;
    }
    if (typeof (result as PromiseLike<unknown> | null)?.then === 'function') {
      (result as PromiseLike<unknown>).then(undefined, (exception: unknown) => fail(exception, res));
    }
  };
}

/**
 * Makes `loop` (a worker loop) serve the runtime's servers: registers the
 * calls through which the coordinator drives its WorkerServer.
 */
export function installWorkerServer(loop: EventLoop, stats: LoopStats, lookup: RegisteredLookup): WorkerServer {
  const server = new WorkerServer(loop, stats, lookup);
  loop.register(SERVE_CALL, (id: number, spec: ServeSpec) => server.serve(id, spec));
  loop.register(CONNECTION_CALL, (id: number, fd: number, family: number) => server.connection(id, fd, family));
  loop.register(UNSERVE_CALL, (id: number) => server.unserve(id));
  loop.register(DRAIN_CALL, (timeout: number) => server.drain(timeout));
  return server;
}
