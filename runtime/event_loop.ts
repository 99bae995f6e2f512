/**
 * EventLoop: the public loop class (the seed's BaseEventLoop).
 *
 * The loop core (running, callbacks, timers, tasks, errors, debug) lives in
 * `base_events.ts`; this class adds the methods whose work lives in their own
 * modules (I/O per OS handle kind, executor, signals). Each method here is a
 * one-line delegation, so the code is found by its OS name, as in uvloop.
 */
import { BaseEventLoop } from './base_events.js';
import { RuntimeError } from './errors.js';
import { closeExecutors, runInExecutor, setDefaultExecutor, type Executor, type ExecutorFunction } from './executor.js';
import { connectReadPipe, connectWritePipe, type PipeLike } from './pipes.js';
import { subprocessExec, subprocessShell, type SubprocessOptions } from './process.js';
import type { DatagramProtocol, Protocol, ProtocolFactory, SubprocessProtocol } from './protocols.js';
import { createServer, createUnixServer, type ServerOptions, type UnixServerOptions } from './servers.js';
import { createConnection, type ConnectionOptions } from './tcp.js';
import { closeLoopResources } from './transports.js';
import { createDatagramEndpoint, type DatagramOptions } from './udp.js';
import { createUnixConnection, type UnixConnectionOptions } from './unix.js';
import { _setLoopFactory } from './running.js';
import { addReader, addWriter, closeLoopWatches, removeReader, removeWriter, type FileLike } from './poll.js';
import type { Socket, SocketAddress } from './socket.js';
import { sockAccept, sockConnect, sockRecv, sockSendall } from './sock_ops.js';
import { getaddrinfo, getnameinfo, type GetaddrinfoOptions } from './dns.js';
import { addSignalHandler, closeLoopSignals, removeSignalHandler } from './signals.js';
import type { AnyCallback } from './validate.js';
import { closeRegistry, register, unregister } from './registry.js';

export class EventLoop extends BaseEventLoop {
  // --- executor (runtime/executor.ts) ---
  runInExecutor<R>(executor: Executor | null, fn: ExecutorFunction<R>, ...args: unknown[]) { return runInExecutor(this, executor, fn, ...args); }
  setDefaultExecutor(executor: Executor | null) { return setDefaultExecutor(this, executor); }

  // --- TCP / TLS / UNIX / UDP / streams (runtime/tcp.ts, tls.ts, unix.ts, udp.ts, servers.ts) ---
  createConnection<P extends Protocol>(protocolFactory: ProtocolFactory<P>, host?: string | null, port?: number | string | null, options?: ConnectionOptions) { return createConnection(this, protocolFactory, host, port, options); }
  createServer<P extends Protocol>(protocolFactory: ProtocolFactory<P>, host?: string | string[] | null, port?: number | string | null, options?: ServerOptions) { return createServer(this, protocolFactory, host, port, options); }
  createUnixConnection<P extends Protocol>(protocolFactory: ProtocolFactory<P>, path?: string | null, options?: UnixConnectionOptions) { return createUnixConnection(this, protocolFactory, path, options); }
  createUnixServer<P extends Protocol>(protocolFactory: ProtocolFactory<P>, path?: string | null, options?: UnixServerOptions) { return createUnixServer(this, protocolFactory, path, options); }
  createDatagramEndpoint<P extends DatagramProtocol>(protocolFactory: ProtocolFactory<P>, localAddr?: [string, number] | null, remoteAddr?: [string, number] | null, options?: DatagramOptions) { return createDatagramEndpoint(this, protocolFactory, localAddr, remoteAddr, options); }
  connectReadPipe<P extends Protocol>(protocolFactory: ProtocolFactory<P>, pipe: PipeLike) { return connectReadPipe(this, protocolFactory, pipe); }
  connectWritePipe<P extends Protocol>(protocolFactory: ProtocolFactory<P>, pipe: PipeLike) { return connectWritePipe(this, protocolFactory, pipe); }
  subprocessExec<P extends SubprocessProtocol>(protocolFactory: ProtocolFactory<P>, program: string, ...args: (string | SubprocessOptions)[]) { return subprocessExec(this, protocolFactory, program, ...args); }
  subprocessShell<P extends SubprocessProtocol>(protocolFactory: ProtocolFactory<P>, cmd: string, options?: SubprocessOptions) { return subprocessShell(this, protocolFactory, cmd, options); }

  // --- fd readiness, raw sockets, names, pipes, processes, signals (runtime/poll.ts, socket.ts, dns.ts, pipes.ts, process.ts, signals.ts) ---
  addReader(fd: FileLike, callback: AnyCallback, ...args: unknown[]): void { addReader(this, fd, callback, ...args); }
  removeReader(fd: FileLike): boolean { return removeReader(this, fd); }
  addWriter(fd: FileLike, callback: AnyCallback, ...args: unknown[]): void { addWriter(this, fd, callback, ...args); }
  removeWriter(fd: FileLike): boolean { return removeWriter(this, fd); }
  sockRecv(sock: Socket, nbytes: number) { return sockRecv(this, sock, nbytes); }
  sockSendall(sock: Socket, data: Uint8Array) { return sockSendall(this, sock, data); }
  sockConnect(sock: Socket, address: SocketAddress) { return sockConnect(this, sock, address); }
  sockAccept(sock: Socket) { return sockAccept(this, sock); }
  getaddrinfo(host: string | null, port: number | string | null, options?: GetaddrinfoOptions) { return getaddrinfo(this, host, port, options); }
  getnameinfo(sockaddr: SocketAddress, flags?: number) { return getnameinfo(this, sockaddr, flags); }
  addSignalHandler(sig: number | string, callback: AnyCallback, ...args: unknown[]): void { addSignalHandler(this, sig, callback, ...args); }
  removeSignalHandler(sig: number | string): boolean { return removeSignalHandler(this, sig); }

  // --- cross-thread (runtime/registry.ts) ---
  register(name: string, fn: AnyCallback): void { register(this, name, fn); }
  unregister(name: string): boolean { return unregister(this, name); }

  /** Frees what the modules above hold for this loop, then closes the core. */
  override close(): void {
    if (this.isClosed()) return;
    // Refused before anything is freed, so a running loop keeps its resources.
    if (this.isRunning()) throw new RuntimeError('Cannot close a running event loop');
    // Transports first: their connectionLost callbacks are scheduled on the still-open loop.
    closeLoopResources(this);
    closeLoopWatches(this);
    closeLoopSignals(this);
    closeRegistry(this);
    super.close();
    closeExecutors(this);
  }
}

_setLoopFactory(() => new EventLoop());
