/**
 * Plain servers on the native accept path: connections of `createServer`
 * and `createUnixServer` without `ssl` are accepted by a ListeningSocket
 * (accept4, a batch per readiness event) and served by an FdTransport.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { AF_INET, newEventLoop, SOCK_STREAM, Socket, type EventLoop, type Future, type Server } from 'multiloop';
import { native } from '../native/index.js';
import { FdTransport } from '../runtime/fd_transport.js';
import { ListeningSocket, sharedTraits } from '../runtime/listening_socket.js';
import { EchoProtocol } from '../examples/echo_protocol.js';
import { withLoop } from './helpers/loop.js';
import { Collector, Recorder } from './helpers/protocols.js';
import { closeServer, portOf } from './helpers/servers.js';

let dir: string;
test.before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'multiloop-servers-fd-'));
});
test.after.always(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A factory of Recorders that settles `first` with the first one. */
function recording(loop: EventLoop): { factory: () => Recorder; first: Future<Recorder> } {
  const first = loop.createFuture<Recorder>();
  const factory = (): Recorder => {
    const p = new Recorder(loop);
    if (!first.done()) first.setResult(p);
    return p;
  };
  return { factory, first };
}

/** Connects with plain Node; settles once connected. */
function connect(options: net.NetConnectOpts): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(options, () => resolve(sock));
    sock.once('error', reject);
  });
}

/**
 * Makes a TCP server with `listen(factory)`, connects one client from
 * 127.0.0.1, and passes the server, the client and its peer's Recorder to
 * `check`; then closes all three.
 */
async function oneConnection(
  listen: (loop: EventLoop, factory: () => Recorder) => Promise<Server>,
  check: (server: Server, client: net.Socket, peer: Recorder) => void,
): Promise<void> {
  await withLoop(async (loop) => {
    const { factory, first } = recording(loop);
    const server = await listen(loop, factory);
    const client = await connect({ port: portOf(server), host: '127.0.0.1' });
    const peer = await first;
    check(server, client, peer);
    client.destroy();
    await peer.seen('lost');
    await closeServer(server);
  });
}

const NODELAY = [native.constants.IPPROTO_TCP, native.constants.TCP_NODELAY] as const;

test.serial('a plain createServer connection is served by an FdTransport on a native Socket', async (t) => {
  await oneConnection(
    (loop, factory) => loop.createServer(factory, '127.0.0.1', 0),
    (server, client, peer) => {
      t.true(server.sockets![0] instanceof ListeningSocket);
      t.true(peer.transport instanceof FdTransport);
      t.true(peer.transport.getExtraInfo('socket') instanceof Socket);
      t.deepEqual(peer.transport.getExtraInfo('peername'), ['127.0.0.1', client.localPort]);
      t.deepEqual(peer.transport.getExtraInfo('sockname'), ['127.0.0.1', portOf(server)]);
    },
  );
});

/**
 * A ListeningSocket over a TCP socket bound to `host` (port 0) and never
 * listening, so that no test serves beyond 127.0.0.1; closed at the end of `t`.
 */
function boundListener(t: { teardown(fn: () => void): void }, host: string, noDelay: boolean): ListeningSocket {
  const sock = new Socket(AF_INET, SOCK_STREAM);
  sock.bind([host, 0]);
  if (noDelay) sock.setsockopt(...NODELAY, 1);
  const listener = new ListeningSocket(sock.detach());
  t.teardown(() => listener._close());
  return listener;
}

test("a listening socket gives its connections its own address as sockname, unless it is bound to a wildcard", (t) => {
  const specific = boundListener(t, '127.0.0.1', true);
  t.deepEqual(specific.accepted.sockname, specific.getsockname());
  t.is(boundListener(t, '0.0.0.0', true).accepted.sockname, null);
});

test('the connections of several listeners share no sockname, and TCP_NODELAY only if every listener has it', (t) => {
  const a = boundListener(t, '127.0.0.1', true);
  const b = boundListener(t, '127.0.0.1', false);
  t.deepEqual(sharedTraits([a]), { sockname: a.getsockname(), noDelay: true });
  t.deepEqual(sharedTraits([a, b]), { sockname: null, noDelay: false });
});

