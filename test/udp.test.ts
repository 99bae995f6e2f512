import dgram from 'node:dgram';
import test from 'ava';
import { DatagramProtocol, type Address, type DatagramTransport, type EventLoop, type Future } from 'multiloop';
import { withLoop } from './helpers/loop.js';

/** Records datagrams and errors; `next()` settles with the next datagram. */
class Recorder extends DatagramProtocol {
  transport!: DatagramTransport;
  datagrams: [string, Address][] = [];
  errors: Error[] = [];
  readonly lost: Future<Error | null>;
  private waiter: Future<void> | null = null;
  constructor(private readonly loop: EventLoop) {
    super();
    this.lost = loop.createFuture();
  }
  override connectionMade(transport: DatagramTransport): void {
    this.transport = transport;
  }
  override datagramReceived(data: Buffer, addr: Address): void {
    this.datagrams.push([data.toString(), addr]);
    this.wake();
  }
  override errorReceived(exc: Error): void {
    this.errors.push(exc);
    this.wake();
  }
  override connectionLost(exc: Error | null): void {
    this.lost.setResult(exc);
  }
  /** Settles once `n` datagrams or errors arrived in all. */
  async received(n: number): Promise<void> {
    while (this.datagrams.length + this.errors.length < n) {
      this.waiter = this.loop.createFuture<void>();
      await this.waiter;
    }
  }
  private wake(): void {
    if (this.waiter !== null && !this.waiter.done()) this.waiter.setResult(undefined);
  }
}

/** Sends every datagram back to its sender. */
class Echo extends DatagramProtocol {
  transport!: DatagramTransport;
  lost: Promise<Error | null>;
  private settle!: (exc: Error | null) => void;
  constructor() {
    super();
    this.lost = new Promise((resolve) => (this.settle = resolve));
  }
  override connectionLost(exc: Error | null): void {
    this.settle(exc);
  }
  override connectionMade(transport: DatagramTransport): void {
    this.transport = transport;
  }
  override datagramReceived(data: Buffer, addr: Address): void {
    this.transport.sendto(data, addr);
  }
}

test.serial('a connected endpoint exchanges datagrams with an echo endpoint', async (t) => {
  await withLoop(async (loop) => {
    const [server, echo] = await loop.createDatagramEndpoint(() => new Echo(), ['127.0.0.1', 0]);
    const serverAddr = server.getExtraInfo('sockname') as [string, number];
    const [client, proto] = await loop.createDatagramEndpoint(() => new Recorder(loop), null, serverAddr);
    t.deepEqual(client.getExtraInfo('peername'), serverAddr);
    client.sendto(Buffer.from('one'));
    client.sendto(Buffer.from('two'), serverAddr);
    await proto.received(2);
    t.deepEqual(proto.datagrams.map(([d]) => d).sort(), ['one', 'two']);
    t.deepEqual(proto.datagrams[0]![1], serverAddr);
    client.close();
    server.close();
    t.is(await proto.lost, null);
    t.is(await echo.lost, null);
  });
});

test.serial('an unconnected endpoint sends to any address and reports the sender', async (t) => {
  await withLoop(async (loop) => {
    const [a, pa] = await loop.createDatagramEndpoint(() => new Recorder(loop), ['127.0.0.1', 0]);
    const [b, pb] = await loop.createDatagramEndpoint(() => new Recorder(loop), ['127.0.0.1', 0]);
    a.sendto(Buffer.from('hi b'), b.getExtraInfo('sockname') as Address);
    await pb.received(1);
    t.deepEqual(pb.datagrams, [['hi b', a.getExtraInfo('sockname') as Address]]);
    t.throws(() => a.sendto(Buffer.from('x')), { instanceOf: TypeError, message: /addr/ });
    a.close();
    b.close();
    await Promise.all([pa.lost, pb.lost]);
  });
});

test.serial('sendto sends the datagram it was given though the caller refills the buffer at once', async (t) => {
  await withLoop(async (loop) => {
    const [a, pa] = await loop.createDatagramEndpoint(() => new Recorder(loop), ['127.0.0.1', 0]);
    const [b, pb] = await loop.createDatagramEndpoint(() => new Recorder(loop), ['127.0.0.1', 0]);
    const data = Buffer.from('first');
    a.sendto(data, b.getExtraInfo('sockname') as Address);
    data.write('later');
    await pb.received(1);
    t.is(pb.datagrams[0]![0], 'first');
    a.close();
    b.close();
    await Promise.all([pa.lost, pb.lost]);
  });
});

test.serial('IPv6 endpoints report four-element addresses', async (t) => {
  await withLoop(async (loop) => {
    const [a, pa] = await loop.createDatagramEndpoint(() => new Recorder(loop), ['::1', 0]);
    const [b, pb] = await loop.createDatagramEndpoint(() => new Echo(), null, a.getExtraInfo('sockname') as [string, number]);
    const sockname = a.getExtraInfo('sockname') as unknown[];
    t.is(sockname.length, 4);
    t.is(sockname[0], '::1');
    b.sendto(Buffer.from('v6'));
    await pa.received(1);
    t.is((pa.datagrams[0]![1] as unknown[]).length, 4);
    a.close();
    b.close();
    await Promise.all([pa.lost, pb.lost]);
  });
});

test.serial('an ICMP refusal on a connected endpoint goes to errorReceived and the endpoint stays open', async (t) => {
  await withLoop(async (loop) => {
    const probe = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => probe.bind(0, '127.0.0.1', resolve));
    const port = probe.address().port;
    await new Promise<void>((resolve) => probe.close(resolve));
    const [client, proto] = await loop.createDatagramEndpoint(() => new Recorder(loop), null, ['127.0.0.1', port]);
    client.sendto(Buffer.from('anyone?'));
    client.sendto(Buffer.from('anyone?'));
    await proto.received(1);
    t.is((proto.errors[0] as NodeJS.ErrnoException).code, 'ECONNREFUSED');
    t.false(client.isClosing());
    client.close();
    t.is(await proto.lost, null);
  });
});

test.serial('close() sends queued datagrams first and sendto after close is dropped', async (t) => {
  await withLoop(async (loop) => {
    const [server, sp] = await loop.createDatagramEndpoint(() => new Recorder(loop), ['127.0.0.1', 0]);
    const [client, cp] = await loop.createDatagramEndpoint(() => new Recorder(loop), null, server.getExtraInfo('sockname') as [string, number]);
    for (let i = 0; i < 10; i++) client.sendto(Buffer.from(`m${i}`));
    client.close();
    t.notThrows(() => client.sendto(Buffer.from('late')));
    await cp.lost;
    await sp.received(10);
    t.is(sp.datagrams.length, 10);
    server.close();
    await sp.lost;
  });
});

test.serial('createDatagramEndpoint rejects bad arguments with TypeError or RangeError naming them', async (t) => {
  await withLoop(async (loop) => {
    const factory = (): Echo => new Echo();
    t.throws(() => loop.createDatagramEndpoint(factory), { instanceOf: TypeError, message: /localAddr/ });
    t.throws(() => loop.createDatagramEndpoint(factory, ['127.0.0.1', 99999]), { instanceOf: RangeError, message: /localAddr/ });
    t.throws(() => loop.createDatagramEndpoint(factory, 'x' as never), { instanceOf: TypeError, message: /localAddr/ });
    t.throws(() => loop.createDatagramEndpoint(factory, ['127.0.0.1', 0], null, { proto: 6 }), { instanceOf: RangeError, message: /proto/ });
  });
});
