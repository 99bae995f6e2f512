import net from 'node:net';
import test from 'ava';
import {
  AF_INET, logger, newEventLoop, RuntimeError, SOCK_STREAM, socket,
  type EventLoop, type Future, type Server,
} from 'multiloop';
import { EchoProtocol } from '../examples/echo_protocol.js';
import { openFds } from './helpers/fds.js';
import { loopFor, withLoop } from './helpers/loop.js';
import { Recorder } from './helpers/protocols.js';
import { closeServer, portOf } from './helpers/servers.js';

/** A server whose connections' protocols are Recorders; `accepted` settles with the first. */
async function recordingServer(loop: EventLoop): Promise<{ server: Server; port: number; accepted: Future<Recorder> }> {
  const accepted = loop.createFuture<Recorder>();
  const server = await loop.createServer(() => {
    const p = new Recorder(loop);
    if (!accepted.done()) accepted.setResult(p);
    return p;
  }, '127.0.0.1', 0);
  return { server, port: portOf(server), accepted };
}

test.serial('a connection delivers connectionMade, dataReceived, eofReceived, then connectionLost(null) once', async (t) => {
  await withLoop(async (loop) => {
    const server = await loop.createServer(() => new EchoProtocol(), '127.0.0.1', 0);
    const [transport, client] = await loop.createConnection(() => new Recorder(loop), '127.0.0.1', portOf(server));
    t.deepEqual(client.events, ['made']);
    transport.write(Buffer.from('hello'));
    transport.writeEof();
    await client.seen('lost');
    t.is(client.lostWith, null);
    t.is(client.bytes.toString(), 'hello');
    t.deepEqual(client.events.slice(-2), ['eof', 'lost']);
    t.is(client.events.filter((e) => e === 'lost').length, 1);
    await closeServer(server);
  });
});

test.serial('eofReceived returning true keeps the transport half-open for writing', async (t) => {
  await withLoop(async (loop) => {
    const { server, port, accepted } = await recordingServer(loop);
    const [transport, client] = await loop.createConnection(() => new Recorder(loop), '127.0.0.1', port);
    const peer = await accepted;
    peer.keepOpen = true;
    transport.writeEof();
    await peer.seen('eof');
    t.false(peer.transport.isClosing());
    peer.transport.write(Buffer.from('after eof'));
    peer.transport.close();
    await client.seen('lost');
    t.is(client.bytes.toString(), 'after eof');
    await closeServer(server);
  });
});

test.serial('eofReceived returning false closes the transport', async (t) => {
  await withLoop(async (loop) => {
    const { server, port, accepted } = await recordingServer(loop);
    const [transport] = await loop.createConnection(() => new Recorder(loop), '127.0.0.1', port);
    const peer = await accepted;
    transport.writeEof();
    await peer.seen('lost');
    t.deepEqual(peer.events, ['made', 'eof', 'lost']);
    await closeServer(server);
  });
});

test.serial('close() flushes buffered data before closing', async (t) => {
  await withLoop(async (loop) => {
    const { server, port, accepted } = await recordingServer(loop);
    const [transport, client] = await loop.createConnection(() => new Recorder(loop), '127.0.0.1', port);
    const data = Buffer.alloc(4 * 1024 * 1024, 7);
    transport.write(data);
    t.true(transport.getWriteBufferSize() > 0);
    transport.close();
    t.true(transport.isClosing());
    const peer = await accepted;
    await peer.seen('lost');
    t.true(peer.bytes.equals(data));
    await client.seen('lost');
    t.is(client.lostWith, null);
    await closeServer(server);
  });
});

test.serial('abort() closes at once and drops buffered data', async (t) => {
  await withLoop(async (loop) => {
    const { server, port, accepted } = await recordingServer(loop);
    const [transport, client] = await loop.createConnection(() => new Recorder(loop), '127.0.0.1', port);
    const peer = await accepted;
    peer.transport.pauseReading();
    transport.write(Buffer.alloc(8 * 1024 * 1024, 1));
    transport.abort();
    await client.seen('lost');
    t.is(client.lostWith, null);
    peer.transport.resumeReading();
    await peer.seen('lost');
    t.true(peer.bytes.length < 8 * 1024 * 1024);
    await closeServer(server);
  });
});

