import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MessageChannel, Worker } from 'node:worker_threads';
import {
  AF_INET, AF_INET6, AF_UNIX, CancelledError, RuntimeError, SHUT_WR, SO_REUSEADDR, SOCK_DGRAM, SOCK_STREAM, SOL_SOCKET,
  Socket, newEventLoop, socket, socketpair, type EventLoop, type SocketAddress,
} from 'multiloop';
import { openFds } from './helpers/fds.js';
import { loopFor, test } from './helpers/loop.js';
import { pair } from './helpers/sockets.js';

type Teardown = { teardown(fn: () => void): void };

function closing<T extends Socket>(t: Teardown, sock: T): T {
  t.teardown(() => sock.close());
  return sock;
}

/** A listening TCP socket on 127.0.0.1, port 0. */
function tcpListener(t: Teardown): Socket {
  const server = closing(t, socket(AF_INET, SOCK_STREAM));
  server.bind(['127.0.0.1', 0]);
  server.listen();
  return server;
}

/** A temp path for a UNIX socket, removed with its directory when the test ends. */
function unixPath(t: Teardown): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'multiloop-sock-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true }));
  return path.join(dir, 's');
}

/** Connects a new client to `server` and accepts it: [client, accepted]. */
async function connectedPair(loop: EventLoop, t: Teardown, server: Socket): Promise<[Socket, Socket]> {
  const client = closing(t, socket(server.family, SOCK_STREAM));
  const [[accepted]] = await loop.runUntilComplete(async () =>
    Promise.all([loop.sockAccept(server), loop.sockConnect(client, server.getsockname())]),
  );
  closing(t, accepted);
  return [client, accepted];
}

// ------------------------------------------------------------------ Socket

test('socket() binds and listens on 127.0.0.1 port 0 and reports its address', (t) => {
  const server = tcpListener(t);
  const [host, port] = server.getsockname() as [string, number];
  t.is(host, '127.0.0.1');
  t.true(port > 0);
  t.is(server.family, AF_INET);
  t.is(server.type, SOCK_STREAM);
});

test('an IPv6 socket reports [host, port, flowinfo, scopeId]', (t) => {
  const server = closing(t, socket(AF_INET6, SOCK_STREAM));
  try {
    server.bind(['::1', 0]);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EADDRNOTAVAIL') return t.pass('no IPv6 loopback here');
    throw error;
  }
  const address = server.getsockname() as [string, number, number, number];
  t.is(address.length, 4);
  t.is(address[0], '::1');
  t.deepEqual(address.slice(2), [0, 0]);
});

test('a UNIX socket binds to a temp path and reports it', (t) => {
  const file = unixPath(t);
  const server = closing(t, socket(AF_UNIX, SOCK_STREAM));
  server.bind(file);
  t.is(server.getsockname(), file);
});

test('socketpair() gives two connected non-blocking sockets', (t) => {
  const [a, b] = pair(t);
  t.false(a.getblocking());
  t.is(a.send(Buffer.from('hi')), 2);
  t.is(b.recv(10).toString(), 'hi');
  t.is(a.getpeername(), '');
});

test('Buffers from recv keep their bytes while later reads fill many read arenas', (t) => {
  const [a, b] = pair(t);
  // ~1.2 MiB in reads of 1 B to 24 KiB: arenas are 64 KiB, so reads start new ones and are cut to an arena's room.
  const sent = Array.from({ length: 120 }, (_, i) => Buffer.alloc(((i * 7919) % 24_576) + 1, i));
  const received: Buffer[] = [];
  for (const chunk of sent) {
    t.is(a.send(chunk), chunk.length);
    for (let got = 0; got < chunk.length; ) {
      const data = b.recv(64 * 1024);
      received.push(data);
      got += data.length;
    }
  }
  t.true(Buffer.concat(received).equals(Buffer.concat(sent)));
});

test("a transfer list naming a received Buffer's memory cannot detach it (Node 20 copies it, later Node throws DataCloneError)", (t) => {
  const [a, b] = pair(t);
  a.send(Buffer.from('first'));
  const first = b.recv(10);
  const { port1, port2 } = new MessageChannel();
  t.teardown(() => port1.close());
  try {
    port1.postMessage(first, [first.buffer as ArrayBuffer]);
  } catch (error) {
    t.is((error as Error).name, 'DataCloneError');
  }
  a.send(Buffer.from('second'));
  t.is(b.recv(10).toString(), 'second');
  t.is(first.toString(), 'first');
  port2.close();
});

