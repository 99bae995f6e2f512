/**
 * Coordinator: the main thread's side of the runtime's servers.
 *
 * It knows every worker loop (its LoopRef, its shared statistics, the
 * hand-offs on their way to it), owns the servers' listening sockets
 * (runtime_server.ts), tells each worker what to serve (worker_server.ts),
 * and routes accepted connections by each server's dispatch policy. A
 * worker that is gone, draining or being replaced gets no new connection;
 * the fds already handed to a worker that died without taking them are
 * closed here (handoff.ts).
 */
import type tls from 'node:tls';
import type { LoopRef } from '../shared/loopref.js';
import { Ring } from '../shared/ring.js';
import { createPolicy, type DispatchCandidate } from './dispatch.js';
import type { EventLoop } from './event_loop.js';
import { Future } from './futures.js';
import { HandoffQueue } from './handoff.js';
import type { LoopStats, LoopStatsSnapshot } from './loop_stats.js';
import { listeningSockets, openListeners, sharedTraits, type ListenSpec } from './listening_socket.js';
import { RuntimeServer, type ServerHost } from './runtime_server.js';
import { checkBacklog } from './servers.js';
import { checkHost, checkPort, nodeFamily } from './tcp.js';
import { DRAIN_CALL, SERVE_CALL, UNSERVE_CALL, type ServeKind, type ServeSpec } from './worker_server.js';

/** Seconds after a drain's deadline that a worker loop gets to answer before it counts as stuck. */
const DRAIN_REPLY_GRACE = 1;

/** A worker loop as the coordinator meets it. */
export interface WorkerEndpoint {
  readonly index: number;
  readonly ref: LoopRef;
  readonly stats: LoopStats;
}

/** Options of `runtime.createServer`, `startServer` and `serveHttp`. */
export interface RuntimeServerOptions {
  /** 'round-robin' (default), 'least-connections' or 'least-loaded'. */
  policy?: string;
  family?: number;
  backlog?: number;
  /** Also set SO_REUSEPORT, so that several processes can listen on the same port. */
  reusePort?: boolean;
  /** An inherited listening socket to adopt (systemd socket activation): an fd, or a Socket to detach. */
  sock?: number | { detach(): number } | null;
  /** TLS, terminated in the workers: the options of `tls.createSecureContext` (key, cert, ...). */
  ssl?: tls.SecureContextOptions | null;
  /** The StreamReader buffer limit (`startServer` only). */
  limit?: number;
}

/** One worker loop, as the dispatch policies see it. */
class WorkerSlot implements DispatchCandidate {
  accepting = true;
  readonly index: number;
  readonly ref: LoopRef;
  readonly stats: LoopStats;
  readonly handoff: HandoffQueue;
  readonly #ring: Ring;

  constructor(endpoint: WorkerEndpoint) {
    this.index = endpoint.index;
    this.ref = endpoint.ref;
    this.stats = endpoint.stats;
    this.handoff = new HandoffQueue(endpoint.ref, endpoint.stats);
    this.#ring = Ring.from(endpoint.ref.buffer);
  }

  load(): number {
    return this.stats.connections + this.handoff.inFlight();
  }

  lag(): number {
    return this.stats.lagP99;
  }

  ringDepth(): number {
    return this.#ring.depth();
  }
}

export class Coordinator implements ServerHost {
  readonly loop: EventLoop;
  readonly candidates: WorkerSlot[];
  /** What every worker must serve, from before the first worker is told until the server closes. */
  readonly #specs = new Map<number, ServeSpec>();
  readonly #servers = new Map<number, RuntimeServer>();
  #nextServerId = 1;

  constructor(loop: EventLoop, workers: readonly WorkerEndpoint[]) {
    this.loop = loop;
    this.candidates = workers.map((w) => new WorkerSlot(w));
  }

