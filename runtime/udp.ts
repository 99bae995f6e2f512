/**
 * UDP: `createDatagramEndpoint` and the datagram transport over a Node
 * `dgram.Socket`.
 */
import { Buffer } from 'node:buffer';
import dgram from 'node:dgram';
import type dns from 'node:dns';
import type { BaseEventLoop } from './base_events.js';
import type { DatagramProtocol, ProtocolFactory } from './protocols.js';
import { IPPROTO_UDP } from './socket.js';
import { checkHostPort, checkProtocolFactory, nodeFamily, resolveHost } from './tcp.js';
import { addressTuple, checkBytes, FlowControlTransport, whenDone, type Address, type DatagramTransport } from './transports.js';

/**
 * asyncio's datagram transport. `sendto` never throws for a network error:
 * send failures (and ICMP errors on a connected endpoint) go to the
 * protocol's `errorReceived` and the endpoint stays open. `close()` sends
 * what is queued first. `connectionLost` is called exactly once.
 */
export class UdpTransport<P extends DatagramProtocol = DatagramProtocol>
  extends FlowControlTransport<P>
  implements DatagramTransport
{
  private readonly _socket: dgram.Socket;
  private readonly _remote: (dns.LookupAddress & { port: number }) | null;
  private _lost = false;
  private _socketClosed = false;
  private _error: Error | null = null;

  private readonly _onMessage = (data: Buffer, rinfo: dgram.RemoteInfo): void =>
    this._loop._callIo(this._deliverDatagram, data, addressTuple(rinfo.address, rinfo.port, rinfo.family));
  private readonly _onError = (err: Error): void => this._loop._callIo(this._deliverError, err);
  private readonly _onClose = (): void => {
    this._closing = true;
    this._unregister();
    if (!this._loop.isClosed()) this._loop._callIo(this._deliverLost);
  };
  private readonly _onSent = (err: Error | null): void => {
    if (err) this._loop._callIo(this._deliverError, err);
    this._maybeResumeProtocol();
    if (this._closing && !this._socketClosed && this._socket.getSendQueueCount() === 0) this._closeSocket();
  };
  private readonly _deliverDatagram = (data: Buffer, addr: Address): void => {
    if (!this._closing) this._protocol.datagramReceived(data, addr);
  };
  private readonly _deliverError = (err: Error): void => this._protocol.errorReceived(err);
  private readonly _deliverLost = (): void => {
    if (this._lost) return;
    this._lost = true;
    this._protocol.connectionLost(this._error);
  };

  constructor(
    loop: BaseEventLoop,
    socket: dgram.Socket,
    protocol: P,
    remote: (dns.LookupAddress & { port: number }) | null,
  ) {
    const local = socket.address();
    super(loop, protocol, {
      sockname: addressTuple(local.address, local.port, local.family),
      peername: remote === null ? null : addressTuple(remote.address, remote.port, remote.family),
      socket,
    });
    this._socket = socket;
    this._remote = remote;
    socket.on('message', this._onMessage);
    socket.on('error', this._onError);
    socket.on('close', this._onClose);
    loop._callIo(() => this._protocol.connectionMade(this));
  }

  /**
   * Queues one datagram. On a connected endpoint `addr` must be omitted or
   * equal the peer's address; otherwise it is required.
   */
  sendto(data: Uint8Array, addr: Address | null = null): void {
    checkBytes(data, 'data');
    let port: number | undefined;
    let host: string | undefined;
    if (addr !== null) {
      checkHostPort(addr, 'addr');
      [host, port] = addr as [string, number];
      if (this._remote !== null && (host !== this._remote.address || port !== this._remote.port)) {
        throw new RangeError(`addr must be null or ${JSON.stringify([this._remote.address, this._remote.port])} on a connected endpoint`);
      }
    } else if (this._remote === null) {
      throw new TypeError('addr must be given: the endpoint has no remote address');
    }
    if (this._closing) {
      this._warnWriteAfterClose();
      return;
    }
    // A copy, as the stream transports' write(): Node's dgram keeps the caller's buffer while the datagram is queued.
    const datagram = Buffer.from(data);
    if (this._remote !== null) this._socket.send(datagram, this._onSent);
    else this._socket.send(datagram, port, host, this._onSent);
    this._maybePauseProtocol();
  }

  getWriteBufferSize(): number {
    return this._socketClosed ? 0 : this._socket.getSendQueueSize();
  }

  /** Sends what is queued, then closes; `connectionLost(null)` follows. */
  close(): void {
    if (this._closing) return;
    this._closing = true;
    if (this._socket.getSendQueueCount() === 0) this._closeSocket();
  }

  abort(): void {
    this._forceClose(null);
  }

  _forceClose(exc: Error | null): void {
    this._closing = true;
    this._error ??= exc;
    this._closeSocket();
  }

  private _closeSocket(): void {
    if (this._socketClosed) return;
    this._socketClosed = true;
    this._socket.close();
  }
}

