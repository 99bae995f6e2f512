import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { Handle, RuntimeError, Socket, newEventLoop, socketpair, type EventLoop } from 'multiloop';
import { openFds } from './helpers/fds.js';
import { loopFor, runOnce, test } from './helpers/loop.js';
import { pair } from './helpers/sockets.js';

/** Lets Node's event loop turn twice, so that a ready fd has been polled at least once. */
async function nodeTurns(): Promise<void> {
  for (let i = 0; i < 2; i++) await new Promise((resolve) => setImmediate(resolve));
}

test('addReader calls back with its args when a socketpair is readable, and reads nothing itself', async (t) => {
  const loop = loopFor(t);
  const [r, w] = pair(t);
  const calls: unknown[][] = [];
  loop.addReader(r, (...args: unknown[]) => {
    calls.push(args);
    loop.removeReader(r);
    loop.stop();
  }, 'a', 2);
  loop.callSoon(() => w.send(Buffer.from('abc')));
  await loop.runForever();
  t.deepEqual(calls, [['a', 2]]);
  t.is(r.recv(10).toString(), 'abc');
});

test('addReader accepts a raw fd number as well as an object with fileno()', async (t) => {
  const loop = loopFor(t);
  const [r, w] = pair(t);
  let called = 0;
  loop.addReader(r.fileno(), () => {
    called++;
    loop.stop();
  });
  w.send(Buffer.from('x'));
  await loop.runForever();
  t.is(called, 1);
  t.true(loop.removeReader(r));
});

test('removeReader returns true when a reader was removed, false otherwise', (t) => {
  const loop = loopFor(t);
  const [r] = pair(t);
  t.false(loop.removeReader(r));
  loop.addReader(r, () => {});
  t.true(loop.removeReader(r));
  t.false(loop.removeReader(r));
});

test('removeWriter returns true when a writer was removed, false otherwise', (t) => {
  const loop = loopFor(t);
  const [, w] = pair(t);
  t.false(loop.removeWriter(w));
  loop.addWriter(w, () => {});
  t.true(loop.removeWriter(w));
  t.false(loop.removeWriter(w));
});

test("removeReader on another loop returns false and leaves the reader in place", async (t) => {
  const loop = loopFor(t);
  const other = loopFor(t);
  const [r, w] = pair(t);
  let called = false;
  loop.addReader(r, () => {
    called = true;
    loop.removeReader(r);
    loop.stop();
  });
  t.false(other.removeReader(r));
  w.send(Buffer.from('x'));
  await loop.runForever();
  t.true(called);
});

test('addReader replaces the previous reader of the same fd', async (t) => {
  const loop = loopFor(t);
  const [r, w] = pair(t);
  const calls: string[] = [];
  loop.addReader(r, () => calls.push('first'));
  loop.addReader(r, () => {
    calls.push('second');
    loop.removeReader(r);
    loop.stop();
  });
  w.send(Buffer.from('x'));
  await loop.runForever();
  t.deepEqual(calls, ['second']);
});

test('addWriter calls back when the fd is writable', async (t) => {
  const loop = loopFor(t);
  const [, w] = pair(t);
  let called = 0;
  loop.addWriter(w, () => {
    called++;
    loop.removeWriter(w);
    loop.stop();
  });
  await loop.runForever();
  t.is(called, 1);
});

test('a reader and a writer of the same fd are both served', async (t) => {
  const loop = loopFor(t);
  const [a, b] = pair(t);
  const seen = new Set<string>();
  const done = (): void => {
    if (seen.size === 2) loop.stop();
  };
  loop.addWriter(a, () => {
    seen.add('writer');
    loop.removeWriter(a);
    done();
  });
  loop.addReader(a, () => {
    seen.add('reader');
    loop.removeReader(a);
    done();
  });
  b.send(Buffer.from('x'));
  await loop.runForever();
  t.deepEqual([...seen].sort(), ['reader', 'writer']);
});

