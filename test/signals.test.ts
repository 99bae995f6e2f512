import { execFile } from 'node:child_process';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { Handle, RuntimeError, getRunningLoop, newEventLoop, type EventLoop } from 'multiloop';
import { loopFor, runOnce, test } from './helpers/loop.js';

const { SIGUSR2, SIGKILL, SIGSTOP } = constants.signals;

/** Sends SIGUSR2 to this process and settles once Node has dispatched it to its listeners. */
function sendSigusr2(): Promise<void> {
  // Node's signal watchers do not keep the process alive; this interval does until delivery.
  const keepAlive = setInterval(() => {}, 1000);
  const delivered = new Promise<void>((resolve) =>
    process.once('SIGUSR2', () => {
      clearInterval(keepAlive);
      resolve();
    }),
  );
  process.kill(process.pid, 'SIGUSR2');
  return delivered;
}

/** Removes `loop`'s SIGUSR2 handler when the test ends, if it is still there. */
function cleanup(t: { teardown(fn: () => void): void }, loop: EventLoop): void {
  t.teardown(() => {
    if (!loop.isClosed()) loop.removeSignalHandler('SIGUSR2');
  });
}

function runFixture(mode: string): Promise<{ code: number | null; signal: string | null; stdout: string }> {
  const fixture = fileURLToPath(new URL('./signals.fixture.js', import.meta.url));
  return new Promise((resolve) => {
    execFile(process.execPath, [fixture, mode], { timeout: 10_000 }, (error, stdout) => {
      const failure = error as (Error & { code?: number; signal?: string }) | null;
      resolve({ code: failure ? failure.code ?? null : 0, signal: failure?.signal ?? null, stdout });
    });
  });
}

test('a handler added by name runs as a loop callback with its args when the signal arrives', async (t) => {
  const loop = loopFor(t);
  cleanup(t, loop);
  const calls: unknown[] = [];
  loop.addSignalHandler('SIGUSR2', (...args: unknown[]) => {
    calls.push({ args, running: getRunningLoop() === loop });
    loop.stop();
  }, 'a', 1);
  loop.callSoon(() => process.kill(process.pid, 'SIGUSR2'));
  await loop.runForever();
  t.deepEqual(calls, [{ args: ['a', 1], running: true }]);
});

test('a handler added by number runs when the signal arrives', async (t) => {
  const loop = loopFor(t);
  cleanup(t, loop);
  let called = 0;
  loop.addSignalHandler(SIGUSR2, () => {
    called++;
    loop.stop();
  });
  loop.callSoon(() => process.kill(process.pid, SIGUSR2));
  await loop.runForever();
  t.is(called, 1);
});

test("a failing handler is reported to the loop's exception handler with its Handle", async (t) => {
  const loop = loopFor(t);
  cleanup(t, loop);
  const contexts: Record<string, unknown>[] = [];
  loop.setExceptionHandler((_loop, context) => {
    contexts.push(context);
    loop.stop();
  });
  loop.addSignalHandler('SIGUSR2', () => {
    throw new Error('handler failed');
  });
  loop.callSoon(() => process.kill(process.pid, 'SIGUSR2'));
  await loop.runForever();
  t.is(contexts.length, 1);
  t.true(contexts[0]!.handle instanceof Handle);
  t.is((contexts[0]!.exception as Error).message, 'handler failed');
});

test('a signal that arrives while the loop is stopped is handled when it runs again', async (t) => {
  const loop = loopFor(t);
  cleanup(t, loop);
  let called = 0;
  loop.addSignalHandler('SIGUSR2', () => called++);
  await sendSigusr2();
  t.is(called, 0);
  await runOnce(loop);
  t.is(called, 1);
});

test('adding a handler replaces the previous handler of the signal', async (t) => {
  const loop = loopFor(t);
  cleanup(t, loop);
  const calls: string[] = [];
  loop.addSignalHandler('SIGUSR2', () => calls.push('first'));
  loop.addSignalHandler(SIGUSR2, () => {
    calls.push('second');
    loop.stop();
  });
  loop.callSoon(() => process.kill(process.pid, 'SIGUSR2'));
  await loop.runForever();
  t.deepEqual(calls, ['second']);
});

test('removeSignalHandler returns true when a handler was removed, false otherwise, by name or number', (t) => {
  const loop = loopFor(t);
  const listeners = process.listenerCount('SIGUSR2');
  t.false(loop.removeSignalHandler('SIGUSR2'));
  loop.addSignalHandler('SIGUSR2', () => {});
  t.is(process.listenerCount('SIGUSR2'), listeners + 1);
  t.false(loopFor(t).removeSignalHandler(SIGUSR2), "another loop's handler is not removed");
  t.true(loop.removeSignalHandler(SIGUSR2));
  t.false(loop.removeSignalHandler('SIGUSR2'));
  t.is(process.listenerCount('SIGUSR2'), listeners);
});

test('SIGKILL and SIGSTOP cannot be caught: RangeError', (t) => {
  const loop = loopFor(t);
  for (const sig of ['SIGKILL', SIGKILL, 'SIGSTOP', SIGSTOP]) {
    t.throws(() => loop.addSignalHandler(sig, () => {}), { instanceOf: RangeError, message: /cannot be caught/ });
  }
});

test('an unknown signal throws RangeError, a signal of the wrong type TypeError', (t) => {
  const loop = loopFor(t);
  for (const sig of ['SIGFOO', 'sigint', 0, 9999, -2]) {
    t.throws(() => loop.addSignalHandler(sig, () => {}), { instanceOf: RangeError, message: /not a signal/ });
    t.throws(() => loop.removeSignalHandler(sig), { instanceOf: RangeError });
  }
  for (const sig of [1.5, null, {}, ['SIGINT']]) {
    t.throws(() => loop.addSignalHandler(sig as never, () => {}), { instanceOf: TypeError, message: /sig must be/ });
  }
});

test('a callback that is not a function throws TypeError', (t) => {
  const loop = loopFor(t);
  t.throws(() => loop.addSignalHandler('SIGUSR2', 'nope' as never), { instanceOf: TypeError, message: /callback/ });
});

test('addSignalHandler on a closed loop throws RuntimeError', (t) => {
  const loop = newEventLoop();
  loop.close();
  t.throws(() => loop.addSignalHandler('SIGUSR2', () => {}), { instanceOf: RuntimeError });
});

test("a worker thread's loop refuses signal handlers with a RuntimeError that points to the coordinator", async (t) => {
  const worker = new Worker(new URL('./signals.worker.js', import.meta.url));
  const errors = await new Promise<{ name: string; message: string }[]>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  await worker.terminate();
  t.is(errors.length, 2);
  for (const error of errors) {
    t.is(error.name, 'RuntimeError');
    t.regex(error.message, /coordinator/);
  }
});

test('with a handler installed, the signal no longer ends the process (child process)', async (t) => {
  const result = await runFixture('installed');
  t.deepEqual(result, { code: 0, signal: null, stdout: 'handled\n' });
});

test('removing the last handler restores the default action: the signal ends the process (child process)', async (t) => {
  const result = await runFixture('removed');
  t.is(result.signal, 'SIGUSR2');
  t.is(result.stdout, '');
});

test("closing the loop removes its handlers: the signal ends the process (child process)", async (t) => {
  const result = await runFixture('closed');
  t.is(result.signal, 'SIGUSR2');
  t.is(result.stdout, '');
});