/** Options of `createDatagramEndpoint`, as the seed names them (plus asyncio's later socket options). */
export interface DatagramOptions {
  family?: number;
  proto?: number;
  flags?: number;
  reuseAddress?: boolean;
  allowBroadcast?: boolean;
}

/** Binds and/or connects `socket`; rejects with the OS error (the socket is then closed). */
function open(socket: dgram.Socket, local: [string, number] | null, remote: [string, number] | null): Promise<dgram.Socket> {
  return whenDone(
    socket,
    () => socket.close(),
    (done) => {
      const connect = (): void => {
        if (remote === null) done();
        else socket.connect(remote[1], remote[0], done);
      };
      if (local === null) connect();
      else socket.bind({ address: local[0], port: local[1] }, connect);
    },
  );
}

/** Resolves an address argument to one numeric address of `family` (0: any). */
async function resolveOne(addr: [string, number], family: 0 | 4 | 6, flags: number, name: string): Promise<dns.LookupAddress> {
  const found = await resolveHost(addr[0], family, flags);
  if (found.length === 0) {
    const err: NodeJS.ErrnoException = new Error(`${name}: no IPv${family || ''} address for ${addr[0]}`);
    err.code = 'ENOTFOUND';
    throw err;
  }
  return found[0]!;
}

/**
 * The seed's `create_datagram_endpoint`: a UDP socket bound to `localAddr`
 * and/or connected to `remoteAddr` (`[host, port]` pairs); settles with
 * `[transport, protocol]` after `connectionMade` ran.
 */
export function createDatagramEndpoint<P extends DatagramProtocol>(
  loop: BaseEventLoop,
  protocolFactory: ProtocolFactory<P>,
  localAddr: [string, number] | null = null,
  remoteAddr: [string, number] | null = null,
  options: DatagramOptions = {},
): Promise<[UdpTransport<P>, P]> {
  loop._checkClosed();
  checkProtocolFactory(protocolFactory);
  checkHostPort(localAddr, 'localAddr');
  checkHostPort(remoteAddr, 'remoteAddr');
  let family = nodeFamily(options.family);
  if (localAddr === null && remoteAddr === null && family === 0) {
    throw new TypeError('localAddr, remoteAddr or family must be given');
  }
  if (options.proto !== undefined && options.proto !== 0 && options.proto !== IPPROTO_UDP) {
    throw new RangeError(`proto must be 0 or IPPROTO_UDP (${IPPROTO_UDP}), not ${options.proto}`);
  }
  const flags = options.flags ?? 0;
  return (async () => {
    const local = localAddr === null ? null : await resolveOne(localAddr, family, flags, 'localAddr');
    if (local !== null) family = local.family as 4 | 6;
    const remote = remoteAddr === null ? null : await resolveOne(remoteAddr, family, flags, 'remoteAddr');
    if (remote !== null) family = remote.family as 4 | 6;
    const socket = dgram.createSocket({ type: family === 6 ? 'udp6' : 'udp4', reuseAddr: options.reuseAddress === true });
    // With neither address, bind to any port now, as the first sendto would.
    const wildcard: [string, number] = [family === 6 ? '::' : '0.0.0.0', 0];
    await open(
      socket,
      local === null ? (remote === null ? wildcard : null) : [local.address, localAddr![1]],
      remote === null ? null : [remote.address, remoteAddr![1]],
    );
    let protocol: P;
    try {
      loop._checkClosed();
      if (options.allowBroadcast) socket.setBroadcast(true);
      protocol = protocolFactory();
    } catch (exc) {
      socket.close();
      throw exc;
    }
    const transport = new UdpTransport(loop, socket, protocol, remote === null ? null : { ...remote, port: remoteAddr![1] });
    return new Promise<[UdpTransport<P>, P]>((resolve) => loop._callIo(resolve, [transport, protocol]));
  })();
}