test.serial('write buffer limits drive pauseWriting and resumeWriting', async (t) => {
  await withLoop(async (loop) => {
    const { server, port, accepted } = await recordingServer(loop);
    const [transport, client] = await loop.createConnection(() => new Recorder(loop), '127.0.0.1', port);
    const peer = await accepted;
    transport.setWriteBufferLimits(64 * 1024);
    t.deepEqual(transport.getWriteBufferLimits(), [16 * 1024, 64 * 1024]);
    peer.transport.pauseReading();
    t.false(peer.transport.isReading());
    const chunk = Buffer.alloc(64 * 1024, 3);
    let sent = 0;
    while (!client.events.includes('pause')) {
      transport.write(chunk);
      sent += chunk.length;
    }
    t.true(transport.getWriteBufferSize() > 64 * 1024);
    peer.transport.resumeReading();
    await client.seen('resume');
    t.true(transport.getWriteBufferSize() <= 16 * 1024);
    t.is((await peer.receivedBytes(sent)).length, sent);
    t.deepEqual(client.events.filter((e) => e === 'pause' || e === 'resume'), ['pause', 'resume']);
    transport.close();
    await peer.seen('lost');
    await closeServer(server);
  });
});

test.serial('pauseReading stops dataReceived until resumeReading, losing no byte', async (t) => {
  await withLoop(async (loop) => {
    const { server, port, accepted } = await recordingServer(loop);
    const [transport, client] = await loop.createConnection(() => new Recorder(loop), '127.0.0.1', port);
    const peer = await accepted;
    peer.transport.pauseReading();
    transport.write(Buffer.from('abc'));
    transport.close();
    // The client's close completes (data and EOF sent) while the peer reads nothing.
    await client.seen('lost');
    t.deepEqual(peer.events, ['made']);
    peer.transport.resumeReading();
    await peer.seen('lost');
    t.is(peer.bytes.toString(), 'abc');
    await closeServer(server);
  });
});

test.serial('setWriteBufferLimits rejects high < low with a RangeError', async (t) => {
  await withLoop(async (loop) => {
    const server = await loop.createServer(() => new EchoProtocol(), '127.0.0.1', 0);
    const [transport] = await loop.createConnection(() => new Recorder(loop), '127.0.0.1', portOf(server));
    t.throws(() => transport.setWriteBufferLimits(10, 20), { instanceOf: RangeError, message: /high/ });
    transport.abort();
    await closeServer(server);
  });
});

test.serial('writelines sends every buffer in order', async (t) => {
  await withLoop(async (loop) => {
    const { server, port, accepted } = await recordingServer(loop);
    const [transport] = await loop.createConnection(() => new Recorder(loop), '127.0.0.1', port);
    transport.writelines([Buffer.from('a'), Buffer.from('bc'), Buffer.from('def')]);
    transport.close();
    const peer = await accepted;
    await peer.seen('lost');
    t.is(peer.bytes.toString(), 'abcdef');
    await closeServer(server);
  });
});

test.serial('getExtraInfo gives peername, sockname and socket', async (t) => {
  await withLoop(async (loop) => {
    const { server, port, accepted } = await recordingServer(loop);
    const [transport] = await loop.createConnection(() => new Recorder(loop), '127.0.0.1', port);
    const peer = await accepted;
    t.deepEqual(transport.getExtraInfo('peername'), ['127.0.0.1', port]);
    const sockname = transport.getExtraInfo('sockname') as [string, number];
    t.deepEqual(peer.transport.getExtraInfo('peername'), sockname);
    t.true(transport.getExtraInfo('socket') instanceof net.Socket);
    t.is(transport.getExtraInfo('peercert', 'none'), 'none');
    transport.abort();
    await closeServer(server);
  });
});

test.serial('a write after close() is dropped with a debug-mode warning, never thrown', async (t) => {
  await withLoop(async (loop) => {
    loop.setDebug(true);
    const server = await loop.createServer(() => new EchoProtocol(), '127.0.0.1', 0);
    const [transport, client] = await loop.createConnection(() => new Recorder(loop), '127.0.0.1', portOf(server));
    transport.close();
    const warnings: unknown[] = [];
    const warn = logger.warn;
    logger.warn = (...args) => warnings.push(args.join(' '));
    try {
      t.notThrows(() => transport.write(Buffer.from('late')));
    } finally {
      logger.warn = warn;
    }
    t.regex(String(warnings[0]), /after close/);
    await client.seen('lost');
    await closeServer(server);
  });
});

