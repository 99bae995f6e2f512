import fs from 'node:fs';
import net from 'node:net';
import test from 'ava';
import {
  newEventLoop, Protocol, logger, RuntimeError,
  type EventLoop, type Future, type Transport,
} from 'multiloop';

/** A protocol that records every callback in order and settles `lost` at the end. */
class Recorder extends Protocol {
  events: string[] = [];
  received: Buffer[] = [];
  transport!: Transport;
  lost: Future<Error | null>;
  keepOpen = false;
  constructor(loop: EventLoop) {
    super();
    this.lost = loop.createFuture();
  }
  override connectionMade(transport: Transport): void {
    this.transport = transport;
    this.events.push('made');
  }
  override dataReceived(data: Buffer): void {
    this.events.push('data');
    this.received.push(data);
  }
  override eofReceived(): boolean {
    this.events.push('eof');
    return this.keepOpen;
  }
  override connectionLost(exc: Error | null): void {
    this.events.push('lost');
    this.lost.setResult(exc);
  }
  get bytes(): Buffer {
    return Buffer.concat(this.received);
  }
}

/** Echoes every byte back; closes when the peer sends EOF. */
class Echo extends Protocol {
  transport!: Transport;
  override connectionMade(transport: Transport): void {
    this.transport = transport;
  }
  override dataReceived(data: Buffer): void {
    this.transport.write(data);
  }
}

async function run<T>(fn: (loop: EventLoop) => Promise<T>): Promise<T> {
  const loop = newEventLoop();
  try {
    return await loop.runUntilComplete(() => fn(loop));
  } finally {
    loop.close();
  }
}

function openFds(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

test('a connection delivers connectionMade, dataReceived, eofReceived, then connectionLost(null)', async (t) => {
  await run(async (loop) => {
    const server = await loop.createServer(() => new Echo(), '127.0.0.1', 0);
    const [, port] = server.sockets![0]!.getsockname() as [string, number];
    const [transport, client] = await loop.createConnection(() => new Recorder(loop), '127.0.0.1', port);
    t.deepEqual(client.events, ['made']);
    transport.write(Buffer.from('hello'));
    transport.writeEof();
    t.is(await client.lost, null);
    t.is(client.bytes.toString(), 'hello');
    t.is(client.events[0], 'made');
    t.deepEqual(client.events.slice(-2), ['eof', 'lost']);
    server.close();
    await server.waitClosed();
  });
});
