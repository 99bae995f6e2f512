/**
 * Sockets for the fd-level tests, closed when the test ends.
 */
import type { ExecutionContext } from 'ava';
import { socketpair, type Socket } from 'multiloop';

/** A connected socketpair, both ends closed when the test ends. */
export function pair(t: Pick<ExecutionContext, 'teardown'>): [Socket, Socket] {
  const sockets = socketpair();
  t.teardown(() => sockets.forEach((s) => s.close()));
  return sockets;
}
