/**
 * Shared fixtures of the server tests: the port a server listens on, and
 * closing it.
 */
import type { Server } from 'multiloop';

/** A listening server, as `portOf` reads it: a loop's `Server` or the runtime's. */
interface Listening {
  readonly sockets: readonly { getsockname(): unknown }[] | null;
}

/** The port of `server`'s first listening socket (an IP socket). */
export function portOf(server: Listening): number {
  return (server.sockets![0]!.getsockname() as [string, number])[1];
}

/** Closes `server`; settles when its `waitClosed()` does. */
export async function closeServer(server: Server): Promise<void> {
  server.close();
  await server.waitClosed();
}
