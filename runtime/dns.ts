/**
 * Name resolution for the loop: asyncio's `getaddrinfo` and `getnameinfo`,
 * on Node's `dns.lookup` and `dns.lookupService` (the system resolver, run on
 * libuv's thread pool, so the loop never blocks).
 *
 * Results have the tuple shapes of Python's socket module, as arrays:
 * `[family, type, proto, canonname, sockaddr]` and `[host, service]`. The
 * results are delivered as loop callbacks (a stopped loop gets them when it
 * runs again); the returned Future can be cancelled. Resolver failures are
 * Node's dns errors (`code` 'ENOTFOUND', 'EAI_AGAIN', ...; Python's
 * socket.gaierror).
 *
 * Known differences from the C library: `canonname` is always '' because
 * dns.lookup does not report it, service names as `port` are not resolved
 * (numbers and numeric strings are), and getnameinfo's service is looked up
 * for TCP even with NI_DGRAM.
 */
import dns from 'node:dns';
import { isIP } from 'node:net';
import { native } from '../native/index.js';
import type { BaseEventLoop } from './base_events.js';
import type { Future } from './futures.js';
import { AF_INET, AF_INET6, AF_UNSPEC, IPPROTO_TCP, IPPROTO_UDP, SOCK_DGRAM, SOCK_RAW, SOCK_STREAM, type SocketAddress } from './socket.js';
import { describe } from './validate.js';

const C = native.constants;
export const AI_PASSIVE = C.AI_PASSIVE;
export const AI_CANONNAME = C.AI_CANONNAME;
export const AI_NUMERICHOST = C.AI_NUMERICHOST;
export const AI_NUMERICSERV = C.AI_NUMERICSERV;
export const AI_V4MAPPED = C.AI_V4MAPPED;
export const AI_ALL = C.AI_ALL;
export const AI_ADDRCONFIG = C.AI_ADDRCONFIG;
export const NI_NUMERICHOST = C.NI_NUMERICHOST;
export const NI_NUMERICSERV = C.NI_NUMERICSERV;
export const NI_NOFQDN = C.NI_NOFQDN;
export const NI_NAMEREQD = C.NI_NAMEREQD;
export const NI_DGRAM = C.NI_DGRAM;

/** One getaddrinfo result: `[family, type, proto, canonname, sockaddr]`. */
export type AddrInfo = [family: number, type: number, proto: number, canonname: string, sockaddr: SocketAddress];

export interface GetaddrinfoOptions {
  family?: number;
  type?: number;
  proto?: number;
  flags?: number;
}


/**
 * Resolves `host` (a name or numeric address; null for the wildcard with
 * AI_PASSIVE, else the loopback) and `port` (an integer, a numeric string or
 * null) into socket addresses. With `type` and `proto` 0, every address is
 * listed once per socket type (stream, datagram, raw), as glibc does.
 */
export function getaddrinfo(
  loop: BaseEventLoop,
  host: string | null,
  port: number | string | null,
  options: GetaddrinfoOptions = {},
): Future<AddrInfo[]> {
  loop._checkClosed();
  if (typeof options !== 'object' || options === null) throw new TypeError(`getaddrinfo: options must be an object, got ${describe(options)}`);
  const { family = AF_UNSPEC, type = 0, proto = 0, flags = 0 } = options;
  if (host !== null && host !== undefined && typeof host !== 'string') {
    throw new TypeError(`getaddrinfo: host must be a string or null, got ${describe(host)}`);
  }
  const portNumber = checkPort(port);
  for (const [name, value] of [['family', family], ['type', type], ['proto', proto], ['flags', flags]] as const) {
    if (!Number.isInteger(value)) throw new TypeError(`getaddrinfo: ${name} must be an integer, got ${describe(value)}`);
  }
  if (family !== AF_UNSPEC && family !== AF_INET && family !== AF_INET6) {
    throw new RangeError(`getaddrinfo: family must be AF_UNSPEC, AF_INET or AF_INET6, got ${family}`);
  }
  const kinds = socketKinds(type, proto);
  const future = loop.createFuture<AddrInfo[]>();
  const finish = (addresses: dns.LookupAddress[]): void => {
    const infos: AddrInfo[] = [];
    for (const { address, family: version } of addresses) {
      const af = version === 6 ? AF_INET6 : AF_INET;
      if (family !== AF_UNSPEC && af !== family) continue;
      const sockaddr: SocketAddress = af === AF_INET6 ? [address, portNumber, 0, 0] : [address, portNumber];
      for (const [sockType, sockProto] of kinds) infos.push([af, sockType, sockProto, '', sockaddr]);
    }
    if (!future.done()) future.setResult(infos);
  };

  if (host === null || host === undefined || host === '') {
    const passive = (flags & AI_PASSIVE) !== 0;
    finish([
      { address: passive ? '0.0.0.0' : '127.0.0.1', family: 4 },
      { address: passive ? '::' : '::1', family: 6 },
    ]);
  } else if (isIP(host) !== 0) {
    const version = isIP(host);
    if (family === AF_UNSPEC || family === (version === 6 ? AF_INET6 : AF_INET)) finish([{ address: host, family: version }]);
    // The C library maps an IPv4 literal into IPv6 when asked to (AI_V4MAPPED), and refuses any other mismatch.
    else if (version === 4 && (flags & AI_V4MAPPED) !== 0) finish([{ address: `::ffff:${host}`, family: 6 }]);
    else future.setException(familyMismatch(host));
  } else if (flags & AI_NUMERICHOST) {
    future.setException(notFound(host));
  } else {
    dns.lookup(host, { all: true, family: family === AF_INET ? 4 : family === AF_INET6 ? 6 : 0, hints: lookupHints(flags) }, (error, addresses) => {
      loop._callIo(() => {
        if (future.done()) return;
        if (error) future.setException(error);
        else finish(addresses);
      });
    });
  }
  return future;
}