test('recv returns at most bufsize bytes, and more than a read arena (64 KiB) in one call when that much waits', (t) => {
  const [a, b] = pair(t);
  const data = Buffer.alloc(100 * 1024, 7);
  t.is(a.send(data), data.length);
  t.is(b.recv(10).length, 10);
  const rest = b.recv(200 * 1024);
  t.is(rest.length, data.length - 10);
  t.true(rest.equals(data.subarray(10)));
});

test('recv, send and accept that would block throw EAGAIN; connect throws EINPROGRESS', (t) => {
  const [a] = pair(t);
  t.throws(() => a.recv(10), { code: 'EAGAIN', message: 'recv EAGAIN' });
  const server = tcpListener(t);
  t.throws(() => server.accept(), { code: 'EAGAIN' });
  const client = closing(t, socket());
  const error = t.throws(() => client.connect(server.getsockname())) as NodeJS.ErrnoException | undefined;
  // A loopback connect may also complete at once.
  if (error !== undefined) t.is(error.code, 'EINPROGRESS');
});

test('shutdown(SHUT_WR) ends the stream: the peer reads an empty Buffer', (t) => {
  const [a, b] = pair(t);
  a.shutdown(SHUT_WR);
  t.is(b.recv(10).length, 0);
  t.throws(() => a.shutdown('both' as never), { instanceOf: TypeError, message: /how/ });
});

test('setsockopt and getsockopt read back an integer option; a boolean counts as 0/1', (t) => {
  const sock = closing(t, socket());
  sock.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);
  t.is(sock.getsockopt(SOL_SOCKET, SO_REUSEADDR), 1);
  sock.setsockopt(SOL_SOCKET, SO_REUSEADDR, false);
  t.is(sock.getsockopt(SOL_SOCKET, SO_REUSEADDR), 0);
  t.throws(() => sock.setsockopt(SOL_SOCKET, SO_REUSEADDR, 'yes' as never), { instanceOf: TypeError, message: /value/ });
});

test('setblocking switches the mode getblocking reports', (t) => {
  const sock = closing(t, socket());
  t.false(sock.getblocking());
  sock.setblocking(true);
  t.true(sock.getblocking());
  sock.setblocking(false);
  t.false(sock.getblocking());
});

test('close is idempotent; fileno is then -1 and every operation throws EBADF', (t) => {
  const sock = socket();
  t.true(sock.fileno() >= 0);
  sock.close();
  sock.close();
  t.is(sock.fileno(), -1);
  t.throws(() => sock.getsockname(), { code: 'EBADF' });
  t.throws(() => sock.bind(['127.0.0.1', 0]), { code: 'EBADF' });
});

test('detach gives up the fd without closing it, and new Socket(fileno) adopts it with its family and type', (t) => {
  const server = tcpListener(t);
  const address = server.getsockname();
  const fd = server.detach();
  t.is(server.fileno(), -1);
  t.is(server.detach(), -1);
  const adopted = closing(t, new Socket(undefined, undefined, undefined, fd));
  t.is(adopted.fileno(), fd);
  t.is(adopted.family, AF_INET);
  t.is(adopted.type, SOCK_STREAM);
  t.deepEqual(adopted.getsockname(), address);
});

test("a worker thread's unclosed Sockets are closed when it is terminated", async (t) => {
  const before = openFds();
  const worker = new Worker(new URL('./socket.worker.js', import.meta.url));
  await new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  t.true(openFds() >= before + 3);
  await worker.terminate();
  t.is(openFds(), before);
});

test('bad addresses throw TypeError or RangeError naming the address', (t) => {
  const sock = closing(t, socket());
  t.throws(() => sock.bind('127.0.0.1:80' as never), { instanceOf: TypeError, message: /address must be \[host, port\]/ });
  t.throws(() => sock.bind(['localhost', 80]), { instanceOf: TypeError, message: /numeric IPv4/ });
  t.throws(() => sock.bind(['127.0.0.1', 70000]), { instanceOf: RangeError, message: /port/ });
  t.throws(() => sock.bind(['127.0.0.1', '80' as never]), { instanceOf: TypeError, message: /port/ });
  const unix = closing(t, socket(AF_UNIX));
  t.throws(() => unix.bind(['127.0.0.1', 0]), { instanceOf: TypeError, message: /path string/ });
  t.throws(() => unix.bind('x'.repeat(200)), { instanceOf: RangeError, message: /too long/ });
});

