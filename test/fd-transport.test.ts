/**
 * FdTransport: the stream transport over a socket fd served by the native
 * poll layer, over socketpairs and TCP on 127.0.0.1, and the runtime's
 * handed-off connections served with it.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import anyTest, { type ExecutionContext } from 'ava';
import {
  AF_INET, AF_UNIX, IPPROTO_TCP, logger, newEventLoop, Protocol, Runtime, RuntimeError, Socket, SOCK_STREAM, socket, socketpair, TCP_NODELAY,
  type EventLoop,
} from 'multiloop';
import { adoptConnectedFd, FdTransport, startFdTransport } from '../runtime/fd_transport.js';
import { openFds } from './helpers/fds.js';
import { loopFor, withLoop } from './helpers/loop.js';
import { Recorder } from './helpers/protocols.js';

// One loop runs per thread at a time.
const test = anyTest.serial;

/** Two connected TCP Sockets on 127.0.0.1: [accepted, connecting]. */
async function tcpPair(loop: EventLoop): Promise<[Socket, Socket]> {
  const listener = socket(AF_INET, SOCK_STREAM);
  try {
    listener.bind(['127.0.0.1', 0]);
    listener.listen();
    const client = socket(AF_INET, SOCK_STREAM);
    const accepting = loop.sockAccept(listener);
    await loop.sockConnect(client, listener.getsockname());
    const [server] = await accepting;
    return [server, client];
  } finally {
    listener.close();
  }
}

/** A transport with a Recorder over each end of `pair`. */
function transports(loop: EventLoop, pair: [Socket, Socket]): [FdTransport<Recorder>, FdTransport<Recorder>] {
  return [startFdTransport(loop, pair[0], () => new Recorder(loop)), startFdTransport(loop, pair[1], () => new Recorder(loop))];
}

test('a connection delivers connectionMade, dataReceived, eofReceived, then connectionLost(null) once', async (t) => {
  await withLoop(async (loop) => {
    const [a, b] = transports(loop, socketpair());
    a.write(Buffer.from('hello'));
    a.writeEof();
    const peer = b.getProtocol();
    await peer.seen('lost');
    t.deepEqual(peer.events, ['made', 'data', 'eof', 'lost']);
    t.is(peer.bytes.toString(), 'hello');
    t.is(peer.lostWith, null);
    await a.getProtocol().seen('lost');
    t.is(a.getProtocol().count('lost'), 1);
  });
});

test('each dataReceived gets a fresh Buffer the protocol may keep', async (t) => {
  await withLoop(async (loop) => {
    const [a, b] = transports(loop, socketpair());
    const peer = b.getProtocol();
    a.write(Buffer.from('first'));
    await peer.receivedBytes(5);
    a.write(Buffer.from('other'));
    await peer.receivedBytes(10);
    t.is(peer.received[0]!.toString(), 'first');
    t.is(peer.received.at(-1)!.toString().slice(-5), 'other');
    a.abort();
    await peer.seen('lost');
  });
});

test('a write the kernel takes at once is sent, not buffered', async (t) => {
  await withLoop(async (loop) => {
    const [a, b] = transports(loop, socketpair());
    a.write(Buffer.alloc(1000, 1));
    t.is(a.getWriteBufferSize(), 0);
    await b.getProtocol().receivedBytes(1000);
    a.close();
    await b.getProtocol().seen('lost');
    t.pass();
  });
});

test('eofReceived returning true keeps the transport half-open for writing', async (t) => {
  await withLoop(async (loop) => {
    const [a, b] = transports(loop, socketpair());
    const peer = b.getProtocol();
    peer.keepOpen = true;
    a.writeEof();
    await peer.seen('eof');
    t.false(b.isClosing());
    b.write(Buffer.from('after eof'));
    b.close();
    await a.getProtocol().seen('lost');
    t.is(a.getProtocol().bytes.toString(), 'after eof');
    await peer.seen('lost');
  });
});

test('eofReceived returning false closes the transport', async (t) => {
  await withLoop(async (loop) => {
    const [a, b] = transports(loop, socketpair());
    a.writeEof();
    await b.getProtocol().seen('lost');
    t.deepEqual(b.getProtocol().events, ['made', 'eof', 'lost']);
    a.abort();
  });
});

test('close() sends the buffered data, then closes', async (t) => {
  await withLoop(async (loop) => {
    const [a, b] = transports(loop, await tcpPair(loop));
    const data = Buffer.alloc(8 * 1024 * 1024);
    for (let i = 0; i < data.length; i += 4096) data[i] = i / 4096;
    a.write(data);
    t.true(a.getWriteBufferSize() > 0);
    a.close();
    t.true(a.isClosing());
    await b.getProtocol().seen('lost');
    t.true(b.getProtocol().bytes.equals(data));
    await a.getProtocol().seen('lost');
    t.is(a.getProtocol().lostWith, null);
  });
});

