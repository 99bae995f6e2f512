/**
 * UNIX stream connections: `createUnixConnection`. The transport is the
 * stream transport of `tcp.ts`; only connecting differs.
 */
import type { BaseEventLoop } from './base_events.js';
import type { Protocol, ProtocolFactory } from './protocols.js';
import { adoptSocket, checkProtocolFactory, connectSocket, startSocketTransport, type SocketLike, type StreamTransport } from './tcp.js';
import { checkSsl, clientTls, type SslOption } from './tls.js';

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
 * after `connectionMade` ran; `peername` is the path, `sockname` `''`.
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
    return startSocketTransport(loop, adoptSocket(options.sock), protocolFactory, tlsClient, { peername: '', sockname: '' });
  }
  if (typeof path !== 'string' || path === '') throw new TypeError(`path must be a non-empty string, not ${typeof path}`);
  return connectSocket({ path }).then((sock) =>
    startSocketTransport(loop, sock, protocolFactory, tlsClient, { peername: path, sockname: '' }),
  );
}
