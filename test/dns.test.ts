import {
  AF_INET, AF_INET6, AI_NUMERICHOST, AI_PASSIVE, IPPROTO_TCP, IPPROTO_UDP, NI_NAMEREQD, NI_NUMERICHOST, NI_NUMERICSERV,
  RuntimeError, SOCK_DGRAM, SOCK_RAW, SOCK_STREAM, newEventLoop,
} from 'multiloop';
import { loopFor, test } from './helpers/loop.js';

test('getaddrinfo of localhost gives [family, type, proto, canonname, sockaddr] tuples', async (t) => {
  const loop = loopFor(t);
  const infos = await loop.runUntilComplete(loop.getaddrinfo('localhost', 80, { family: AF_INET, type: SOCK_STREAM }));
  t.deepEqual(infos, [[AF_INET, SOCK_STREAM, IPPROTO_TCP, '', ['127.0.0.1', 80]]]);
});

test('getaddrinfo of a numeric IPv6 host gives a 4-element sockaddr without a lookup', async (t) => {
  const loop = loopFor(t);
  const infos = await loop.runUntilComplete(loop.getaddrinfo('::1', '8080', { type: SOCK_DGRAM }));
  t.deepEqual(infos, [[AF_INET6, SOCK_DGRAM, IPPROTO_UDP, '', ['::1', 8080, 0, 0]]]);
});

test('getaddrinfo with type and proto 0 lists each address once per socket type, as glibc does', async (t) => {
  const loop = loopFor(t);
  const infos = await loop.runUntilComplete(loop.getaddrinfo('127.0.0.1', null));
  t.deepEqual(
    infos.map(([, type, proto]) => [type, proto]),
    [[SOCK_STREAM, IPPROTO_TCP], [SOCK_DGRAM, IPPROTO_UDP], [SOCK_RAW, 0]],
  );
  t.deepEqual(infos[0]![4], ['127.0.0.1', 0]);
});

test('getaddrinfo of a null host gives the wildcard with AI_PASSIVE, the loopback without', async (t) => {
  const loop = loopFor(t);
  const passive = await loop.runUntilComplete(loop.getaddrinfo(null, 0, { flags: AI_PASSIVE, type: SOCK_STREAM }));
  t.deepEqual(passive.map((info) => info[4][0]), ['0.0.0.0', '::']);
  const active = await loop.runUntilComplete(loop.getaddrinfo(null, 0, { family: AF_INET6, type: SOCK_STREAM }));
  t.deepEqual(active.map((info) => info[4]), [['::1', 0, 0, 0]]);
});

test('getaddrinfo with AI_NUMERICHOST rejects a name with ENOTFOUND', async (t) => {
  const loop = loopFor(t);
  await t.throwsAsync(loop.runUntilComplete(loop.getaddrinfo('localhost', 80, { flags: AI_NUMERICHOST })), {
    code: 'ENOTFOUND',
  });
});

test('getaddrinfo rejects bad arguments with TypeError or RangeError naming them', (t) => {
  const loop = loopFor(t);
  t.throws(() => loop.getaddrinfo(42 as never, 80), { instanceOf: TypeError, message: /host/ });
  t.throws(() => loop.getaddrinfo('localhost', 'http'), { instanceOf: TypeError, message: /port/ });
  t.throws(() => loop.getaddrinfo('localhost', 65536), { instanceOf: RangeError, message: /port/ });
  t.throws(() => loop.getaddrinfo('localhost', 80, { family: 99 }), { instanceOf: RangeError, message: /family/ });
  t.throws(() => loop.getaddrinfo('localhost', 80, { flags: 'x' as never }), { instanceOf: TypeError, message: /flags/ });
  t.throws(() => loop.getaddrinfo('localhost', 80, null as never), { instanceOf: TypeError, message: /options/ });
});

test('getaddrinfo and getnameinfo on a closed loop throw RuntimeError', (t) => {
  const loop = newEventLoop();
  loop.close();
  t.throws(() => loop.getaddrinfo('localhost', 80), { instanceOf: RuntimeError });
  t.throws(() => loop.getnameinfo(['127.0.0.1', 80]), { instanceOf: RuntimeError });
});

test('a cancelled getaddrinfo stays cancelled when the lookup finishes', async (t) => {
  const loop = loopFor(t);
  const lookup = loop.getaddrinfo('localhost', 80);
  lookup.cancel();
  // Anything after the lookup's own callback: a second lookup of the same name.
  await loop.runUntilComplete(loop.getaddrinfo('localhost', 80));
  t.true(lookup.cancelled());
});

test('getnameinfo of 127.0.0.1 port 80 gives [host, service] names', async (t) => {
  const loop = loopFor(t);
  const [host, service] = await loop.runUntilComplete(loop.getnameinfo(['127.0.0.1', 80]));
  t.is(host, 'localhost');
  t.is(service, 'http');
});

test('getnameinfo with NI_NUMERICHOST | NI_NUMERICSERV gives the numeric forms', async (t) => {
  const loop = loopFor(t);
  const names = await loop.runUntilComplete(loop.getnameinfo(['::1', 443, 0, 0], NI_NUMERICHOST | NI_NUMERICSERV));
  t.deepEqual(names, ['::1', '443']);
});

test('getnameinfo of an address without a name gives it numerically, or rejects with NI_NAMEREQD', async (t) => {
  const loop = loopFor(t);
  // TEST-NET-1 (RFC 5737): reserved for documentation, never named.
  const [host] = await loop.runUntilComplete(loop.getnameinfo(['192.0.2.1', 80]));
  t.is(host, '192.0.2.1');
  await t.throwsAsync(loop.runUntilComplete(loop.getnameinfo(['192.0.2.1', 80], NI_NAMEREQD)), { code: 'ENOTFOUND' });
});

test('getnameinfo rejects a non-numeric host or a bad port', (t) => {
  const loop = loopFor(t);
  t.throws(() => loop.getnameinfo(['localhost', 80]), { instanceOf: TypeError, message: /numeric host/ });
  t.throws(() => loop.getnameinfo(['127.0.0.1', -1]), { instanceOf: RangeError, message: /port/ });
});
