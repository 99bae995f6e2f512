/**
 * RuntimeServer: a server of the runtime, whose listening sockets live in
 * the coordinator thread and whose connections are served by worker loops.
 *
 * The listening sockets are `ListeningSocket`s accepting on the
 * coordinator's loop; every new fd goes to the worker its dispatch policy
 * chooses (handoff.ts). Accepting costs the coordinator no JS socket object,
 * no libuv handle and no postMessage per connection.
 *
 * It is a `Server` (server.ts): `sockets`, `close()`, `waitClosed()`,
 * `isServing()`, `getLoop()`.
 */
import { native } from '../native/index.js';
import { RingClosedError } from '../shared/ring.js';
import type { BaseEventLoop } from './base_events.js';
import type { DispatchCandidate, DispatchPolicy } from './dispatch.js';
import type { EventLoop } from './event_loop.js';
import type { ListeningSocket } from './listening_socket.js';
import { Server } from './server.js';

/** What a RuntimeServer needs from the coordinator. */
export interface ServerHost {
  readonly loop: EventLoop;
  /**
   * Hands `fd` (a connected socket of `family`) to the worker at `index`
   * in the dispatch candidates; throws RingClosedError when that worker's
   * loop is gone (the fd is then still the caller's).
   */
  hand(index: number, serverId: number, fd: number, family: number): void;
  /** Marks the worker at `index` as gone, after a hand-off found its loop closed. */
  lost(index: number): void;
  readonly candidates: readonly DispatchCandidate[];
  /** Tells every worker that `serverId` gets no more connections; settles once they all served their last one. */
  unserve(serverId: number): Promise<void>;
}

export class RuntimeServer extends Server {
  /** The listening sockets, or null once closed. */
  sockets: ListeningSocket[] | null;
  readonly id: number;
  readonly #host: ServerHost;
  readonly #policy: DispatchPolicy;
  readonly #closed: Promise<void>;
  #markClosed: (ended: Promise<void>) => void = () => {};

  /** Starts accepting on `sockets` (the server owns them from now on). */
  constructor(host: ServerHost, id: number, sockets: ListeningSocket[], policy: DispatchPolicy) {
    super();
    this.#host = host;
    this.id = id;
    this.#policy = policy;
    this.sockets = sockets;
    this.#closed = new Promise((resolve) => (this.#markClosed = resolve));
    const dispatch = (fd: number, family: number): void => this.#dispatch(fd, family);
    for (const sock of this.sockets) sock._startAccepting(host.loop, dispatch, { server: this });
  }

  getLoop(): BaseEventLoop {
    return this.#host.loop;
  }

  /** Stops listening (the listening sockets are closed); accepted connections stay open. Idempotent. */
  close(): void {
    if (this.sockets === null) return;
    for (const sock of this.sockets) sock._close();
    this.sockets = null;
    this.#markClosed(this.#host.unserve(this.id));
  }

  /** Settles once closed and every connection it accepted has ended, in whichever worker. */
  waitClosed(): Promise<void> {
    return this.#closed;
  }

  /** Hands `fd` to a worker; if none can take it, closes it and says so. */
  #dispatch(fd: number, family: number): void {
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
        host.hand(index, this.id, fd, family);
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
}