test('bad family or type values throw TypeError', (t) => {
  t.throws(() => socket('inet' as never), { instanceOf: TypeError, message: /family/ });
  t.throws(() => socketpair(AF_UNIX, 1.5), { instanceOf: TypeError, message: /type/ });
});

test('an unsupported family is the OS error EAFNOSUPPORT', (t) => {
  t.throws(() => socket(12345, SOCK_DGRAM), { code: 'EAFNOSUPPORT' });
});

// ------------------------------------------------------------ sock* methods

test('sockConnect and sockAccept connect a TCP client on 127.0.0.1; sockAccept reports the peer address', async (t) => {
  const loop = loopFor(t);
  const server = tcpListener(t);
  const [client, accepted] = await connectedPair(loop, t, server);
  t.deepEqual(accepted.getpeername(), client.getsockname());
  t.deepEqual(client.getpeername(), server.getsockname());
  t.false(accepted.getblocking());
});

test('sockAccept returns [Socket, address] in the seed shape', async (t) => {
  const loop = loopFor(t);
  const server = tcpListener(t);
  const client = closing(t, socket());
  const [conn, address] = await loop.runUntilComplete(async () => {
    const accepting = loop.sockAccept(server);
    await loop.sockConnect(client, server.getsockname());
    return accepting;
  });
  closing(t, conn);
  t.true(conn instanceof Socket);
  t.deepEqual(address, client.getsockname());
});

test('sockSendall sends every byte of a large buffer through backpressure, sockRecv receives them in order', async (t) => {
  const loop = loopFor(t);
  const [client, accepted] = await connectedPair(loop, t, tcpListener(t));
  const data = Buffer.alloc(8 * 1024 * 1024);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff;
  const received = await loop.runUntilComplete(async () => {
    const sending = loop.sockSendall(client, data);
    const chunks: Buffer[] = [];
    let size = 0;
    while (size < data.length) {
      const chunk = await loop.sockRecv(accepted, 65536);
      chunks.push(chunk);
      size += chunk.length;
    }
    t.is(await sending, undefined);
    return Buffer.concat(chunks);
  });
  t.true(received.equals(data));
});

test('bytes that arrive while no sockRecv waits stay queued for the next one', async (t) => {
  const loop = loopFor(t);
  const [a, b] = pair(t);
  const received = await loop.runUntilComplete(async () => {
    const first = loop.sockRecv(a, 100);
    b.send(Buffer.from('one'));
    const chunks = [(await first).toString()];
    b.send(Buffer.from('two'));
    // Let the loop and Node's poller turn while nobody waits on `a`.
    for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
    chunks.push((await loop.sockRecv(a, 100)).toString());
    return chunks;
  });
  t.deepEqual(received, ['one', 'two']);
});

test('sockRecv resolves with an empty Buffer at EOF', async (t) => {
  const loop = loopFor(t);
  const [a, b] = pair(t);
  const data = await loop.runUntilComplete(async () => {
    const receiving = loop.sockRecv(a, 100);
    b.close();
    return receiving;
  });
  t.is(data.length, 0);
});

test('sock methods work on a UNIX socket at a temp path', async (t) => {
  const loop = loopFor(t);
  const server = closing(t, socket(AF_UNIX));
  server.bind(unixPath(t));
  server.listen();
  const [client, accepted] = await connectedPair(loop, t, server);
  const echoed = await loop.runUntilComplete(async () => {
    await loop.sockSendall(client, Buffer.from('over unix'));
    return loop.sockRecv(accepted, 100);
  });
  t.is(echoed.toString(), 'over unix');
  t.is(client.getpeername(), server.getsockname());
});

