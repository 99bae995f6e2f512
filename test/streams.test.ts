import test from 'ava';
import {
  IncompleteReadError, LimitOverrunError, openConnection, openUnixConnection, RuntimeError,
  startServer, startUnixServer, StreamReader,
  type EventLoop, type StreamWriter,
} from 'multiloop';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { withLoop } from './helpers/loop.js';
import { closeServer, portOf } from './helpers/servers.js';

/** A reader fed by hand, for the parsing tests. */
function fed(loop: EventLoop, chunks: string[], eof = true, limit?: number): StreamReader {
  const reader = new StreamReader({ loop, limit });
  for (const chunk of chunks) reader.feedData(Buffer.from(chunk));
  if (eof) reader.feedEof();
  return reader;
}

test.serial('startServer and openConnection carry lines both ways', async (t) => {
  await withLoop(async (loop) => {
    const server = await startServer(async (reader, writer) => {
      for await (const line of reader) writer.write(Buffer.from(line.toString().toUpperCase()));
      writer.close();
      await writer.waitClosed();
    }, '127.0.0.1', 0, { loop });
    const [reader, writer] = await openConnection('127.0.0.1', portOf(server), { loop });
    writer.write(Buffer.from('hello\nworld\n'));
    t.is((await reader.readline()).toString(), 'HELLO\n');
    t.is((await reader.readline()).toString(), 'WORLD\n');
    writer.writeEof();
    t.is((await reader.read()).length, 0);
    t.true(reader.atEof());
    writer.close();
    await writer.waitClosed();
    await closeServer(server);
  });
});

test.serial('read(n) returns at most n bytes and read() reads to EOF', async (t) => {
  await withLoop(async (loop) => {
    const reader = fed(loop, ['abc', 'def']);
    t.is((await reader.read(2)).toString(), 'ab');
    t.is((await reader.read()).toString(), 'cdef');
    t.is((await reader.read(5)).length, 0);
  });
});

test.serial('readexactly returns n bytes across chunks and raises IncompleteReadError at EOF', async (t) => {
  await withLoop(async (loop) => {
    const reader = fed(loop, ['ab', 'cd', 'e']);
    t.is((await reader.readexactly(3)).toString(), 'abc');
    const err = await t.throwsAsync(reader.readexactly(5), { instanceOf: IncompleteReadError });
    t.is(err!.partial.toString(), 'de');
    t.is(err!.expected, 5);
  });
});

test.serial('readexactly of 8 MiB fed in 64 KiB chunks while it waits returns every byte in order, then the rest stays readable', async (t) => {
  await withLoop(async (loop) => {
    const reader = new StreamReader({ loop });
    const chunk = 64 * 1024;
    const total = 8 * 1024 * 1024;
    const pattern = (offset: number, n: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (offset + i) % 251));
    const whole = reader.readexactly(total);
    for (let offset = 0; offset < total + chunk; offset += chunk) {
      reader.feedData(pattern(offset, chunk));
      await null;
    }
    reader.feedEof();
    t.true((await whole).equals(pattern(0, total)));
    t.true((await reader.read()).equals(pattern(total, chunk)));
  });
});

test.serial('reads of a few bytes across many fed chunks keep their order', async (t) => {
  await withLoop(async (loop) => {
    const reader = fed(loop, ['ab', 'c', 'de', 'f\ng', 'h\n']);
    t.is((await reader.read(1)).toString(), 'a');
    t.is((await reader.readexactly(3)).toString(), 'bcd');
    t.is((await reader.readline()).toString(), 'ef\n');
    t.is((await reader.read(1)).toString(), 'g');
    t.is((await reader.read()).toString(), 'h\n');
  });
});

test.serial('readuntil finds a separator split across chunks', async (t) => {
  await withLoop(async (loop) => {
    const reader = fed(loop, ['one\r', '\ntwo\r\n', 'tail']);
    t.is((await reader.readuntil(Buffer.from('\r\n'))).toString(), 'one\r\n');
    t.is((await reader.readuntil(Buffer.from('\r\n'))).toString(), 'two\r\n');
    const err = await t.throwsAsync(reader.readuntil(Buffer.from('\r\n')), { instanceOf: IncompleteReadError });
    t.is(err!.partial.toString(), 'tail');
    t.is(err!.expected, null);
  });
});

test.serial('readuntil past the limit raises LimitOverrunError and keeps the data', async (t) => {
  await withLoop(async (loop) => {
    const reader = fed(loop, ['0123456789', 'abcdef\n'], true, 8);
    const err = await t.throwsAsync(reader.readuntil(Buffer.from('\n')), { instanceOf: LimitOverrunError });
    t.true(err!.consumed > 8);
    t.is((await reader.read(4)).toString(), '0123');
  });
});

test.serial('readline drops an overlong line and throws RangeError (asyncio\'s ValueError) caused by LimitOverrunError', async (t) => {
  await withLoop(async (loop) => {
    const reader = fed(loop, ['0123456789\nnext\n'], true, 4);
    const err = await t.throwsAsync(reader.readline(), { instanceOf: RangeError });
    t.true(err!.cause instanceof LimitOverrunError);
    t.is((await reader.readline()).toString(), 'next\n');
    t.is((await reader.readline()).toString(), '');
  });
});

