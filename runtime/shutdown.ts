/**
 * Graceful shutdown: `runtime.shutdown({ timeout })`, and the default
 * SIGINT/SIGTERM handlers that start it.
 *
 * A graceful shutdown stops accepting (every listening socket is closed),
 * lets the worker loops finish their open connections for up to `timeout`
 * seconds, closes what remains, then stops every loop and ends every
 * thread. On a signal, the process then exits with status 0; a second
 * SIGINT during the shutdown exits at once (status 130, as a shell reports
 * an interrupted command).
 */
import type { Coordinator } from './coordinator.js';
import type { EventLoop } from './event_loop.js';
import { logger } from './log.js';
import type { Supervisor } from './supervisor.js';

/** Seconds connections get to finish when no timeout is given. */
export const DEFAULT_SHUTDOWN_TIMEOUT = 10;

/** The `timeout` option of `runtime.shutdown`, checked: seconds, finite and not negative. */
export function checkShutdownTimeout(timeout: unknown): number {
  if (timeout === undefined) return DEFAULT_SHUTDOWN_TIMEOUT;
  if (typeof timeout !== 'number' || Number.isNaN(timeout)) throw new TypeError(`timeout must be a number of seconds, not ${String(timeout)}`);
  if (timeout < 0 || !Number.isFinite(timeout)) throw new RangeError(`timeout must be a finite number of seconds >= 0, not ${timeout}`);
  return timeout;
}

/**
 * Drains the servers within `timeout` seconds, then `close()`s the runtime
 * (every loop and thread). Settles with the number of connections that
 * were still open at the deadline and had to be closed.
 */
export async function drainThenClose(
  coordinator: Coordinator,
  supervisor: Supervisor,
  timeout: number,
  close: () => Promise<void>,
): Promise<number> {
  // No replacement from now on; not awaited here: one under way may wait for a peer stuck in a
  // callback, which only close() ends (and close() waits for the replacement).
  const replacing = supervisor.stop();
  const closed = await coordinator.drain(timeout);
  await close();
  await replacing;
  return closed;
}

/**
 * Makes SIGINT and SIGTERM start `shutdown()` on `loop` (the coordinator's),
 * then exit the process. Returns the function that removes both handlers.
 */
export function installShutdownSignals(loop: EventLoop, shutdown: () => Promise<unknown>): () => void {
  let started = false;
  const onSignal = (name: 'SIGINT' | 'SIGTERM'): void => {
    if (started) {
      if (name === 'SIGINT') process.exit(130);
      return;
    }
    started = true;
    shutdown().then(
      () => process.exit(0),
      (exc: unknown) => {
        logger.error(`multiloop: graceful shutdown on ${name} failed`, exc);
        process.exit(1);
      },
    );
  };
  loop.addSignalHandler('SIGINT', onSignal, 'SIGINT');
  loop.addSignalHandler('SIGTERM', onSignal, 'SIGTERM');
  return () => {
    if (loop.isClosed()) return;
    loop.removeSignalHandler('SIGINT');
    loop.removeSignalHandler('SIGTERM');
  };
}
