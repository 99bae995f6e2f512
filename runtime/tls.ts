/**
 * TLS for stream transports: choosing the context and the name to verify,
 * and the client/server handshakes (Node's `tls` over an already connected
 * socket, so TCP, UNIX and adopted sockets all get TLS the same way).
 */
import net from 'node:net';
import tls from 'node:tls';

/** The `ssl` option: `true` for Node's default verified context, or a context of one's own. */
export type SslOption = boolean | tls.SecureContext | null | undefined;

/** What a client handshake needs: the context and the name to match (`''`: no matching). */
export interface ClientTls {
  context: tls.SecureContext;
  serverHostname: string;
}

/** asyncio's default: a peer that has not finished the handshake after this long is dropped. */
const HANDSHAKE_TIMEOUT_MS = 60_000;

let defaultContext: tls.SecureContext | null = null;

function isSecureContext(x: unknown): x is tls.SecureContext {
  return typeof x === 'object' && x !== null && 'context' in x;
}

/** Throws a TypeError naming `ssl` unless it is a valid `ssl` option. */
export function checkSsl(ssl: unknown): asserts ssl is SslOption {
  if (ssl === null || ssl === undefined || typeof ssl === 'boolean' || isSecureContext(ssl)) return;
  throw new TypeError(`ssl must be true, false, null or a tls.SecureContext, not ${typeof ssl}`);
}

/**
 * Resolves the client side of the `ssl`/`serverHostname` options exactly as
 * the seed says: `serverHostname` is only for use with `ssl`; it defaults to
 * `host`; with an empty `host` it must be given.
 *
 * SECURITY: `serverHostname: ''` disables hostname matching. The peer's
 * certificate chain is still verified, but any valid certificate for any name
 * is accepted, which lets a man in the middle impersonate the server. Use it
 * only when the peer is authenticated some other way.
 */
export function clientTls(ssl: SslOption, host: string | null, serverHostname: string | null | undefined): ClientTls | null {
  if (serverHostname !== null && serverHostname !== undefined && typeof serverHostname !== 'string') {
    throw new TypeError(`serverHostname must be a string, not ${typeof serverHostname}`);
  }
  if (!ssl) {
    if (serverHostname !== null && serverHostname !== undefined) {
      throw new TypeError('serverHostname is only meaningful with ssl');
    }
    return null;
  }
  let name = serverHostname;
  if (name === null || name === undefined) {
    if (!host) throw new TypeError('serverHostname must be given when using ssl without a host');
    name = host;
  }
  const context = ssl === true ? (defaultContext ??= tls.createSecureContext()) : ssl;
  return { context, serverHostname: name };
}

/** Returns the server-side context of an `ssl` option (a server needs its own key and certificate). */
export function serverTls(ssl: SslOption): tls.SecureContext | null {
  if (!ssl) return null;
  if (ssl === true) throw new TypeError('ssl for a server must be a tls.SecureContext with a key and certificate');
  return ssl;
}

/**
 * Settles once `sock` emitted `okEvent`. An error, an EOF or a close first
 * (a peer that gave up on the handshake), or no handshake within the
 * timeout, destroys the socket and rejects.
 */
function handshake(sock: tls.TLSSocket, okEvent: 'secureConnect' | 'secure'): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      sock.removeListener('error', onError);
      sock.removeListener('end', onEnd);
      sock.removeListener('close', onEnd);
      sock.removeListener('timeout', onTimeout);
      sock.removeListener(okEvent, onOk);
      sock.setTimeout(0);
    };
    const onError = (err: Error): void => {
      cleanup();
      sock.destroy();
      reject(err);
    };
    const fail = (message: string, code: string): void => {
      const err: NodeJS.ErrnoException = new Error(message);
      err.code = code;
      onError(err);
    };
    const onEnd = (): void => fail('connection closed during the TLS handshake', 'ECONNRESET');
    const onTimeout = (): void => fail('TLS handshake timed out', 'ETIMEDOUT');
    const onOk = (): void => {
      cleanup();
      resolve(sock);
    };
    sock.once('error', onError);
    sock.once('end', onEnd);
    sock.once('close', onEnd);
    sock.once('timeout', onTimeout);
    sock.once(okEvent, onOk);
    sock.setTimeout(HANDSHAKE_TIMEOUT_MS);
  });
}

/**
 * Runs the client handshake over the connected `socket`; rejects with the
 * reason (certificate, hostname, protocol) and closes the socket on failure.
 */
export function tlsConnect(socket: net.Socket, options: ClientTls): Promise<tls.TLSSocket> {
  const name = options.serverHostname;
  const sock = tls.connect({
    socket,
    secureContext: options.context,
    // SNI carries host names only (RFC 6066).
    servername: name !== '' && net.isIP(name) === 0 ? name : undefined,
    checkServerIdentity: name === '' ? () => undefined : (_host, cert) => tls.checkServerIdentity(name, cert),
  });
  // A received EOF must reach the protocol, which decides whether to half-close.
  sock.allowHalfOpen = true;
  return handshake(sock, 'secureConnect');
}

/** Runs the server handshake over an accepted `socket`; closes it on failure. */
export function tlsAccept(socket: net.Socket, context: tls.SecureContext): Promise<tls.TLSSocket> {
  const sock = new tls.TLSSocket(socket, { isServer: true, secureContext: context });
  sock.allowHalfOpen = true;
  return handshake(sock, 'secure');
}

/** The TLS entries of a transport's extra info. */
export function tlsExtra(sock: tls.TLSSocket, context: tls.SecureContext): Record<string, unknown> {
  const cert = sock.getPeerCertificate();
  return {
    sslcontext: context,
    peercert: cert !== null && Object.keys(cert).length > 0 ? cert : null,
    cipher: sock.getCipher(),
  };
}
