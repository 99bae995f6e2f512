/**
 * Server: the seed's `Server`, as users hold it. A loop's `createServer`
 * makes a `LoopServer` (servers.ts), the runtime's `createServer`,
 * `startServer` and `serveHttp` make a `RuntimeServer`
 * (runtime_server.ts); both are Servers, with the one surface below.
 */
import type { BaseEventLoop } from './base_events.js';
import type { Address } from './transports.js';

/** A listening socket of a server, as `sockets` lists it. */
export interface ServerListener {
  getsockname(): Address;
  fileno(): number;
}

export abstract class Server {
  /** The listening sockets, or null once `close()` was called. */
  abstract sockets: ServerListener[] | null;

  /** The loop the server accepts on. */
  abstract getLoop(): BaseEventLoop;

  /** True until `close()`. */
  isServing(): boolean {
    return this.sockets !== null;
  }

  /** Stops listening and sets `sockets` to null; accepted connections stay open. Idempotent. */
  abstract close(): void;

  /** Settles once the server is closed and every connection it accepted has ended. */
  abstract waitClosed(): Promise<void>;
}
