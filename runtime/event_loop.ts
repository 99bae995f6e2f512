/**
 * EventLoop: the public loop class (the seed's BaseEventLoop).
 *
 * The loop core (running, callbacks, timers, tasks, errors, debug) lives in
 * `base_events.ts`; this class adds the methods whose work lives in their own
 * modules (I/O per OS handle kind, executor, signals). Each method here is a
 * one-line delegation, so the code is found by its OS name, as in uvloop.
 */
import { BaseEventLoop } from './base_events.js';
import { closeExecutors, runInExecutor, setDefaultExecutor, type Executor, type ExecutorFunction } from './executor.js';
import type { Protocol, ProtocolFactory } from './protocols.js';
import { createServer, createUnixServer, type ServerOptions, type UnixServerOptions } from './servers.js';
import { createConnection, type ConnectionOptions } from './tcp.js';
import { closeLoopResources } from './transports.js';
import { createUnixConnection, type UnixConnectionOptions } from './unix.js';
import { _setLoopFactory } from './running.js';

export class EventLoop extends BaseEventLoop {
  // --- executor (runtime/executor.ts) ---
  runInExecutor<R>(executor: Executor | null, fn: ExecutorFunction<R>, ...args: unknown[]) { return runInExecutor(this, executor, fn, ...args); }
  setDefaultExecutor(executor: Executor | null) { return setDefaultExecutor(this, executor); }

  // --- TCP / TLS / UNIX / UDP / streams (runtime/tcp.ts, tls.ts, unix.ts, udp.ts, servers.ts) ---
  createConnection<P extends Protocol>(protocolFactory: ProtocolFactory<P>, host?: string | null, port?: number | string | null, options?: ConnectionOptions) { return createConnection(this, protocolFactory, host, port, options); }
  createServer<P extends Protocol>(protocolFactory: ProtocolFactory<P>, host?: string | string[] | null, port?: number | string | null, options?: ServerOptions) { return createServer(this, protocolFactory, host, port, options); }
  createUnixConnection<P extends Protocol>(protocolFactory: ProtocolFactory<P>, path?: string | null, options?: UnixConnectionOptions) { return createUnixConnection(this, protocolFactory, path, options); }
  createUnixServer<P extends Protocol>(protocolFactory: ProtocolFactory<P>, path?: string | null, options?: UnixServerOptions) { return createUnixServer(this, protocolFactory, path, options); }

  // --- fd readiness, raw sockets, names, pipes, processes, signals (runtime/poll.ts, socket.ts, dns.ts, pipes.ts, process.ts, signals.ts) ---

  /** Frees what the modules above hold for this loop, then closes the core. */
  override close(): void {
    if (this.isClosed()) return;
    if (!this.isRunning()) closeLoopResources(this);
    super.close();
    closeExecutors(this);
  }
}

_setLoopFactory(() => new EventLoop());
