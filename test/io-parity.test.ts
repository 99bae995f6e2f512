/**
 * Single-loop I/O behaviours found to differ from asyncio (checked against CPython), one
 * test per behaviour: write flow control and reading pauses of the stream
 * transports, delivery of what arrived before a stream closed, subprocess
 * output of a child that exits at once, getaddrinfo of a numeric host.
 */
import net from 'node:net';
import test, { type ExecutionContext } from 'ava';
import type { Readable } from 'node:stream';
import {
  AF_INET, AF_INET6, AI_V4MAPPED, Protocol, SOCK_STREAM, SubprocessProtocol, socketpair, type EventLoop, type Transport,
} from 'multiloop';
import { loopFor, runOnce, withLoop } from './helpers/loop.js';
import { Recorder } from './helpers/protocols.js';

/** A plain Node server whose connections never read: a client's writes pile up in its transport. */
async function stalledPeer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    sock.pause();
    sockets.add(sock);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => {
      for (const sock of sockets) sock.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** Writes `chunk` until the protocol is told to pause, at most `cap` times; returns how many writes it took. */
function writeUntilPaused(transport: Transport, client: Recorder, chunk: Buffer, cap: number): number {
  let writes = 0;
  while (!client.events.includes('pause') && writes < cap) {
    transport.write(chunk);
    writes++;
  }
  return writes;
}

/** Runs `fn` on a new loop with a client transport connected to a peer that never reads. */
async function withStalledClient(fn: (loop: EventLoop, transport: Transport, client: Recorder) => Promise<void>): Promise<void> {
  const peer = await stalledPeer();
  try {
    await withLoop(async (loop: EventLoop) => {
      const [transport, client] = await loop.createConnection(() => new Recorder(loop), '127.0.0.1', peer.port);
      await fn(loop, transport, client);
    });
  } finally {
    await peer.close();
  }
}

test.serial('pauseWriting runs inside write(), so a producer looping until paused stops inside a loop callback', async (t) => {
  await withStalledClient(async (loop, transport, client) => {
    const cap = 10_000;
    const writes = loop.createFuture<number>();
    // A callback with another one queued behind it: what was queued through the loop would wait for both.
    loop.callSoon(() => writes.setResult(writeUntilPaused(transport, client, Buffer.alloc(4096), cap)));
    loop.callSoon(() => {});
    t.true((await writes) < cap);
    t.deepEqual(client.events, ['made', 'pause']);
    transport.abort();
    await client.seen('lost');
  });
});

test.serial('abort() empties the write buffer of a client transport', async (t) => {
  await withStalledClient(async (_loop, transport, client) => {
    writeUntilPaused(transport, client, Buffer.alloc(64 * 1024), 10_000);
    t.true(transport.getWriteBufferSize() > 0);
    transport.abort();
    t.is(transport.getWriteBufferSize(), 0);
    await client.seen('lost');
    t.is(transport.getWriteBufferSize(), 0);
  });
});

test.serial('abort() of a paused client transport calls connectionLost without resumeWriting', async (t) => {
  await withStalledClient(async (_loop, transport, client) => {
    writeUntilPaused(transport, client, Buffer.alloc(64 * 1024), 10_000);
    transport.abort();
    await client.seen('lost');
    t.deepEqual(client.events, ['made', 'pause', 'lost']);
    t.is(client.lostWith, null);
  });
});

/**
 * A loop (stopped) with a client transport connected to a plain Node server:
 * `accepted` settles with the server's end. Both are closed after the test.
 */
async function connectedPair(t: ExecutionContext): Promise<{ loop: EventLoop; transport: Transport; client: Recorder; accepted: Promise<net.Socket> }> {
  const loop = loopFor(t);
  let accept!: (sock: net.Socket) => void;
  const accepted = new Promise<net.Socket>((resolve) => (accept = resolve));
  const server = net.createServer(accept);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const [transport, client] = await loop.runUntilComplete(
    loop.createConnection(() => new Recorder(loop), '127.0.0.1', (server.address() as net.AddressInfo).port),
  );
  return { loop, transport, client, accepted };
}

test.serial('a resumeWriting still queued when the buffer fills again is withdrawn: the protocol stays paused', async (t) => {
  const { loop, transport, client, accepted } = await connectedPair(t);
  const peer = await accepted;
  t.teardown(() => void peer.destroy());
  peer.pause();
  const raw = transport.getExtraInfo('socket') as net.Socket;
  // The loop stays stopped from here on: a resumeWriting waits in its queue.
  transport.setWriteBufferLimits(1024, 0);
  writeUntilPaused(transport, client, Buffer.alloc(64 * 1024), 10_000);
  const drained = new Promise((resolve) => raw.once('drain', resolve));
  peer.resume();
  await drained;
  peer.pause();
  transport.write(Buffer.alloc(16 * 1024 * 1024));
  t.true(transport.getWriteBufferSize() > 1024);
  await runOnce(loop);
  t.deepEqual(client.events, ['made', 'pause']);
  transport.abort();
  await loop.runUntilComplete(client.seen('lost'));
});

test.serial('no dataReceived after pauseReading, even for chunks Node emitted before it; they follow resumeReading in order', async (t) => {
  const { loop, transport, client, accepted } = await connectedPair(t);
  client.onData = () => transport.pauseReading();
  const peer = await accepted;
  t.teardown(() => void peer.destroy());
  // While the loop is stopped, two chunks arrive as two 'data' events, both queued for its next run.
  const raw = transport.getExtraInfo('socket') as net.Socket;
  const arrived = (): Promise<void> => new Promise((resolve) => raw.once('data', () => resolve()));
  peer.write('one');
  await arrived();
  peer.write('two');
  await arrived();
  await runOnce(loop);
  t.deepEqual(client.received.map(String), ['one']);
  t.false(transport.isReading());
  client.onData = null;
  transport.resumeReading();
  t.deepEqual(client.received.map(String), ['one'], 'resumeReading() calls no protocol method itself');
  await runOnce(loop);
  t.deepEqual(client.received.map(String), ['one', 'two']);
  transport.abort();
  await loop.runUntilComplete(client.seen('lost'));
});

/** A read pipe over one end of a socketpair, with the loop stopped; `peer` is the other end. */
async function readPipe(loop: EventLoop) {
  const [ours, peer] = socketpair();
  const [transport, reader] = await loop.runUntilComplete(loop.connectReadPipe(() => new Recorder(loop), ours.detach()));
  const stream = transport.getExtraInfo('pipe') as Readable;
  return { transport, reader, peer, stream };
}

test.serial('data and EOF that arrived before Node closed a read pipe reach the protocol before connectionLost', async (t) => {
  const loop = loopFor(t);
  const { reader, peer, stream } = await readPipe(loop);
  // All of it happens while the loop is stopped: each event waits, in order, for the next run.
  const closed = new Promise((resolve) => stream.once('close', resolve));
  peer.send(Buffer.from('last words'));
  peer.close();
  await closed;
  await runOnce(loop);
  t.deepEqual(reader.events, ['made', 'data', 'eof', 'lost']);
  t.is(reader.bytes.toString(), 'last words');
});

test.serial('chunks held by pauseReading when Node closes the stream are delivered before connectionLost', async (t) => {
  const loop = loopFor(t);
  const { transport, reader, peer, stream } = await readPipe(loop);
  reader.onData = () => transport.pauseReading();
  const arrived = (): Promise<void> => new Promise((resolve) => stream.once('data', () => resolve()));
  peer.send(Buffer.from('one'));
  await arrived();
  peer.send(Buffer.from('two'));
  await arrived();
  const closed = new Promise((resolve) => stream.once('close', resolve));
  peer.close();
  await closed;
  await runOnce(loop);
  t.deepEqual(reader.received.map(String), ['one', 'two']);
  t.deepEqual(reader.events, ['made', 'data', 'data', 'eof', 'lost']);
});

/** Collects a child's stdout; `done` settles at connectionLost. */
class Output extends SubprocessProtocol {
  stdout = '';
  readonly done;
  constructor(loop: EventLoop) {
    super();
    this.done = loop.createFuture<void>();
  }
  override pipeDataReceived(fd: number, data: Buffer): void {
    if (fd === 1) this.stdout += data.toString();
  }
  override connectionLost(): void {
    this.done.setResult(undefined);
  }
}

test.serial('the output of a child that exits at once reaches pipeDataReceived while the loop is busy', async (t) => {
  await withLoop(async (loop: EventLoop) => {
    // A loop with callbacks always ready: each step of setting up the pipes takes an iteration.
    let busy = true;
    const spin = (): void => {
      if (busy) loop.callSoon(spin);
    };
    spin();
    try {
      for (let i = 0; i < 5; i++) {
        const [transport, output] = await loop.subprocessExec(() => new Output(loop), 'sh', '-c', 'echo hello');
        await output.done;
        transport.close();
        t.is(output.stdout, 'hello\n');
      }
    } finally {
      busy = false;
    }
  });
});

test.serial('getaddrinfo of a numeric host of another family than asked rejects with EAI_ADDRFAMILY, as the C library does', async (t) => {
  const loop = loopFor(t);
  await t.throwsAsync(loop.runUntilComplete(loop.getaddrinfo('127.0.0.1', 80, { family: AF_INET6 })), { code: 'EAI_ADDRFAMILY' });
  await t.throwsAsync(loop.runUntilComplete(loop.getaddrinfo('::1', 80, { family: AF_INET })), { code: 'EAI_ADDRFAMILY' });
});

test.serial('getaddrinfo of an IPv4 literal with family AF_INET6 and AI_V4MAPPED gives the mapped address', async (t) => {
  const loop = loopFor(t);
  const infos = await loop.runUntilComplete(loop.getaddrinfo('127.0.0.1', 80, { family: AF_INET6, type: SOCK_STREAM, flags: AI_V4MAPPED }));
  t.deepEqual(infos.map((info) => info[4]), [['::ffff:127.0.0.1', 80, 0, 0]]);
});

/** All bytes a plain Node connection to `port` receives until the server's EOF. */
function readAll(port: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const sock = net.connect(port, '127.0.0.1');
    sock.on('data', (chunk: Buffer) => chunks.push(chunk));
    sock.on('end', () => {
      sock.destroy();
      resolve(Buffer.concat(chunks));
    });
    sock.on('error', reject);
  });
}