test('abort() closes at once and drops buffered data', async (t) => {
  await withLoop(async (loop) => {
    const [a, b] = transports(loop, await tcpPair(loop));
    b.pauseReading();
    a.write(Buffer.alloc(8 * 1024 * 1024, 1));
    t.true(a.getWriteBufferSize() > 0);
    a.abort();
    t.is(a.getWriteBufferSize(), 0);
    await a.getProtocol().seen('lost');
    t.is(a.getProtocol().lostWith, null);
    b.resumeReading();
    await b.getProtocol().seen('lost');
    t.true(b.getProtocol().bytes.length < 8 * 1024 * 1024);
  });
});

test('write buffer limits drive pauseWriting and resumeWriting once per crossing', async (t) => {
  await withLoop(async (loop) => {
    const [a, b] = transports(loop, await tcpPair(loop));
    const writer = a.getProtocol();
    a.setWriteBufferLimits(64 * 1024);
    t.deepEqual(a.getWriteBufferLimits(), [16 * 1024, 64 * 1024]);
    b.pauseReading();
    t.false(b.isReading());
    const chunk = Buffer.alloc(64 * 1024, 3);
    let sent = 0;
    while (!writer.events.includes('pause')) {
      a.write(chunk);
      sent += chunk.length;
    }
    t.true(a.getWriteBufferSize() > 64 * 1024);
    b.resumeReading();
    await writer.seen('resume');
    t.true(a.getWriteBufferSize() <= 16 * 1024);
    t.is((await b.getProtocol().receivedBytes(sent)).length, sent);
    t.deepEqual(writer.events.filter((e) => e === 'pause' || e === 'resume'), ['pause', 'resume']);
    a.close();
    await b.getProtocol().seen('lost');
  });
});

test('pauseReading stops dataReceived until resumeReading, losing no byte', async (t) => {
  await withLoop(async (loop) => {
    const [a, b] = transports(loop, socketpair());
    b.pauseReading();
    a.write(Buffer.from('abc'));
    a.close();
    await a.getProtocol().seen('lost');
    t.deepEqual(b.getProtocol().events, ['made']);
    b.resumeReading();
    t.true(b.isReading());
    await b.getProtocol().seen('lost');
    t.is(b.getProtocol().bytes.toString(), 'abc');
  });
});

test('writelines sends every buffer in order', async (t) => {
  await withLoop(async (loop) => {
    const [a, b] = transports(loop, socketpair());
    a.writelines([Buffer.from('a'), Buffer.from('bc'), Buffer.from('def')]);
    a.close();
    await b.getProtocol().seen('lost');
    t.is(b.getProtocol().bytes.toString(), 'abcdef');
  });
});

test('buffered writes reach the peer whole and in order', async (t) => {
  await withLoop(async (loop) => {
    const [a, b] = transports(loop, await tcpPair(loop));
    b.pauseReading();
    const chunks: Buffer[] = [];
    for (let i = 0; a.getWriteBufferSize() === 0 || i < 2000; i++) {
      const chunk = Buffer.alloc(1 + (i % 3000), i % 251);
      chunks.push(chunk);
      a.write(chunk);
    }
    const expected = Buffer.concat(chunks);
    a.close();
    b.resumeReading();
    await b.getProtocol().seen('lost');
    t.true(b.getProtocol().bytes.equals(expected));
  });
});

test('writeEof sends EOF after the buffered data; write after it throws RuntimeError', async (t) => {
  await withLoop(async (loop) => {
    const [a, b] = transports(loop, await tcpPair(loop));
    t.true(a.canWriteEof());
    b.pauseReading();
    const data = Buffer.alloc(4 * 1024 * 1024, 9);
    a.write(data);
    a.writeEof();
    t.throws(() => a.write(Buffer.from('x')), { instanceOf: RuntimeError });
    b.resumeReading();
    await b.getProtocol().seen('eof');
    t.is(b.getProtocol().bytes.length, data.length);
    await a.getProtocol().seen('lost');
  });
});

test('getExtraInfo gives peername, sockname and socket', async (t) => {
  await withLoop(async (loop) => {
    const [server, client] = await tcpPair(loop);
    const clientName = client.getsockname();
    const serverName = server.getsockname();
    const [a, b] = transports(loop, [server, client]);
    t.deepEqual(a.getExtraInfo('peername'), clientName);
    t.deepEqual(a.getExtraInfo('sockname'), serverName);
    t.deepEqual(b.getExtraInfo('peername'), serverName);
    t.is(a.getExtraInfo('socket'), server);
    t.is(a.getExtraInfo('peercert', 'none'), 'none');
    a.abort();
    b.abort();
  });
});

