/**
 * Signals for worker loops (child processes): a worker loop's handler runs
 * on that worker's loop, through the coordinator; removing it withdraws the
 * coordinator's listener.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import test from 'ava';

function runFixture(mode: string): Promise<{ code: number | null; signal: string | null; stdout: string }> {
  const fixture = fileURLToPath(new URL('./worker-signals.fixture.js', import.meta.url));
  return new Promise((resolve) => {
    execFile(process.execPath, [fixture, mode], { timeout: 20_000 }, (error, stdout) => {
      const failure = error as (Error & { code?: number; signal?: string }) | null;
      resolve({ code: failure ? (failure.code ?? null) : 0, signal: failure?.signal ?? null, stdout });
    });
  });
}

test('a worker loop that adds a signal handler gets the signal on its own loop', async (t) => {
  const result = await runFixture('added');
  t.is(result.code, 0);
  t.deepEqual(JSON.parse(result.stdout), { index: 1, sig: 'SIGUSR2', onWorkerThread: true });
});

test('after the worker removes its handler, the signal has its default action again', async (t) => {
  const result = await runFixture('removed');
  t.is(result.signal, 'SIGUSR2');
  t.is(result.stdout, '');
});
