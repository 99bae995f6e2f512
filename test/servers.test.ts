import net from 'node:net';
import test from 'ava';
import {
  AF_INET, SO_REUSEADDR, SOCK_STREAM, Socket, socket, SOL_SOCKET,
  type EventLoop, type Future, type Server,
} from 'multiloop';
import { EchoProtocol } from '../examples/echo_protocol.js';
import { withLoop } from './helpers/loop.js';
import { portOf } from './helpers/servers.js';

/** Echoes every byte back; `lost` settles on connectionLost. */
class Echo extends EchoProtocol {
  readonly lost: Future<Error | null>;
  constructor(loop: EventLoop) {
    super();
    this.lost = loop.createFuture();
  }
  override connectionLost(exc: Error | null): void {
    this.lost.setResult(exc);
  }
}

/** Reads `n` characters from `sock` without ending it. */
function readText(sock: net.Socket, n: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const onData = (chunk: Buffer): void => {
      got += String(chunk);
      if (got.length < n) return;
      sock.off('data', onData).off('error', reject).pause();
      resolve(got);
    };
    sock.on('data', onData).once('error', reject).resume();
  });
}

/** Connects with plain Node, sends `text`, settles with the echo (the socket stays open). */
async function echoThrough(host: string, port: number, text: string): Promise<[string, net.Socket]> {
  const sock = net.connect(port, host);
  sock.write(text);
  return [await readText(sock, text.length), sock];
}

function addresses(server: Server): string[] {
  return server.sockets!.map((s) => (s.getsockname() as [string, number])[0]).sort();
}

test.serial('host null listens on every interface, IPv4 and IPv6, on one port', async (t) => {
  await withLoop(async (loop) => {
    const server = await loop.createServer(() => new Echo(loop), null, 0);
    t.deepEqual(addresses(server), ['0.0.0.0', '::']);
    const ports = new Set(server.sockets!.map((s) => (s.getsockname() as [string, number])[1]));
    t.is(ports.size, 1);
    const [port] = ports;
    t.is(server.sockets!.find((s) => (s.getsockname() as unknown[]).length === 4)!.getsockname().length, 4);
    for (const host of ['127.0.0.1', '::1']) {
      const [got, sock] = await echoThrough(host, port!, 'ping');
      t.is(got, 'ping');
      sock.destroy();
    }
    server.close();
    await server.waitClosed();
  });
});

test.serial('a list of hosts gives one listening socket per address', async (t) => {
  await withLoop(async (loop) => {
    const server = await loop.createServer(() => new Echo(loop), ['127.0.0.1', '::1'], 0);
    t.deepEqual(addresses(server), ['127.0.0.1', '::1']);
    server.close();
    await server.waitClosed();
  });
});

test.serial('Server.sockets lists objects with getsockname() and fileno()', async (t) => {
  await withLoop(async (loop) => {
    const server = await loop.createServer(() => new Echo(loop), '127.0.0.1', 0);
    const [sock] = server.sockets!;
    t.is((sock!.getsockname() as [string, number])[0], '127.0.0.1');
    t.true(sock!.fileno() > 2);
    t.true(server.isServing());
    server.close();
    await server.waitClosed();
  });
});

test.serial('close() sets sockets to null and keeps accepted connections open until they end', async (t) => {
  await withLoop(async (loop) => {
    const accepted = loop.createFuture<Echo>();
    const server = await loop.createServer(() => {
      const p = new Echo(loop);
      accepted.setResult(p);
      return p;
    }, '127.0.0.1', 0);
    const port = portOf(server);
    const [, sock] = await echoThrough('127.0.0.1', port, 'one');
    const peer = await accepted;
    server.close();
    t.is(server.sockets, null);
    let closed = false;
    const waiting = server.waitClosed().then(() => (closed = true));
    // The accepted connection still works after close().
    sock.write('two');
    t.is(await readText(sock, 3), 'two');
    t.false(closed);
    await t.throwsAsync(new Promise<void>((resolve, reject) => net.connect(port, '127.0.0.1', resolve).once('error', reject)), {
      code: 'ECONNREFUSED',
    });
    sock.end();
    t.is(await peer.lost, null);
    await waiting;
    t.true(closed);
  });
});