test('TCP transports get TCP_NODELAY, as asyncio\'s do', async (t) => {
  await withLoop(async (loop) => {
    const [server, client] = await tcpPair(loop);
    t.is(server.getsockopt(IPPROTO_TCP, TCP_NODELAY), 0);
    const [a, b] = transports(loop, [server, client]);
    t.not(server.getsockopt(IPPROTO_TCP, TCP_NODELAY), 0);
    a.abort();
    b.abort();
  });
});

test('a write after close() is dropped with a debug-mode warning, never thrown', async (t) => {
  await withLoop(async (loop) => {
    loop.setDebug(true);
    const [a, b] = transports(loop, socketpair());
    a.close();
    const warnings: string[] = [];
    const warn = logger.warn;
    logger.warn = (...args) => void warnings.push(args.join(' '));
    try {
      t.notThrows(() => a.write(Buffer.from('late')));
    } finally {
      logger.warn = warn;
    }
    t.regex(String(warnings[0]), /after close/);
    await b.getProtocol().seen('lost');
    t.is(b.getProtocol().bytes.length, 0);
  });
});

test('a write of a string throws a TypeError naming data', async (t) => {
  await withLoop(async (loop) => {
    const [a, b] = transports(loop, socketpair());
    t.throws(() => a.write('text' as never), { instanceOf: TypeError, message: /data/ });
    t.throws(() => a.writelines(['text'] as never), { instanceOf: TypeError, message: /list/ });
    a.abort();
    b.abort();
  });
});

test('a peer reset delivers connectionLost(ECONNRESET) once', async (t) => {
  await withLoop(async (loop) => {
    const listener = socket(AF_INET, SOCK_STREAM);
    listener.bind(['127.0.0.1', 0]);
    listener.listen();
    const accepting = loop.sockAccept(listener);
    const client = net.connect((listener.getsockname() as [string, number])[1], '127.0.0.1');
    const connected = new Promise((resolve) => client.once('connect', resolve));
    const [accepted] = await accepting;
    listener.close();
    const transport = startFdTransport(loop, accepted, () => new Recorder(loop));
    await connected;
    client.resetAndDestroy();
    const protocol = transport.getProtocol();
    await protocol.seen('lost');
    t.is((protocol.lostWith as NodeJS.ErrnoException | null)?.code, 'ECONNRESET');
    t.is(protocol.count('lost'), 1);
  });
});

test('a write to a closed peer delivers connectionLost(err) once, never throws', async (t) => {
  await withLoop(async (loop) => {
    const [mine, theirs] = socketpair();
    const transport = startFdTransport(loop, mine, () => new Recorder(loop));
    theirs.close();
    t.notThrows(() => transport.write(Buffer.from('nobody')));
    const protocol = transport.getProtocol();
    await protocol.seen('lost');
    t.regex((protocol.lostWith as NodeJS.ErrnoException).code ?? '', /EPIPE|ECONNRESET/);
    t.is(protocol.count('lost'), 1);
  });
});

test('an exception in dataReceived goes to the exception handler and aborts the transport', async (t) => {
  await withLoop(async (loop) => {
    const contexts: Record<string, unknown>[] = [];
    loop.setExceptionHandler((_loop, context) => void contexts.push(context));
    const [a, b] = transports(loop, socketpair());
    b.getProtocol().onData = () => {
      throw new Error('boom');
    };
    a.write(Buffer.from('x'));
    await b.getProtocol().seen('lost');
    t.is((contexts[0]!.exception as Error).message, 'boom');
    t.is(contexts[0]!.transport, b);
    t.is(b.getProtocol().count('lost'), 1);
    await a.getProtocol().seen('lost');
  });
});

test('no protocol callback runs while the loop is stopped; they run in order at the next run', async (t) => {
  const loop = newEventLoop();
  try {
    const [mine, theirs] = socketpair();
    const transport = await loop.runUntilComplete(async () => startFdTransport(loop, mine, () => new Recorder(loop)));
    const protocol = transport.getProtocol();
    await loop.runUntilComplete(protocol.seen('made'));
    theirs.send(Buffer.from('while stopped'));
    theirs.close();
    // Give Node's poller every chance to report the fd while the loop is stopped.
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    t.deepEqual(protocol.events, ['made']);
    await loop.runUntilComplete(protocol.seen('lost'));
    t.deepEqual(protocol.events, ['made', 'data', 'eof', 'lost']);
    t.is(protocol.bytes.toString(), 'while stopped');
  } finally {
    loop.close();
  }
});