test.serial('write after writeEof() throws RuntimeError', async (t) => {
  await withLoop(async (loop) => {
    const server = await loop.createServer(() => new EchoProtocol(), '127.0.0.1', 0);
    const [transport] = await loop.createConnection(() => new Recorder(loop), '127.0.0.1', portOf(server));
    t.true(transport.canWriteEof());
    transport.writeEof();
    t.throws(() => transport.write(Buffer.from('x')), { instanceOf: RuntimeError });
    transport.abort();
    await closeServer(server);
  });
});

test.serial('a refused connection rejects with ECONNREFUSED and leaks no fd', async (t) => {
  await withLoop(async (loop) => {
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const before = openFds();
    const err = await t.throwsAsync(loop.createConnection(() => new Recorder(loop), '127.0.0.1', port));
    t.is((err as NodeJS.ErrnoException).code, 'ECONNREFUSED');
    t.is(openFds(), before);
  });
});

test.serial('a peer reset delivers connectionLost(err) once', async (t) => {
  await withLoop(async (loop) => {
    const { server, port, accepted } = await recordingServer(loop);
    const [transport] = await loop.createConnection(() => new Recorder(loop), '127.0.0.1', port);
    const peer = await accepted;
    (transport.getExtraInfo('socket') as net.Socket).resetAndDestroy();
    await peer.seen('lost');
    t.is((peer.lostWith as NodeJS.ErrnoException | null)?.code, 'ECONNRESET');
    t.is(peer.events.filter((e) => e === 'lost').length, 1);
    await closeServer(server);
  });
});

test.serial('an exception in dataReceived goes to the exception handler and aborts the transport', async (t) => {
  await withLoop(async (loop) => {
    const contexts: Record<string, unknown>[] = [];
    loop.setExceptionHandler((_loop, context) => contexts.push(context));
    const { server, port, accepted } = await recordingServer(loop);
    const [transport] = await loop.createConnection(() => new Recorder(loop), '127.0.0.1', port);
    const peer = await accepted;
    peer.onData = () => {
      throw new Error('boom');
    };
    transport.write(Buffer.from('x'));
    await peer.seen('lost');
    t.is((contexts[0]!.exception as Error).message, 'boom');
    t.is(contexts[0]!.transport, peer.transport);
    await closeServer(server);
  });
});

test.serial('createConnection adopts an already connected net.Socket given as sock', async (t) => {
  await withLoop(async (loop) => {
    const server = await loop.createServer(() => new EchoProtocol(), '127.0.0.1', 0);
    const sock = net.connect(portOf(server), '127.0.0.1');
    await new Promise((resolve) => sock.once('connect', resolve));
    const [transport, client] = await loop.createConnection(() => new Recorder(loop), null, null, { sock });
    transport.write(Buffer.from('adopted'));
    t.is((await client.receivedBytes(7)).toString(), 'adopted');
    transport.close();
    await client.seen('lost');
    t.true(sock.destroyed);
    await closeServer(server);
  });
});

test.serial('createConnection resolves a host name and binds localAddr', async (t) => {
  await withLoop(async (loop) => {
    const { server, port, accepted } = await recordingServer(loop);
    const [transport] = await loop.createConnection(() => new Recorder(loop), 'localhost', port, {
      family: 2,
      localAddr: ['127.0.0.1', 0],
    });
    const peer = await accepted;
    t.is((peer.transport.getExtraInfo('peername') as [string, number])[0], '127.0.0.1');
    transport.abort();
    await closeServer(server);
  });
});

test.serial('createConnection rejects bad arguments with TypeError or RangeError naming them', async (t) => {
  await withLoop(async (loop) => {
    const factory = (): Recorder => new Recorder(loop);
    t.throws(() => loop.createConnection(42 as never, '127.0.0.1', 1), { instanceOf: TypeError, message: /protocolFactory/ });
    t.throws(() => loop.createConnection(factory, 1 as never, 1), { instanceOf: TypeError, message: /host/ });
    t.throws(() => loop.createConnection(factory, '127.0.0.1', 70000), { instanceOf: RangeError, message: /port/ });
    t.throws(() => loop.createConnection(factory, '127.0.0.1', {} as never), { instanceOf: TypeError, message: /port/ });
    t.throws(() => loop.createConnection(factory, '127.0.0.1', 1, { family: 99 }), { instanceOf: RangeError, message: /family/ });
    t.throws(() => loop.createConnection(factory, '127.0.0.1', 1, { serverHostname: 'x' }), { instanceOf: TypeError, message: /serverHostname/ });
    t.throws(() => loop.createConnection(factory, '127.0.0.1', 1, { sock: 'x' as never }), { instanceOf: TypeError, message: /sock/ });
    t.throws(() => loop.createConnection(factory, null, null, { sock: {} as never }), { instanceOf: TypeError, message: /sock/ });
  });
});