test.serial('createServer adopts a listening net.Server given as sock', async (t) => {
  await withLoop(async (loop) => {
    const listener = net.createServer();
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const server = await loop.createServer(() => new Echo(loop), null, null, { sock: listener });
    const port = (listener.address() as net.AddressInfo).port;
    t.deepEqual(server.sockets![0]!.getsockname(), ['127.0.0.1', port]);
    const [got, sock] = await echoThrough('127.0.0.1', port, 'adopted');
    t.is(got, 'adopted');
    sock.destroy();
    server.close();
    await server.waitClosed();
  });
});

test.serial('createServer rejects bad arguments with TypeError or RangeError naming them', async (t) => {
  await withLoop(async (loop) => {
    const factory = (): Echo => new Echo(loop);
    t.throws(() => loop.createServer(null as never, '127.0.0.1', 0), { instanceOf: TypeError, message: /protocolFactory/ });
    t.throws(() => loop.createServer(factory, '127.0.0.1', 0, { backlog: -1 }), { instanceOf: TypeError, message: /backlog/ });
    t.throws(() => loop.createServer(factory, [1 as never], 0), { instanceOf: TypeError, message: /host/ });
    t.throws(() => loop.createServer(factory, '127.0.0.1', -5), { instanceOf: RangeError, message: /port/ });
    t.throws(() => loop.createServer(factory, '127.0.0.1', 0, { reuseAddress: 'yes' as never }), { instanceOf: TypeError, message: /reuseAddress/ });
    t.throws(() => loop.createServer(factory, '127.0.0.1', 0, { ssl: true }), { instanceOf: TypeError, message: /ssl/ });
    t.throws(() => loop.createServer(factory, '127.0.0.1', 0, { sock: 3 }), { instanceOf: TypeError, message: /sock/ });
  });
});

test.serial('a port in use rejects with EADDRINUSE and leaves nothing listening', async (t) => {
  await withLoop(async (loop) => {
    const first = await loop.createServer(() => new Echo(loop), '127.0.0.1', 0);
    const port = portOf(first);
    await t.throwsAsync(loop.createServer(() => new Echo(loop), ['::1', '127.0.0.1'], port), { code: 'EADDRINUSE' });
    // ::1 was bound first and must have been released.
    const again = await loop.createServer(() => new Echo(loop), '::1', port);
    again.close();
    first.close();
    await Promise.all([again.waitClosed(), first.waitClosed()]);
  });
});

test.serial('reuseAddress sets SO_REUSEADDR on listening sockets, and false leaves it unset', async (t) => {
  await withLoop(async (loop) => {
    const reuse = (server: Server): number => {
      const fd = server.sockets![0]!.fileno();
      const probe = new Socket(AF_INET, SOCK_STREAM, 0, fd);
      try {
        return probe.getsockopt(SOL_SOCKET, SO_REUSEADDR);
      } finally {
        probe.detach();
      }
    };
    const byDefault = await loop.createServer(() => new Echo(loop), '127.0.0.1', 0);
    const without = await loop.createServer(() => new Echo(loop), '127.0.0.1', 0, { reuseAddress: false });
    t.not(reuse(byDefault), 0);
    t.is(reuse(without), 0);
    const port = portOf(without);
    const [got, sock] = await echoThrough('127.0.0.1', port, 'no reuse');
    t.is(got, 'no reuse');
    sock.destroy();
    byDefault.close();
    without.close();
    await Promise.all([byDefault.waitClosed(), without.waitClosed()]);
  });
});

test.serial('reuseAddress false on every interface binds IPv4 and IPv6 on one port', async (t) => {
  await withLoop(async (loop) => {
    const server = await loop.createServer(() => new Echo(loop), null, 0, { reuseAddress: false });
    t.deepEqual(addresses(server), ['0.0.0.0', '::']);
    t.is(new Set(server.sockets!.map((s) => (s.getsockname() as [string, number])[1])).size, 1);
    server.close();
    await server.waitClosed();
  });
});

test.serial('createServer adopts a bound native Socket given as sock', async (t) => {
  await withLoop(async (loop) => {
    const listener = socket(AF_INET, SOCK_STREAM);
    listener.bind(['127.0.0.1', 0]);
    const [, port] = listener.getsockname() as [string, number];
    const server = await loop.createServer(() => new Echo(loop), null, null, { sock: listener });
    t.deepEqual(server.sockets![0]!.getsockname(), ['127.0.0.1', port]);
    const [got, sock] = await echoThrough('127.0.0.1', port, 'from a Socket');
    t.is(got, 'from a Socket');
    sock.destroy();
    server.close();
    await server.waitClosed();
  });
});
