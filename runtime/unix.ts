/**
 * UNIX stream connections: `createUnixConnection`. The transport is the
 * stream transport of `tcp.ts`; only connecting differs.
 */
import net from 'node:net';
import { native } from '../native/index.js';
import type { BaseEventLoop } from './base_events.js';
import type { Protocol, ProtocolFactory } from './protocols.js';
import { adoptSocket, checkProtocolFactory, connectSocket, startSocketTransport, type SocketLike, type StreamTransport } from './tcp.js';
import { checkSsl, clientTls, type SslOption } from './tls.js';
import type { Address } from './transports.js';

/** Options of `createUnixConnection`, as the seed names them. */
export interface UnixConnectionOptions {
  ssl?: SslOption;
  sock?: SocketLike | null;
  serverHostname?: string | null;
}

/**
 * The seed's `create_unix_connection`: connects to the UNIX socket `path`
 * (or adopts `sock`), with TLS when `ssl` is set (`serverHostname` is then
 * required: a path is no host name). Settles with `[transport, protocol]`
 * after `connectionMade` ran; `peername` is the path, `sockname` `''`
 * (an adopted `sock`'s names are asked of the OS: `''` when unnamed).
 */
export function createUnixConnection<P extends Protocol>(
  loop: BaseEventLoop,
  protocolFactory: ProtocolFactory<P>,
  path: string | null = null,
  options: UnixConnectionOptions = {},
): Promise<[StreamTransport<P>, P]> {
  loop._checkClosed();
  checkProtocolFactory(protocolFactory);
  checkSsl(options.ssl);
  const tlsClient = clientTls(options.ssl, null, options.serverHostname);
  if (options.sock !== null && options.sock !== undefined) {
    if (path !== null) throw new TypeError('path must not be given with sock');
    // Asked before adoptSocket detaches a Socket, which hides its fd.
    const names = adoptedNames(options.sock);
    return startSocketTransport(loop, adoptSocket(options.sock), protocolFactory, tlsClient, names);
  }
  if (typeof path !== 'string' || path === '') throw new TypeError(`path must be a non-empty string, not ${typeof path}`);
  return connectSocket({ path }).then((sock) =>
    startSocketTransport(loop, sock, protocolFactory, tlsClient, { peername: path, sockname: '' }),
  );
}

/**
 * The names of an adopted UNIX socket, asked of the OS when its fd is at
 * hand: a path, or `''` for an unnamed end (a socketpair's) and for a
 * `net.Socket`, which does not show its fd.
 */
function adoptedNames(sock: SocketLike): { peername: Address; sockname: Address } {
  const fd = typeof sock === 'number' ? sock : sock instanceof net.Socket ? -1 : sock.fileno();
  if (fd < 0) return { peername: '', sockname: '' };
  try {
    return { peername: native.getpeername(fd), sockname: native.getsockname(fd) };
  } catch {
    // Not a connected socket: adoptSocket (or the transport) says what is wrong with it.
    return { peername: '', sockname: '' };
  }
}