test.serial('accepted connections have TCP_NODELAY on, inherited from the listener, which has it too', async (t) => {
  await oneConnection(
    (loop, factory) => loop.createServer(factory, '127.0.0.1', 0),
    (server, _client, peer) => {
      t.is(native.getsockopt(server.sockets![0]!.fileno(), ...NODELAY), 1);
      t.is((peer.transport.getExtraInfo('socket') as Socket).getsockopt(...NODELAY), 1);
    },
  );
});

test.serial('a connection of an adopted listener without TCP_NODELAY gets it from its transport', async (t) => {
  const listener = new Socket(AF_INET, SOCK_STREAM);
  listener.bind(['127.0.0.1', 0]);
  listener.listen();
  t.is(listener.getsockopt(...NODELAY), 0);
  await oneConnection(
    (loop, factory) => loop.createServer(factory, null, null, { sock: listener }),
    (_server, _client, peer) => t.is((peer.transport.getExtraInfo('socket') as Socket).getsockopt(...NODELAY), 1),
  );
});

test.serial('a plain createUnixServer connection is served by an FdTransport named by the path', async (t) => {
  await withLoop(async (loop) => {
    const sockPath = path.join(dir, 'fd.sock');
    const { factory, first } = recording(loop);
    const server = await loop.createUnixServer(factory, sockPath);
    const client = await connect({ path: sockPath });
    const peer = await first;
    t.true(peer.transport instanceof FdTransport);
    t.is(peer.transport.getExtraInfo('sockname'), sockPath);
    t.is(peer.transport.getExtraInfo('peername'), '');
    client.destroy();
    await peer.seen('lost');
    await closeServer(server);
    t.false(fs.existsSync(sockPath));
  });
});

test.serial('connections pending in the backlog are all accepted in one readiness event', async (t) => {
  const count = 40;
  const accept = native.acceptFd;
  const results: boolean[] = [];
  native.acceptFd = (fd) => {
    const accepted = accept(fd);
    results.push(accepted !== null);
    return accepted;
  };
  const clients: net.Socket[] = [];
  const loop = newEventLoop();
  try {
    let made = 0;
    const all = loop.createFuture<void>();
    const server = await loop.runUntilComplete(() =>
      loop.createServer(() => {
        if (++made === count) all.setResult(undefined);
        return new EchoProtocol();
      }, '127.0.0.1', 0),
    );
    // The loop is stopped: every connection waits in the kernel's accept queue.
    for (let i = 0; i < count; i++) clients.push(net.connect(portOf(server), '127.0.0.1'));
    await Promise.all(clients.map((c) => new Promise((resolve) => c.once('connect', resolve))));
    t.is(results.length, 0);
    await loop.runUntilComplete(all);
    // One drain: every accept succeeded, then the single "none pending" that ended it.
    t.deepEqual(results, [...Array<boolean>(count).fill(true), false]);
    for (const c of clients) c.destroy();
    await loop.runUntilComplete(() => closeServer(server));
  } finally {
    native.acceptFd = accept;
    for (const c of clients) c.destroy();
    loop.close();
  }
});

test.serial('a protocol factory that throws closes that connection, goes to the exception handler, and the server serves on', async (t) => {
  await withLoop(async (loop) => {
    const contexts: Record<string, unknown>[] = [];
    loop.setExceptionHandler((_loop, context) => contexts.push(context));
    let calls = 0;
    const server = await loop.createServer(() => {
      if (++calls === 1) throw new Error('no protocol for you');
      return new EchoProtocol();
    }, '127.0.0.1', 0);
    const refused = await connect({ port: portOf(server), host: '127.0.0.1' });
    await new Promise((resolve) => refused.once('close', resolve).resume());
    t.is((contexts[0]!.exception as Error).message, 'no protocol for you');
    t.is(contexts[0]!.server, server);
    const [, client] = await loop.createConnection(() => new Collector(loop), '127.0.0.1', portOf(server));
    t.is(await client.echo('still serving'), 'still serving');
    await closeServer(server);
  });
});

test.serial("a Socket built on a listening socket's fileno() and detached leaves the server accepting", async (t) => {
  await withLoop(async (loop) => {
    const server = await loop.createServer(() => new EchoProtocol(), '127.0.0.1', 0);
    const probe = new Socket(AF_INET, SOCK_STREAM, 0, server.sockets![0]!.fileno());
    probe.detach();
    const [, client] = await loop.createConnection(() => new Collector(loop), '127.0.0.1', portOf(server));
    t.is(await client.echo('accepted'), 'accepted');
    await closeServer(server);
  });
});
