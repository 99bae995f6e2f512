import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { newEventLoop, Protocol, type EventLoop, type Future, type Transport } from 'multiloop';
import { EchoProtocol } from '../examples/echo_protocol.js';
import { openFds } from './helpers/fds.js';
import { closeServer, portOf } from './helpers/servers.js';

/** Sends one message, closes once it came back whole; `done` settles with the echo at connectionLost. */
class PingOnce extends Protocol {
  private chunks: Buffer[] = [];
  private transport!: Transport;
  readonly done: Future<string>;
  constructor(loop: EventLoop, private readonly message: string) {
    super();
    this.done = loop.createFuture();
  }
  override connectionMade(transport: Transport): void {
    this.transport = transport;
    transport.write(Buffer.from(this.message));
  }
  override dataReceived(data: Buffer): void {
    this.chunks.push(data);
    if (Buffer.concat(this.chunks).length >= this.message.length) this.transport.close();
  }
  override connectionLost(exc: Error | null): void {
    if (exc === null) this.done.setResult(Buffer.concat(this.chunks).toString());
    else this.done.setException(exc);
  }
}

/** Runs `total` ping connections made by `connect`, `parallel` at a time; returns how many echoed correctly. */
async function pingMany(loop: EventLoop, total: number, parallel: number, connect: (p: () => PingOnce) => Promise<unknown>): Promise<number> {
  let started = 0;
  let ok = 0;
  const worker = async (): Promise<void> => {
    while (started < total) {
      const message = `message ${started++}`;
      const protocol = new PingOnce(loop, message);
      await connect(() => protocol);
      if ((await protocol.done) === message) ok++;
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return ok;
}

test.serial('1,000 TCP connections leave the count of open fds unchanged', async (t) => {
  const loop = newEventLoop();
  try {
    const before = openFds();
    await loop.runUntilComplete(async () => {
      const server = await loop.createServer(() => new EchoProtocol(), '127.0.0.1', 0);
      const port = portOf(server);
      const ok = await pingMany(loop, 1000, 20, (factory) => loop.createConnection(factory, '127.0.0.1', port));
      t.is(ok, 1000);
      await closeServer(server);
    });
    t.is(openFds(), before);
  } finally {
    loop.close();
  }
});

test.serial('300 UNIX connections and 300 refused connects leave the count of open fds unchanged', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'multiloop-fdleak-'));
  const loop = newEventLoop();
  try {
    const before = openFds();
    await loop.runUntilComplete(async () => {
      const sockPath = path.join(dir, 'leak.sock');
      const server = await loop.createUnixServer(() => new EchoProtocol(), sockPath);
      const ok = await pingMany(loop, 300, 20, (factory) => loop.createUnixConnection(factory, sockPath));
      t.is(ok, 300);
      await closeServer(server);
      let refused = 0;
      for (let i = 0; i < 300; i++) {
        await loop.createUnixConnection(() => new EchoProtocol(), sockPath).catch((err: NodeJS.ErrnoException) => {
          if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') refused++;
        });
      }
      t.is(refused, 300);
    });
    t.is(openFds(), before);
  } finally {
    loop.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
