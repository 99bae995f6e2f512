import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { RuntimeError, type Transport } from 'multiloop';
import { withLoop } from './helpers/loop.js';
import { Collector } from './helpers/protocols.js';

/** A Collector that also records its callbacks in order; eofReceived keeps the transport open. */
class Recorder extends Collector {
  events: string[] = [];
  override connectionMade(transport: Transport): void {
    super.connectionMade(transport);
    this.events.push('made');
  }
  override dataReceived(data: Buffer): void {
    super.dataReceived(data);
    if (this.events.at(-1) !== 'data') this.events.push('data');
  }
  override eofReceived(): boolean {
    this.events.push('eof');
    return true;
  }
  override connectionLost(exc: Error | null): void {
    this.events.push('lost');
    super.connectionLost(exc);
  }
}

test.serial('connectReadPipe delivers data, then eofReceived and connectionLost(null) even when eofReceived returns true', async (t) => {
  await withLoop(async (loop) => {
    const child = spawn('printf', ['piped bytes'], { stdio: ['ignore', 'pipe', 'ignore'] });
    const [transport, proto] = await loop.connectReadPipe(() => new Recorder(loop), child.stdout!);
    t.is(transport.getExtraInfo('pipe'), child.stdout);
    t.is(await proto.lost, null);
    t.is(Buffer.concat(proto.chunks).toString(), 'piped bytes');
    t.deepEqual(proto.events, ['made', 'data', 'eof', 'lost']);
  });
});

test.serial('connectWritePipe writes through to the reader and closes after flushing', async (t) => {
  await withLoop(async (loop) => {
    const child = spawn('cat', [], { stdio: ['pipe', 'pipe', 'ignore'] });
    const [reader, readProto] = await loop.connectReadPipe(() => new Recorder(loop), child.stdout!);
    const [writer, writeProto] = await loop.connectWritePipe(() => new Recorder(loop), child.stdin!);
    t.true(writer.canWriteEof());
    const data = Buffer.alloc(1024 * 1024, 5);
    writer.write(data);
    writer.close();
    t.is(await writeProto.lost, null);
    t.is(await readProto.lost, null);
    t.true(Buffer.concat(readProto.chunks).equals(data));
    t.true(reader.isClosing());
  });
});

test.serial('connectReadPipe takes a file descriptor and closes it with the transport', async (t) => {
  await withLoop(async (loop) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'multiloop-pipes-'));
    const fifo = path.join(dir, 'fifo');
    t.is(spawnSync('mkfifo', [fifo]).status, 0);
    try {
      const fd = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
      const writeEnd = fs.openSync(fifo, fs.constants.O_WRONLY);
      fs.writeSync(writeEnd, 'fd-data');
      fs.closeSync(writeEnd);
      const [, proto] = await loop.connectReadPipe(() => new Recorder(loop), fd);
      await proto.lost;
      t.is(Buffer.concat(proto.chunks).toString(), 'fd-data');
      t.throws(() => fs.fstatSync(fd), { code: 'EBADF' });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

test.serial('a write pipe whose reader went away reports connectionLost(EPIPE), never throws', async (t) => {
  await withLoop(async (loop) => {
    // The child closes its stdin, says so, and keeps running (so Node keeps the pipe open).
    const child = spawn('sh', ['-c', 'exec 0<&-; echo closed; exec sleep 30'], { stdio: ['pipe', 'pipe', 'ignore'] });
    await new Promise((resolve) => child.stdout!.once('data', resolve));
    const [writer, proto] = await loop.connectWritePipe(() => new Recorder(loop), child.stdin!);
    t.notThrows(() => writer.write(Buffer.from('nobody listens')));
    const exc = await proto.lost;
    t.is((exc as NodeJS.ErrnoException).code, 'EPIPE');
    child.kill();
    await new Promise((resolve) => child.once('exit', resolve));
  });
});

test.serial('pipe transports check their direction and arguments', async (t) => {
  await withLoop(async (loop) => {
    t.throws(() => loop.connectReadPipe(() => new Recorder(loop), 'x' as never), { instanceOf: TypeError, message: /pipe/ });
    t.throws(() => loop.connectWritePipe(() => new Recorder(loop), -1), { instanceOf: RangeError, message: /pipe/ });
    const child = spawn('printf', ['x'], { stdio: ['ignore', 'pipe', 'ignore'] });
    const [transport, proto] = await loop.connectReadPipe(() => new Recorder(loop), child.stdout!);
    t.throws(() => transport.write(Buffer.from('x')), { instanceOf: RuntimeError });
    await proto.lost;
  });
});