test('a reader is called again while its data stays unread (level-triggered)', async (t) => {
  const loop = loopFor(t);
  const [r, w] = pair(t);
  let calls = 0;
  loop.addReader(r, () => {
    if (++calls === 3) {
      loop.removeReader(r);
      loop.stop();
    }
  });
  w.send(Buffer.from('x'));
  await loop.runForever();
  t.is(calls, 3);
  t.is(r.recv(10).toString(), 'x');
});

test('no reader runs while its loop is stopped; it runs once the loop runs again', async (t) => {
  const loop = loopFor(t);
  const [r, w] = pair(t);
  let calls = 0;
  loop.addReader(r, () => {
    calls++;
    loop.removeReader(r);
    loop.stop();
  });
  w.send(Buffer.from('x'));
  await nodeTurns();
  t.is(calls, 0);
  await loop.runForever();
  t.is(calls, 1);
});

test("an exception in a reader goes to the loop's exception handler with the handle", async (t) => {
  const loop = loopFor(t);
  const [r, w] = pair(t);
  const contexts: Record<string, unknown>[] = [];
  loop.setExceptionHandler((_loop, context) => {
    contexts.push(context);
    loop.removeReader(r);
    loop.stop();
  });
  loop.addReader(r, function failingReader() {
    throw new Error('boom');
  });
  w.send(Buffer.from('x'));
  await loop.runForever();
  t.is(contexts.length, 1);
  t.is((contexts[0]!.exception as Error).message, 'boom');
  t.true(contexts[0]!.handle instanceof Handle);
});

test('a pipe (FIFO) fd is watched for writing and for reading', async (t) => {
  const loop = loopFor(t);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'multiloop-poll-'));
  const fifo = path.join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  const fd = fs.openSync(fifo, fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
  t.teardown(() => {
    fs.closeSync(fd);
    fs.rmSync(dir, { recursive: true });
  });
  const seen: string[] = [];
  loop.addWriter(fd, () => {
    seen.push('writable');
    loop.removeWriter(fd);
    fs.writeSync(fd, 'pipe data');
  });
  loop.addReader(fd, () => {
    const buffer = Buffer.alloc(32);
    seen.push(buffer.subarray(0, fs.readSync(fd, buffer)).toString());
    loop.removeReader(fd);
    loop.stop();
  });
  await loop.runForever();
  t.deepEqual(seen, ['writable', 'pipe data']);
});

test('bad fd types throw TypeError, negative fds RangeError', (t) => {
  const loop = loopFor(t);
  for (const bad of ['3', 1.5, null, {}, { fileno: () => 'x' }]) {
    t.throws(() => loop.addReader(bad as never, () => {}), { instanceOf: TypeError, message: /fd must be a file descriptor/ });
    t.throws(() => loop.removeWriter(bad as never), { instanceOf: TypeError });
  }
  t.throws(() => loop.addWriter(-1, () => {}), { instanceOf: RangeError });
  const [closed] = socketpair();
  closed.close();
  t.throws(() => loop.addReader(closed, () => {}), { instanceOf: RangeError, message: /-1/ });
});

test('a callback that is not a function throws TypeError', (t) => {
  const loop = loopFor(t);
  const [r] = pair(t);
  t.throws(() => loop.addReader(r, 'nope' as never), { instanceOf: TypeError, message: /callback/ });
});

test("an fd owned by a Node socket of this thread is refused with RuntimeError", async (t) => {
  const loop = loopFor(t);
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => server.close());
  const fd = (server as unknown as { _handle: { fd: number } })._handle.fd;
  t.throws(() => loop.addReader(fd, () => {}), { instanceOf: RuntimeError, message: /owned by a libuv handle/ });
});

test('a regular file cannot be watched: EPERM', (t) => {
  const loop = loopFor(t);
  const file = path.join(os.tmpdir(), `multiloop-poll-${process.pid}`);
  const fd = fs.openSync(file, 'w');
  t.teardown(() => {
    fs.closeSync(fd);
    fs.rmSync(file);
  });
  t.throws(() => loop.addReader(fd, () => {}), { code: 'EPERM' });
});

