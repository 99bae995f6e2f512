import test, { type ExecutionContext } from 'ava';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Worker } from 'node:worker_threads';
import { native } from '../native/index.js';
import { openFds } from './helpers/fds.js';

const { AF_INET, AF_UNIX, SOCK_STREAM } = native.constants;

/** A listening TCP socket on 127.0.0.1, closed when the test ends. */
function listener(t: { teardown(fn: () => void): void }): [number, number] {
  const fd = native.socket(AF_INET, SOCK_STREAM, 0);
  t.teardown(() => native.close(fd));
  native.bind(fd, AF_INET, '127.0.0.1', 0);
  native.listen(fd, 16);
  const [, port] = native.getsockname(fd) as [string, number];
  return [fd, port];
}

function runWorker(mode: string): Worker {
  return new Worker(new URL('./native.worker.js', import.meta.url), { workerData: { mode } });
}

/** The first message of test/native.worker.ts in `mode`; the worker is then terminated. Rejects if it fails or exits first. */
async function firstReport(mode: string): Promise<unknown> {
  const worker = runWorker(mode);
  try {
    return await new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`worker exited with ${code} before reporting`)));
    });
  } finally {
    await worker.terminate();
  }
}

test('a refused connect reports ECONNREFUSED with a negative errno and the syscall', (t) => {
  // A bound socket that does not listen: the kernel refuses connections to its port.
  const bound = native.socket(AF_INET, SOCK_STREAM, 0);
  t.teardown(() => native.close(bound));
  native.bind(bound, AF_INET, '127.0.0.1', 0);
  const [, port] = native.getsockname(bound) as [string, number];
  const fd = native.socket(AF_INET, SOCK_STREAM, 0);
  t.teardown(() => native.close(fd));
  const error = t.throws(() => {
    if (native.connect(fd, AF_INET, '127.0.0.1', port)) return;
    // A loopback connect finishes within microseconds: spin until it does.
    for (;;) {
      native.connectResult(fd);
      try {
        native.getpeername(fd);
        return;
      } catch {
        // still in progress
      }
    }
  }) as NodeJS.ErrnoException;
  t.is(error.code, 'ECONNREFUSED');
  t.is(error.errno, -111);
  t.is(error.syscall, 'connect');
  t.is(error.message, 'connect ECONNREFUSED');
});

/**
 * A listening socket, checked to have nothing pending (`accept` returns
 * null), then a client connecting to it; `accept` is called until it
 * returns the connection. Everything is closed when the test ends.
 */
function acceptOne<T>(t: ExecutionContext, accept: (fd: number) => T | null): { accepted: T; client: number } {
  const [server, port] = listener(t);
  t.is(accept(server), null);
  const client = native.socket(AF_INET, SOCK_STREAM, 0);
  t.teardown(() => native.close(client));
  native.connect(client, AF_INET, '127.0.0.1', port);
  let accepted: T | null = null;
  while (accepted === null) accepted = accept(server);
  return { accepted, client };
}

test('accept returns null when no connection is pending, then [fd, peer address]', (t) => {
  const { accepted: [fd, peer], client } = acceptOne(t, native.accept);
  t.teardown(() => native.close(fd));
  t.deepEqual(peer, native.getsockname(client));
  t.true(native.isNonBlocking(fd));
});

test('acceptFd returns null when no connection is pending, then the new non-blocking fd, connected to the client', (t) => {
  const { accepted: fd, client } = acceptOne(t, native.acceptFd);
  t.teardown(() => native.close(fd));
  t.deepEqual(native.getpeername(fd), native.getsockname(client));
  t.true(native.isNonBlocking(fd));
});

test('recv and send return null instead of blocking, and move bytes otherwise', (t) => {
  const [a, b] = native.socketpair(AF_UNIX, SOCK_STREAM, 0);
  t.teardown(() => {
    native.close(a);
    native.close(b);
  });
  const buffer = Buffer.alloc(8);
  t.is(native.recv(a, buffer, 0, 8), null);
  t.is(native.send(b, Buffer.from('hello'), 1, 3), 3);
  t.is(native.recv(a, buffer, 2, 6), 3);
  t.is(buffer.subarray(2, 5).toString(), 'ell');
  t.throws(() => native.recv(a, buffer, 4, 8), { instanceOf: RangeError });
});