/** True when every byte of `bytes` is `value`. */
function allBytesAre(bytes: Buffer, value: number): boolean {
  return bytes.every((byte) => byte === value);
}

const REFILLED = 8 * 1024 * 1024;

test.serial('a server transport sends what write() was given though the caller refills the buffer at once', async (t) => {
  await withLoop(async (loop: EventLoop) => {
    // More than the socket takes at once: most of it waits in the transport.
    const server = await loop.createServer(() => new (class extends Protocol {
      override connectionMade(transport: Transport): void {
        const data = Buffer.alloc(REFILLED, 0x5a);
        transport.write(data);
        data.fill(0xff);
        transport.close();
      }
    })(), '127.0.0.1', 0);
    try {
      const received = await readAll(server.sockets![0]!.getsockname()[1] as number);
      t.is(received.length, REFILLED);
      t.true(allBytesAre(received, 0x5a));
    } finally {
      server.close();
      await server.waitClosed();
    }
  });
});

test.serial('a client transport sends what write() was given though the caller refills the buffer at once', async (t) => {
  let collected!: Promise<Buffer>;
  const server = net.createServer((sock) => {
    collected = new Promise((resolve) => {
      const chunks: Buffer[] = [];
      sock.on('data', (chunk: Buffer) => chunks.push(chunk));
      sock.on('end', () => {
        sock.end();
        resolve(Buffer.concat(chunks));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  await withLoop(async (loop: EventLoop) => {
    const port = (server.address() as net.AddressInfo).port;
    const [transport, client] = await loop.createConnection(() => new Recorder(loop), '127.0.0.1', port);
    const data = Buffer.alloc(REFILLED, 0x5a);
    transport.write(data);
    data.fill(0xff);
    transport.writeEof();
    await client.seen('lost');
  });
  const bytes = await collected;
  t.is(bytes.length, REFILLED);
  t.true(allBytesAre(bytes, 0x5a));
});
