/**
 * EventLoop: the public loop class (the seed's BaseEventLoop).
 *
 * The loop core (running, callbacks, timers, tasks, errors, debug) lives in
 * `base_events.ts`; this class adds the methods whose work lives in their own
 * modules (I/O per OS handle kind, executor, signals). Each method here is a
 * one-line delegation, so the code is found by its OS name, as in uvloop.
 */
import { BaseEventLoop } from './base_events.js';
import { _setLoopFactory } from './running.js';

export class EventLoop extends BaseEventLoop {
  // --- executor (runtime/executor.ts) ---

  // --- TCP / TLS / UNIX / UDP / streams (runtime/tcp.ts, tls.ts, unix.ts, udp.ts, servers.ts) ---

  // --- fd readiness, raw sockets, names, pipes, processes, signals (runtime/poll.ts, socket.ts, dns.ts, pipes.ts, process.ts, signals.ts) ---

  /** Frees what the modules above hold for this loop, then closes the core. */
  override close(): void {
    if (this.isClosed()) return;
    super.close();
  }
}

_setLoopFactory(() => new EventLoop());