test('addReader and addWriter on a closed loop throw RuntimeError', (t) => {
  const loop = newEventLoop();
  loop.close();
  const [r] = pair(t);
  t.throws(() => loop.addReader(r, () => {}), { instanceOf: RuntimeError });
  t.throws(() => loop.addWriter(r, () => {}), { instanceOf: RuntimeError });
});

test("loop.close() drops the loop's readers and writers", (t) => {
  const loop: EventLoop = newEventLoop();
  const [r] = pair(t);
  loop.addReader(r, () => {});
  loop.addWriter(r, () => {});
  loop.close();
  const next = loopFor(t);
  t.false(next.removeReader(r));
  next.addReader(r, () => {});
  t.true(next.removeReader(r));
});

test("closing a Socket drops its fd's reader and writer", (t) => {
  const loop = loopFor(t);
  const [r] = pair(t);
  const fd = r.fileno();
  loop.addReader(r, () => {});
  loop.addWriter(r, () => {});
  r.close();
  t.false(loop.removeReader(fd));
  t.false(loop.removeWriter(fd));
});

test("detaching a Socket drops its fd's reader and leaves the fd open", (t) => {
  const loop = loopFor(t);
  const [r, w] = pair(t);
  loop.addReader(r, () => {});
  const fd = r.detach();
  const adopted = new Socket(undefined, undefined, undefined, fd);
  t.teardown(() => adopted.close());
  t.false(loop.removeReader(fd));
  w.send(Buffer.from('still open'));
  t.is(adopted.recv(64).toString(), 'still open');
});

test('a reader removed while its loop was stopped never runs, though its fd became ready', async (t) => {
  const loop = loopFor(t);
  const [r, w] = pair(t);
  let calls = 0;
  loop.addReader(r, () => calls++);
  w.send(Buffer.from('x'));
  await nodeTurns();
  loop.removeReader(r);
  await runOnce(loop);
  t.is(calls, 0);
});

test('an event of a watch released earlier in the same loop turn never reaches a new watch of the same fd number', async (t) => {
  const loop = loopFor(t);
  const pairs = [pair(t), pair(t)];
  let first = true;
  let freshCalls = 0;
  // Whichever reader runs first closes the other's socket, whose readiness is already in this
  // turn's events, and watches a new socket that takes the same fd number and has nothing to read.
  const reader = (mine: Socket, other: Socket) => (): void => {
    loop.removeReader(mine);
    if (!first) return;
    first = false;
    const fd = other.fileno();
    other.close();
    const [fresh, peer] = socketpair();
    t.teardown(() => [fresh, peer].forEach((s) => s.close()));
    t.is(fresh.fileno(), fd, 'the new socket reuses the closed fd number');
    loop.addReader(fresh, () => freshCalls++);
    // Runs after every event of this turn.
    loop.callSoon(() => loop.stop());
  };
  loop.addReader(pairs[0]![0], reader(pairs[0]![0], pairs[1]![0]));
  loop.addReader(pairs[1]![0], reader(pairs[1]![0], pairs[0]![0]));
  for (const [, w] of pairs) w.send(Buffer.from('x'));
  await loop.runForever();
  t.false(first);
  t.is(freshCalls, 0);
});

test('readers and writers work on the loop of a worker thread', async (t) => {
  const worker = new Worker(new URL('./poll.worker.js', import.meta.url));
  const seen = await new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  await worker.terminate();
  t.deepEqual(seen, ['writable', 'read from a']);
});

test('500 watch cycles on new sockets leak no fd', (t) => {
  const loop = loopFor(t);
  const before = openFds();
  for (let i = 0; i < 500; i++) {
    const [a, b] = socketpair();
    loop.addReader(a, () => {});
    loop.addWriter(b, () => {});
    if (i % 2 === 0) loop.removeReader(a);
    a.close();
    b.close();
  }
  t.is(openFds(), before);
});