test('loop.close() closes a transport left open, and its fd', async (t) => {
  const loop = loopFor(t);
  const [mine, theirs] = socketpair();
  const transport = await loop.runUntilComplete(async () => startFdTransport(loop, mine, () => new Recorder(loop)));
  loop.close();
  t.true(transport.isClosing());
  t.is(mine.fileno(), -1);
  t.is(theirs.recv(16).length, 0);
  theirs.close();
});

test('a failing protocol factory closes the socket and throws', async (t) => {
  await withLoop(async (loop) => {
    const [mine, theirs] = socketpair();
    t.throws(() => startFdTransport(loop, mine, () => { throw new Error('no protocol'); }), { message: 'no protocol' });
    t.is(mine.fileno(), -1);
    t.is(theirs.recv(16).length, 0);
    theirs.close();
  });
});

test('adoptConnectedFd takes a socket fd as non-blocking, of the family given', (t) => {
  const [a, b] = socketpair();
  const adopted = adoptConnectedFd(a.detach(), AF_UNIX);
  t.is(adopted.family, AF_UNIX);
  t.false(adopted.getblocking());
  adopted.close();
  b.close();
});

test('a transport over an adopted fd that is no socket closes it and throws', async (t) => {
  await withLoop(async (loop) => {
    const notSocket = fs.openSync('/dev/null', 'r');
    const before = openFds();
    t.throws(() => startFdTransport(loop, adoptConnectedFd(notSocket, AF_INET), () => new Protocol()), { message: /ENOTSOCK/ });
    t.is(openFds(), before - 1);
  });
});

test('a thousand connections opened and closed leak no fd', async (t) => {
  await withLoop(async (loop) => {
    const before = openFds();
    for (let i = 0; i < 1000; i++) {
      const [a, b] = transports(loop, socketpair());
      a.write(Buffer.from('x'));
      a.close();
      await b.getProtocol().seen('lost');
      await a.getProtocol().seen('lost');
    }
    t.is(openFds(), before);
  });
});

/** A runtime whose two worker loops serve 'echo' and 'kind' (which says what transport serves the connection). */
async function startRuntime(t: ExecutionContext): Promise<Runtime> {
  const runtime = await Runtime.start({ workers: 2, module: new URL('./fd-transport.worker.js', import.meta.url) });
  t.teardown(() => runtime.close());
  return runtime;
}

function request(port: number, message: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let text = '';
    sock.on('data', (chunk) => (text += chunk));
    sock.once('error', reject);
    sock.once('close', () => resolve(text));
    sock.end(message);
  });
}

test('the runtime serves handed-off connections of a protocol server with an FdTransport', async (t) => {
  const runtime = await startRuntime(t);
  const server = await runtime.createServer('kind', '127.0.0.1', 0);
  const [, port] = server.sockets![0]!.getsockname() as [string, number];
  t.is(await request(port, ''), 'FdTransport');
  t.is(await request(port, ''), 'FdTransport');
});

test('the runtime serves handed-off connections of a streams server with an FdTransport', async (t) => {
  const runtime = await startRuntime(t);
  const server = await runtime.startServer('streamsKind', '127.0.0.1', 0);
  const [, port] = server.sockets![0]!.getsockname() as [string, number];
  t.is(await request(port, 'x\n'), 'FdTransport x\n');
});

test('a runtime server\'s close waits for the connections open on FdTransports, and a shutdown closes them', async (t) => {
  const runtime = await startRuntime(t);
  const server = await runtime.createServer('echo', '127.0.0.1', 0);
  const [, port] = server.sockets![0]!.getsockname() as [string, number];
  const sock = net.connect(port, '127.0.0.1');
  const echoed = await new Promise<string>((resolve) => {
    sock.once('data', (d) => resolve(String(d)));
    sock.write('ping');
  });
  t.is(echoed, 'ping');
  const closedSock = new Promise((resolve) => sock.once('close', resolve));
  t.is(await runtime.shutdown({ timeout: 0.05 }), 1);
  await closedSock;
});

test('the runtime serves connections of an adopted UNIX listening socket with an FdTransport', async (t) => {
  const runtime = await startRuntime(t);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fd-transport-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const where = path.join(dir, 'sock');
  const listener = socket(AF_UNIX, SOCK_STREAM);
  listener.bind(where);
  listener.listen();
  // The runtime owns the listening fd from now on, as it would one from systemd.
  await runtime.createServer('kind', null, null, { sock: listener.detach() });
  const reply = await new Promise<string>((resolve, reject) => {
    const sock = net.connect(where);
    let text = '';
    sock.on('data', (chunk) => (text += chunk));
    sock.once('error', reject);
    sock.once('close', () => resolve(text));
  });
  t.is(reply, 'FdTransport');
});
