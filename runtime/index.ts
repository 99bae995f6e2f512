// The package root: every public name of multiloop is exported from here.
export { EventLoop } from './event_loop.js';
export { BaseEventLoop, type ExceptionContext, type ExceptionHandler } from './base_events.js';
export { getEventLoop, getRunningLoop, newEventLoop, setEventLoop } from './events.js';
export { Handle, TimerHandle } from './handles.js';
export { Future, isFuture, type DoneCallback } from './futures.js';
export { Task, currentTask, ensureFuture, type Coroutine } from './tasks.js';
export {
  ALL_COMPLETED, FIRST_COMPLETED, FIRST_EXCEPTION, gather, shield, sleep, wait, waitFor,
  type Awaitable, type GatherOptions, type ReturnWhen, type WaitOptions,
} from './task_functions.js';
export { CancelledError, InvalidStateError, ProcessLookupError, RuntimeError, TimeoutError } from './errors.js';
export { logger, setLogger, type Logger } from './log.js';
export { BaseProtocol, DatagramProtocol, Protocol, SubprocessProtocol, type ProtocolFactory } from './protocols.js';
export type {
  Address, BaseTransport, DatagramTransport, ReadTransport, SubprocessTransport, Transport, WriteTransport,
} from './transports.js';
export { StreamTransport, type ConnectionOptions } from './tcp.js';
export { Server, type ServerListener } from './server.js';
export { LoopServer, ServerSocket, type ServerOptions, type UnixServerOptions } from './servers.js';
export type { UnixConnectionOptions } from './unix.js';
export { UdpTransport, type DatagramOptions } from './udp.js';
export type { PipeLike } from './pipes.js';
export { ProcessTransport, type StdioSpec, type SubprocessOptions } from './process.js';
export {
  DEFAULT_LIMIT, IncompleteReadError, LimitOverrunError, StreamReader, StreamReaderProtocol, StreamWriter,
  openConnection, openUnixConnection, startServer, startUnixServer,
  type ClientConnected, type OpenConnectionOptions, type StartServerOptions, type StreamOptions,
} from './streams.js';
export type { Executor, ExecutorFunction, ExecutorRunOptions, FunctionDescriptor } from './executor.js';
export { maxExecutorThreads, setMaxExecutorThreads } from './executor_pool.js';
export { transfer, type ExecutorTask, type Transfer, type Transferable } from './executor_task.js';
export {
  Socket, socket, socketpair, type SocketAddress,
  AF_UNSPEC, AF_INET, AF_INET6, AF_UNIX, SOCK_STREAM, SOCK_DGRAM, SOCK_RAW, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_IPV6, IPV6_V6ONLY,
  TCP_NODELAY, SOL_SOCKET, SO_REUSEADDR, SO_REUSEPORT, SO_KEEPALIVE, SO_BROADCAST, SO_RCVBUF, SO_SNDBUF, SO_ERROR, SHUT_RD, SHUT_WR, SHUT_RDWR,
} from './socket.js';
export {
  AI_PASSIVE, AI_CANONNAME, AI_NUMERICHOST, AI_NUMERICSERV, AI_V4MAPPED, AI_ALL, AI_ADDRCONFIG,
  NI_NUMERICHOST, NI_NUMERICSERV, NI_NOFQDN, NI_NAMEREQD, NI_DGRAM, type AddrInfo, type GetaddrinfoOptions,
} from './dns.js';
export type { FileLike } from './poll.js';
export { RuntimeServer } from './runtime_server.js';
export { ListeningSocket } from './listening_socket.js';
export type { RuntimeServerOptions } from './coordinator.js';
export type { LoopStatsSnapshot } from './loop_stats.js';
export type { PolicyName } from './dispatch.js';
export { getLoopRef } from './registry.js';
export { Runtime, type RuntimeOptions, type SetupContext } from './runtime.js';
export { LoopRef, RingClosedError, type LoopRefData } from '../shared/index.js';