test.serial('a second concurrent read throws RuntimeError', async (t) => {
  await withLoop(async (loop) => {
    const reader = new StreamReader({ loop });
    const first = reader.read(1);
    await t.throwsAsync(reader.read(1), { instanceOf: RuntimeError });
    reader.feedData(Buffer.from('x'));
    t.is((await first).toString(), 'x');
  });
});

test.serial('setException makes pending and later reads reject', async (t) => {
  await withLoop(async (loop) => {
    const reader = new StreamReader({ loop });
    const pending = reader.readline();
    reader.setException(new Error('broken'));
    await t.throwsAsync(pending, { message: 'broken' });
    await t.throwsAsync(reader.read(1), { message: 'broken' });
  });
});

test.serial('drain() blocks until the peer reads', async (t) => {
  await withLoop(async (loop) => {
    const connected = loop.createFuture<[StreamReader, StreamWriter]>();
    const server = await startServer((reader, writer) => connected.setResult([reader, writer]), '127.0.0.1', 0, { loop });
    const [, writer] = await openConnection('127.0.0.1', portOf(server), { loop });
    const [peerReader, peerWriter] = await connected;
    writer.transport.setWriteBufferLimits(16 * 1024);
    // Fill the kernel's buffers until the transport holds more than the high-water mark.
    const chunk = Buffer.alloc(64 * 1024, 9);
    let sent = 0;
    while (writer.transport.getWriteBufferSize() <= 16 * 1024) {
      writer.write(chunk);
      sent += chunk.length;
    }
    let readWhenDrained = -1;
    let read = 0;
    const drained = writer.drain().then(() => (readWhenDrained = read));
    while (read < sent) read += (await peerReader.read(64 * 1024)).length;
    await drained;
    t.true(readWhenDrained > 0);
    t.is(read, sent);
    writer.close();
    peerWriter.close();
    await writer.waitClosed();
    await closeServer(server);
  });
});

test.serial('a reader pauses its transport past twice its limit and resumes it once read', async (t) => {
  await withLoop(async (loop) => {
    const calls: string[] = [];
    const transport = { pauseReading: () => calls.push('pause'), resumeReading: () => calls.push('resume') };
    const reader = new StreamReader({ loop, limit: 4 });
    reader.setTransport(transport as never);
    reader.feedData(Buffer.from('12345678'));
    t.deepEqual(calls, []);
    reader.feedData(Buffer.from('9'));
    t.deepEqual(calls, ['pause']);
    await reader.read(5);
    t.deepEqual(calls, ['pause', 'resume']);
  });
});

test.serial('drain() rejects once the connection is lost', async (t) => {
  await withLoop(async (loop) => {
    const server = await startServer(() => undefined, '127.0.0.1', 0, { loop });
    const [, writer] = await openConnection('127.0.0.1', portOf(server), { loop });
    writer.transport.abort();
    await writer.waitClosed();
    await t.throwsAsync(writer.drain(), { code: 'ECONNRESET' });
    server.close();
  });
});

test.serial('a clientConnected callback that throws goes to the exception handler and closes the connection', async (t) => {
  await withLoop(async (loop) => {
    const contexts: Record<string, unknown>[] = [];
    loop.setExceptionHandler((_loop, context) => contexts.push(context));
    const server = await startServer(async () => {
      throw new Error('handler failed');
    }, '127.0.0.1', 0, { loop });
    const [reader, writer] = await openConnection('127.0.0.1', portOf(server), { loop });
    t.is((await reader.read()).length, 0);
    t.is((contexts[0]!.exception as Error).message, 'handler failed');
    writer.close();
    await closeServer(server);
  });
});

test.serial('openUnixConnection and startUnixServer work over a path', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'multiloop-streams-'));
  try {
    await withLoop(async (loop) => {
      const sockPath = path.join(dir, 's.sock');
      const server = await startUnixServer(async (reader, writer) => {
        writer.write(await reader.readexactly(4));
        writer.close();
      }, sockPath, { loop });
      const [reader, writer] = await openUnixConnection(sockPath, { loop });
      writer.write(Buffer.from('ping'));
      t.is((await reader.read()).toString(), 'ping');
      writer.close();
      await closeServer(server);
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test.serial('stream functions reject bad arguments with TypeError or RangeError', async (t) => {
  await withLoop(async (loop) => {
    t.throws(() => new StreamReader({ loop, limit: 0 }), { instanceOf: RangeError, message: /limit/ });
    t.throws(() => startServer(42 as never, '127.0.0.1', 0, { loop }), { instanceOf: TypeError, message: /clientConnected/ });
    const reader = fed(loop, ['x']);
    await t.throwsAsync(reader.readexactly(-1), { instanceOf: RangeError });
    await t.throwsAsync(reader.readuntil(Buffer.alloc(0)), { instanceOf: RangeError, message: /separator/ });
  });
});