  /**
   * Opens a server whose connections the workers serve with the function
   * registered as `name` in each of them. Rejects (leaving nothing open)
   * on a bad argument, an OS error, or a worker that lacks `name`.
   */
  async serve(kind: ServeKind, name: string, host: string | string[] | null, port: number | string | null, options: RuntimeServerOptions = {}): Promise<RuntimeServer> {
    this.loop._checkClosed();
    if (typeof name !== 'string' || name === '') throw new TypeError(`name must be the non-empty name of a registered function, not ${JSON.stringify(name)}`);
    if (typeof options !== 'object' || options === null) throw new TypeError(`opts must be an object, not ${options === null ? 'null' : typeof options}`);
    const policy = createPolicy(options.policy);
    const spec: Omit<ServeSpec, 'accepted'> = { kind, name, ssl: checkServerSsl(options.ssl), limit: checkLimit(options.limit, kind) };
    const listen: ListenSpec = {
      host,
      port: 0,
      family: nodeFamily(options.family),
      backlog: checkBacklog(options.backlog),
      reusePort: options.reusePort === true,
      fd: null,
    };
    if (options.sock !== null && options.sock !== undefined) {
      if ((host !== null && host !== '') || (port !== null && port !== undefined)) throw new TypeError('host and port must not be given with sock');
      listen.fd = adoptedFd(options.sock);
    } else {
      if (Array.isArray(host)) for (const h of host) checkHost(h, 'every item of host');
      else checkHost(host);
      listen.port = port === null || port === undefined ? 0 : checkPort(port);
    }
    const id = this.#nextServerId++;
    const fds = await openListeners(listen);
    const sockets = listeningSockets(fds);
    const served: ServeSpec = { ...spec, accepted: sharedTraits(sockets) };
    // Recorded first: a worker being put in place meanwhile serves it too (workerReplaced).
    this.#specs.set(id, served);
    try {
      await Promise.all(this.#accepting().map((slot) => slot.ref.call(SERVE_CALL, id, served)));
    } catch (exc) {
      for (const sock of sockets) sock._close();
      this.#specs.delete(id);
      await this.#unserveAll(id);
      throw exc;
    }
    const server = new RuntimeServer(this, id, sockets, policy);
    this.#servers.set(id, server);
    return server;
  }

  // ------------------------------------------------------------- ServerHost

  hand(index: number, serverId: number, fd: number, family: number): void {
    this.candidates[index]!.handoff.hand(serverId, fd, family);
  }

  lost(index: number): void {
    this.workerGone(index);
  }

  unserve(serverId: number): Promise<void> {
    this.#servers.delete(serverId);
    this.#specs.delete(serverId);
    return this.#unserveAll(serverId);
  }

  // ------------------------------------------------------------ the workers

  /** Each worker loop's line of `runtime.stats()`. */
  stats(): LoopStatsSnapshot[] {
    return this.candidates.map((slot) => slot.stats.snapshot(slot.index, slot.ringDepth()));
  }

  /**
   * The worker at `index` is gone: no connection goes to it any more, and
   * the fds handed to it that it never took are closed. Returns how many.
   * (Those it took were its libuv loop's, closed when its thread ended.)
   */
  workerGone(index: number): number {
    const slot = this.candidates[index];
    if (slot === undefined) throw new RangeError(`index must be a worker index below ${this.candidates.length}, not ${index}`);
    slot.accepting = false;
    return slot.handoff.reclaim();
  }

  /** Puts a new worker loop at `index` (after `workerGone`): it is told every open server, then gets connections. */
  async workerReplaced(endpoint: WorkerEndpoint): Promise<void> {
    const slot = new WorkerSlot(endpoint);
    slot.accepting = false;
    this.candidates[endpoint.index] = slot;
    const served = new Set<number>();
    // Servers opened while it was being told are told too; the last check and `accepting` happen in one turn.
    for (let missing = [...this.#specs.keys()]; missing.length > 0; missing = [...this.#specs.keys()].filter((id) => !served.has(id))) {
      for (const id of missing) {
        const spec = this.#specs.get(id);
        if (spec !== undefined) await slot.ref.call(SERVE_CALL, id, spec);
        served.add(id);
      }
    }
    slot.accepting = true;
  }

  /**
   * Graceful stop of the servers: closes every listening socket, then lets
   * each worker finish its connections within `timeout` seconds and close
   * the rest. Settles with the number of connections closed at the deadline.
   */
  async drain(timeout: number): Promise<number> {
    this.closeServers();
    const slots = this.#accepting();
    for (const slot of slots) slot.accepting = false;
    const aborted = await Promise.all(slots.map((slot) => this.#drainOne(slot, timeout)));
    return aborted.reduce((a, b) => a + b, 0);
  }

  /**
   * One worker's drain: the number of connections it closed at the
   * deadline. A loop that has not answered `DRAIN_REPLY_GRACE` seconds after
   * the deadline is stuck (a callback that never returns): waiting for it
   * would keep the shutdown (and a SIGTERM) from ever ending, so its open
   * connections are counted as closed, which they are when `close()`
   * terminates its thread.
   */
  #drainOne(slot: WorkerSlot, timeout: number): Promise<number> {
    const reply = slot.ref.call<number>(DRAIN_CALL, timeout);
    return new Promise((resolve) => {
      const timer = this.loop.callLater(timeout + DRAIN_REPLY_GRACE, () => {
        resolve(slot.stats.connections);
        // Nobody awaits its answer any more; cancelled, its failure when the thread ends is not reported as never retrieved.
        if (reply instanceof Future) reply.cancel();
      });
      Promise.resolve(reply).then(
        (closed) => resolve(closed),
        () => resolve(0),
      ).finally(() => timer.cancel());
    });
  }

  /** Closes every server's listening sockets; connections stay open. */
  closeServers(): void {
    for (const server of [...this.#servers.values()]) server.close();
  }

  #accepting(): WorkerSlot[] {
    return this.candidates.filter((slot) => slot.accepting);
  }

  /** Tells every live worker that `serverId` gets no more connections; a worker that is gone holds none, so its failure is not one. */
  async #unserveAll(serverId: number): Promise<void> {
    await Promise.all(
      this.candidates.map((slot) => Promise.resolve(slot.ref.call(UNSERVE_CALL, serverId)).catch(() => undefined)),
    );
  }
}

function checkServerSsl(ssl: unknown): tls.SecureContextOptions | null {
  if (ssl === null || ssl === undefined || ssl === false) return null;
  if (typeof ssl === 'object' && 'context' in ssl) {
    throw new TypeError('ssl of a runtime server must be the options of tls.createSecureContext ({ key, cert, ... }): a SecureContext cannot cross threads');
  }
  if (typeof ssl !== 'object') throw new TypeError(`ssl must be an object of tls.createSecureContext options ({ key, cert, ... }), not ${typeof ssl}`);
  return ssl as tls.SecureContextOptions;
}

function checkLimit(limit: unknown, kind: ServeKind): number | null {
  if (limit === undefined) return null;
  if (kind !== 'streams') throw new TypeError('limit applies to startServer only');
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit <= 0) throw new RangeError(`limit must be a positive integer, not ${String(limit)}`);
  return limit;
}


function adoptedFd(sock: unknown): number {
  let fd: unknown = sock;
  if (typeof sock === 'object' && sock !== null && typeof (sock as { detach?: unknown }).detach === 'function') {
    fd = (sock as { detach(): number }).detach();
  }
  if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0) {
    throw new TypeError(`sock must be a listening Socket or a file descriptor, not ${String(sock)}`);
  }
  return fd;
}
