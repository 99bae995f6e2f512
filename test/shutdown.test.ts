/**
 * Graceful shutdown of a runtime (child processes): SIGTERM under load
 * lets in-flight requests finish, a second SIGINT exits at once, and a
 * shutdown timeout closes what is still open.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { get } from './helpers/http.js';

const FIXTURE = fileURLToPath(new URL('./shutdown.fixture.js', import.meta.url));

interface Child {
  child: ChildProcess;
  port: number;
  /** Resolves when `count` 'started' lines have been printed in all. */
  started(count: number): Promise<void>;
  exited: Promise<{ code: number | null; signal: string | null; stdout: string }>;
}

async function startFixture(mode: string): Promise<Child> {
  const child = spawn(process.execPath, [FIXTURE, mode], { stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  const waiters: (() => void)[] = [];
  child.stdout!.on('data', (chunk) => {
    stdout += chunk;
    for (const wake of waiters.splice(0)) wake();
  });
  const exited = new Promise<{ code: number | null; signal: string | null; stdout: string }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal, stdout })),
  );
  const until = async (ok: () => boolean): Promise<void> => {
    while (!ok()) await new Promise<void>((resolve) => waiters.push(resolve));
  };
  await until(() => /port (\d+)/.test(stdout));
  const port = Number(/port (\d+)/.exec(stdout)![1]);
  return { child, port, exited, started: (count) => until(() => (stdout.match(/started/g) ?? []).length >= count) };
}

/** Resolves once connecting to `port` is refused: the runtime stopped listening. */
async function refused(port: number): Promise<void> {
  for (;;) {
    const outcome = await new Promise<string>((resolve) => {
      const sock = net.connect(port, '127.0.0.1');
      sock.once('connect', () => {
        sock.destroy();
        resolve('connected');
      });
      sock.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
    });
    if (outcome === 'ECONNREFUSED') return;
  }
}

test('SIGTERM under load: in-flight requests finish, then the process exits 0', async (t) => {
  const { child, port, started, exited } = await startFixture('default');
  const requests = [0, 1, 2, 3].map(() => get(port, '/?delay=0.3&notify=1'));
  await started(4);
  child.kill('SIGTERM');
  const responses = await Promise.all(requests);
  t.deepEqual(responses.map((r) => r.status), [200, 200, 200, 200]);
  t.true(responses.every((r) => /^hello from [01]\n$/.test(r.body)));
  const { code, signal } = await exited;
  t.deepEqual({ code, signal }, { code: 0, signal: null });
});

test('a second SIGINT during a graceful shutdown exits at once with status 130', async (t) => {
  const { child, port, started, exited } = await startFixture('default');
  const request = get(port, '/?delay=30&notify=1').catch((err: NodeJS.ErrnoException) => err.code);
  await started(1);
  child.kill('SIGINT');
  await refused(port);
  child.kill('SIGINT');
  const { code, signal } = await exited;
  t.deepEqual({ code, signal }, { code: 130, signal: null });
  t.is(await request, 'ECONNRESET');
});

test('shutdown({ timeout }) closes the connections still open at the deadline', async (t) => {
  const { child, port, started, exited } = await startFixture('timeout');
  const request = get(port, '/?delay=30&notify=1').catch((err: NodeJS.ErrnoException) => err.code);
  await started(1);
  child.kill('SIGTERM');
  t.is(await request, 'ECONNRESET');
  const { code, stdout } = await exited;
  t.is(code, 0);
  t.regex(stdout, /closed 1\n/);
});