test('sockConnect to a UNIX listener whose backlog is full waits, and connects once the listener accepts', async (t) => {
  const loop = loopFor(t);
  const file = unixPath(t);
  const server = closing(t, socket(AF_UNIX));
  server.bind(file);
  server.listen(0);
  const clients = [0, 1, 2].map(() => closing(t, socket(AF_UNIX)));
  const peers = await loop.runUntilComplete(async () => {
    const connecting = clients.map((client) => loop.sockConnect(client, file));
    const accepted: Socket[] = [];
    for (let i = 0; i < clients.length; i++) accepted.push(closing(t, (await loop.sockAccept(server))[0]));
    await Promise.all(connecting);
    return clients.map((client) => client.getpeername());
  });
  t.deepEqual(peers, [file, file, file]);
});

test('a refused sockConnect rejects with ECONNREFUSED naming the address, and leaks no fd', async (t) => {
  const loop = loopFor(t);
  // A bound socket that does not listen: the kernel refuses connections to its port.
  const bound = closing(t, socket());
  bound.bind(['127.0.0.1', 0]);
  const address = bound.getsockname() as [string, number];
  const before = openFds();
  const error = await t.throwsAsync(
    loop.runUntilComplete(async () => {
      const client = socket();
      try {
        await loop.sockConnect(client, address);
      } finally {
        client.close();
      }
    }),
  ) as NodeJS.ErrnoException;
  t.is(error.code, 'ECONNREFUSED');
  t.is(error.message, `connect ECONNREFUSED 127.0.0.1:${address[1]}`);
  t.is(openFds(), before);
});

test('sockConnect to a UNIX path nobody listens on rejects with ENOENT', async (t) => {
  const loop = loopFor(t);
  const client = closing(t, socket(AF_UNIX));
  await t.throwsAsync(loop.runUntilComplete(loop.sockConnect(client, unixPath(t))), { code: 'ENOENT' });
});

test('cancelling a pending sockRecv stops waiting: its reader is removed', async (t) => {
  const loop = loopFor(t);
  const [a] = pair(t);
  const receiving = loop.sockRecv(a, 10);
  receiving.cancel();
  await t.throwsAsync(loop.runUntilComplete(receiving), { instanceOf: CancelledError });
  t.false(loop.removeReader(a));
});

test('sock methods refuse a blocking socket (RangeError) and a non-Socket (TypeError)', (t) => {
  const loop = loopFor(t);
  const sock = closing(t, socket());
  sock.setblocking(true);
  t.throws(() => loop.sockRecv(sock, 10), { instanceOf: RangeError, message: /non-blocking/ });
  t.throws(() => loop.sockSendall(3 as never, Buffer.alloc(1)), { instanceOf: TypeError, message: /sock must be a Socket/ });
  sock.setblocking(false);
  t.throws(() => loop.sockSendall(sock, 'text' as never), { instanceOf: TypeError, message: /data must be bytes/ });
  t.throws(() => loop.sockRecv(sock, -1), { instanceOf: RangeError, message: /nbytes/ });
  t.throws(() => loop.sockConnect(sock, ['example.com', 80]), { instanceOf: TypeError, message: /numeric IPv4/ });
});

test('sock methods on a closed loop throw RuntimeError', (t) => {
  const loop = newEventLoop();
  loop.close();
  const [a] = pair(t);
  t.throws(() => loop.sockRecv(a, 1), { instanceOf: RuntimeError });
});

test('sockRecv on a closed socket rejects with EBADF', async (t) => {
  const loop = loopFor(t);
  const [a] = pair(t);
  a.close();
  await t.throwsAsync(loop.runUntilComplete(loop.sockRecv(a, 1)), { code: 'EBADF' });
});

test('200 connections through sockConnect/sockAccept leak no fd once closed', async (t) => {
  const loop = loopFor(t);
  const server = tcpListener(t);
  const address: SocketAddress = server.getsockname();
  const before = openFds();
  await loop.runUntilComplete(async () => {
    for (let i = 0; i < 200; i++) {
      const client = socket();
      const accepting = loop.sockAccept(server);
      await loop.sockConnect(client, address);
      const [conn] = await accepting;
      await loop.sockSendall(client, Buffer.from('x'));
      t.is((await loop.sockRecv(conn, 1)).toString(), 'x');
      conn.close();
      client.close();
    }
  });
  t.is(openFds(), before);
});