/**
 * The host and service names of `sockaddr` (`[host, port, ...]`, host
 * numeric): `[host, service]`. NI_NUMERICHOST and NI_NUMERICSERV give the
 * numeric forms; an address without a name gives its numeric host unless
 * NI_NAMEREQD, as the C library does.
 */
export function getnameinfo(loop: BaseEventLoop, sockaddr: SocketAddress, flags = 0): Future<[string, string]> {
  loop._checkClosed();
  if (!Array.isArray(sockaddr) || typeof sockaddr[0] !== 'string' || isIP(sockaddr[0]) === 0) {
    throw new TypeError(`getnameinfo: sockaddr must be [host, port, ...] with a numeric host, got ${describe(sockaddr)}`);
  }
  const [host, port] = sockaddr;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`getnameinfo: sockaddr port must be an integer 0-65535, got ${describe(port)}`);
  if (!Number.isInteger(flags)) throw new TypeError(`getnameinfo: flags must be an integer, got ${describe(flags)}`);
  const future = loop.createFuture<[string, string]>();
  const numericHost = (flags & NI_NUMERICHOST) !== 0;
  const numericService = (flags & NI_NUMERICSERV) !== 0;
  if (numericHost && numericService) {
    future.setResult([host, String(port)]);
    return future;
  }
  dns.lookupService(host, port, (error, hostname, service) => {
    loop._callIo(() => {
      if (future.done()) return;
      if (error && (error.code !== 'ENOTFOUND' || (flags & NI_NAMEREQD) !== 0)) {
        future.setException(error);
        return;
      }
      future.setResult([
        numericHost || error ? host : hostname,
        numericService || error ? String(port) : service,
      ]);
    });
  });
  return future;
}

/** The error dns.lookup gives for a name that does not resolve (libuv's EAI_NONAME, which Node names ENOTFOUND). */
function notFound(hostname: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND', errno: -3008, syscall: 'getaddrinfo', hostname });
}

/**
 * The error the C library gives for a numeric host of another family than
 * the one asked for (EAI_ADDRFAMILY; Python's gaierror -9), in the shape of
 * Node's dns errors: filtering it out would give an empty list no resolver gives.
 */
function familyMismatch(hostname: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`getaddrinfo EAI_ADDRFAMILY ${hostname}`), { code: 'EAI_ADDRFAMILY', errno: -3000, syscall: 'getaddrinfo', hostname });
}

function checkPort(port: unknown): number {
  if (port === null || port === undefined) return 0;
  let value = port;
  if (typeof port === 'string') {
    if (!/^\d+$/.test(port)) throw new TypeError(`getaddrinfo: port must be an integer or a numeric string (service names are not supported), got ${describe(port)}`);
    value = Number(port);
  }
  if (!Number.isInteger(value)) throw new TypeError(`getaddrinfo: port must be an integer, a numeric string or null, got ${describe(port)}`);
  if ((value as number) < 0 || (value as number) > 65535) throw new RangeError(`getaddrinfo: port must be 0-65535, got ${port}`);
  return value as number;
}

/** The [type, proto] pairs to list, as glibc derives them from the hints. */
function socketKinds(type: number, proto: number): [number, number][] {
  const all: [number, number][] = [
    [SOCK_STREAM, IPPROTO_TCP],
    [SOCK_DGRAM, IPPROTO_UDP],
    [SOCK_RAW, 0],
  ];
  if (type === 0) return proto === 0 ? all : all.filter(([, p]) => p === proto);
  const known = all.find(([t]) => t === type);
  return [[type, proto !== 0 ? proto : known ? known[1] : 0]];
}

function lookupHints(flags: number): number {
  return (flags & AI_ADDRCONFIG ? dns.ADDRCONFIG : 0) | (flags & AI_V4MAPPED ? dns.V4MAPPED : 0) | (flags & AI_ALL ? dns.ALL : 0);
}