test('dup gives a new close-on-exec fd for the same socket', (t) => {
  const [server, port] = listener(t);
  const copy = native.dup(server);
  t.not(copy, server);
  const flags = /flags:\s+(\d+)/.exec(fs.readFileSync(`/proc/self/fdinfo/${copy}`, 'utf8'))![1]!;
  t.true((parseInt(flags, 8) & 0o2000000) !== 0, 'O_CLOEXEC set');
  t.deepEqual(native.getsockname(copy), ['127.0.0.1', port]);
  native.close(copy);
  t.throws(() => native.getsockname(copy), { code: 'EBADF' });
});

test('close of a closed fd throws EBADF', (t) => {
  const fd = native.socket(AF_INET, SOCK_STREAM, 0);
  native.close(fd);
  t.throws(() => native.close(fd), { code: 'EBADF', message: 'close EBADF' });
});

test('wrong argument types throw TypeError naming the argument', (t) => {
  t.throws(() => native.socket('2' as unknown as number, SOCK_STREAM, 0), { instanceOf: TypeError, message: /family/ });
  t.throws(() => native.recv(0, 'abc' as unknown as Buffer, 0, 1), { instanceOf: TypeError, message: /buffer/ });
  t.throws(() => native.send(0, new Uint16Array(2) as unknown as Buffer, 0, 1), { instanceOf: TypeError, message: /buffer must be a Uint8Array/ });
  t.throws(() => native.send(0, Buffer.alloc(1), '0' as unknown as number, 1), { instanceOf: TypeError, message: /offset must be a number/ });
  t.throws(() => native.recv(null as unknown as number, Buffer.alloc(1), 0, 1), { instanceOf: TypeError, message: /fd must be a number/ });
  // Refused before anything changes: this thread's dispatcher stays as it was.
  t.throws(() => native.pollInit(() => {}, new Uint8Array(12) as unknown as Int32Array), { instanceOf: TypeError, message: /batch must be an Int32Array/ });
  t.throws(() => native.pollInit(() => {}, new Int32Array(2)), { instanceOf: TypeError, message: /batch must be an Int32Array of 3 or more/ });
  t.throws(() => native.pollStart({} as never, 1), { instanceOf: TypeError, message: /watch/ });
});

test('socketpairs and dup fds leak no fd once closed', (t) => {
  const before = openFds();
  for (let i = 0; i < 50; i++) {
    const [a, b] = native.socketpair(AF_UNIX, SOCK_STREAM, 0);
    native.close(native.dup(a));
    native.close(a);
    native.close(b);
  }
  t.is(openFds(), before);
});

test('poll handles deliver writable then readable events in a worker thread without consuming data', async (t) => {
  t.deepEqual(await firstReport('events'), { id: 7, status: 0, seen: ['writable'], data: 'ping' });
});

test('the poll events of one loop turn reach JS in one dispatch call', async (t) => {
  t.deepEqual(await firstReport('batch'), { count: 2, ids: [1, 2] });
});

test('worker.terminate() with a started poll handle ends the worker cleanly', async (t) => {
  const worker = runWorker('armed');
  await new Promise((resolve) => worker.once('message', resolve));
  const exitCode = await worker.terminate();
  t.is(exitCode, 1);
});

test('a worker that ends by itself with a started poll handle exits with code 0', async (t) => {
  const worker = runWorker('armed-exit');
  const exitCode = await new Promise((resolve) => worker.once('exit', resolve));
  t.is(exitCode, 0);
});

test('process.exit() with a started poll handle exits normally', async (t) => {
  const fixture = fileURLToPath(new URL('./native-exit.fixture.js', import.meta.url));
  const { stdout, stderr } = await promisify(execFile)(process.execPath, [fixture], { timeout: 10_000 });
  t.is(stdout + stderr, '');
});