test.serial('a write of a string throws a TypeError naming data', async (t) => {
  await withLoop(async (loop) => {
    const server = await loop.createServer(() => new EchoProtocol(), '127.0.0.1', 0);
    const [transport] = await loop.createConnection(() => new Recorder(loop), '127.0.0.1', portOf(server));
    t.throws(() => transport.write('text' as never), { instanceOf: TypeError, message: /data/ });
    transport.abort();
    await closeServer(server);
  });
});

test.serial('loop.close() closes transports and servers left open', async (t) => {
  const loop = loopFor(t);
  const server = await loop.runUntilComplete(() => loop.createServer(() => new EchoProtocol(), '127.0.0.1', 0));
  const [transport] = await loop.runUntilComplete(() =>
    loop.createConnection(() => new Recorder(loop), '127.0.0.1', portOf(server)),
  );
  const sock = transport.getExtraInfo('socket') as net.Socket;
  loop.close();
  t.true(sock.destroyed);
  t.is(server.sockets, null);
  await server.waitClosed();
});

test.serial('createConnection adopts a connected native Socket given as sock', async (t) => {
  await withLoop(async (loop) => {
    const { server, port, accepted } = await recordingServer(loop);
    const raw = socket(AF_INET, SOCK_STREAM);
    await loop.sockConnect(raw, ['127.0.0.1', port]);
    const [transport, client] = await loop.createConnection(() => new Recorder(loop), null, null, { sock: raw });
    t.is(raw.fileno(), -1);
    t.deepEqual(transport.getExtraInfo('peername'), ['127.0.0.1', port]);
    transport.write(Buffer.from('native'));
    transport.close();
    const peer = await accepted;
    await peer.seen('lost');
    t.is(peer.bytes.toString(), 'native');
    await client.seen('lost');
    await closeServer(server);
  });
});

test.serial('no protocol callback runs while the loop is stopped; they run in order at the next run', async (t) => {
  const loop = newEventLoop();
  try {
    const { server, port, accepted } = await loop.runUntilComplete(() => recordingServer(loop));
    const [transport] = await loop.runUntilComplete(() => loop.createConnection(() => new Recorder(loop), '127.0.0.1', port));
    const peer = await loop.runUntilComplete(accepted);
    const seen = peer.events.length;
    transport.write(Buffer.from('while stopped'));
    transport.close();
    // Let Node deliver the bytes, the EOF and the close to the stopped loop.
    const sock = transport.getExtraInfo('socket') as net.Socket;
    await new Promise((resolve) => sock.once('close', resolve));
    await new Promise((resolve) => setImmediate(resolve));
    t.is(peer.events.length, seen);
    await loop.runUntilComplete(peer.seen('lost'));
    t.deepEqual(peer.events.slice(seen), ['data', 'eof', 'lost']);
    t.is(peer.bytes.toString(), 'while stopped');
    await loop.runUntilComplete(() => closeServer(server));
  } finally {
    loop.close();
  }
});

test.serial('a loop in a worker thread serves and connects TCP', async (t) => {
  const { Worker } = await import('node:worker_threads');
  const runtime = new URL('../runtime/index.js', import.meta.url).href;
  const source = `
    const { parentPort } = require('node:worker_threads');
    import(${JSON.stringify(runtime)}).then(async ({ newEventLoop, Protocol }) => {
      class Echo extends Protocol {
        connectionMade(t) { this.t = t; }
        dataReceived(d) { this.t.write(d); }
      }
      const loop = newEventLoop();
      const echoed = await loop.runUntilComplete(async () => {
        const server = await loop.createServer(() => new Echo(), '127.0.0.1', 0);
        const port = server.sockets[0].getsockname()[1];
        const got = loop.createFuture();
        class Client extends Protocol {
          dataReceived(d) { got.setResult(d.toString()); }
        }
        const [transport] = await loop.createConnection(() => new Client(), '127.0.0.1', port);
        transport.write(Buffer.from('from a worker'));
        const text = await got;
        transport.close();
        server.close();
        await server.waitClosed();
        return text;
      });
      loop.close();
      parentPort.postMessage(echoed);
    });
  `;
  const worker = new Worker(source, { eval: true });
  const [message] = await Promise.all([
    new Promise((resolve, reject) => worker.once('message', resolve).once('error', reject)),
    new Promise((resolve) => worker.once('exit', resolve)),
  ]);
  t.is(message, 'from a worker');
});
