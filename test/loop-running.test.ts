/**
 * Running and stopping the loop: the seed's run_forever / run_until_complete /
 * stop / close semantics (CPython test_base_events, BaseEventLoopTests).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { RuntimeError } from 'multiloop';
import { loopFor, runOnce, test } from './helpers/loop.js';

test('a new loop is neither running nor closed', (t) => {
  const loop = loopFor(t);
  t.false(loop.isRunning());
  t.false(loop.isClosed());
});

test('callbacks run only while the loop runs', async (t) => {
  const loop = loopFor(t);
  let calls = 0;
  loop.callSoon(() => calls++);
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setTimeout(resolve, 0));
  t.is(calls, 0);
  await runOnce(loop);
  t.is(calls, 1);
});

test('isRunning is true inside callbacks and false once runForever settles', async (t) => {
  const loop = loopFor(t);
  let inside: boolean | undefined;
  loop.callSoon(() => {
    inside = loop.isRunning();
    loop.stop();
  });
  await loop.runForever();
  t.true(inside);
  t.false(loop.isRunning());
});

test('stop() before runForever() runs exactly one iteration', async (t) => {
  const loop = loopFor(t);
  const order: string[] = [];
  loop.callSoon(() => {
    order.push('first');
    loop.callSoon(() => order.push('second'));
  });
  loop.stop();
  await loop.runForever();
  t.deepEqual(order, ['first']);
  await runOnce(loop);
  t.deepEqual(order, ['first', 'second']);
});

test('a callback scheduled during an iteration runs in the next iteration', async (t) => {
  const loop = loopFor(t);
  const order: string[] = [];
  loop.callSoon(() => {
    order.push('a');
    loop.callSoon(() => order.push('c'));
  });
  loop.callSoon(() => order.push('b'));
  await runOnce(loop);
  t.deepEqual(order, ['a', 'b']);
  await runOnce(loop);
  t.deepEqual(order, ['a', 'b', 'c']);
});

test('stop() from a callback lets the rest of the iteration run and keeps later callbacks for the next run', async (t) => {
  const loop = loopFor(t);
  const order: string[] = [];
  loop.callSoon(() => {
    order.push('stopper');
    loop.stop();
    loop.callSoon(() => order.push('after stop'));
  });
  loop.callSoon(() => order.push('same iteration'));
  await loop.runForever();
  t.deepEqual(order, ['stopper', 'same iteration']);
  await runOnce(loop);
  t.deepEqual(order, ['stopper', 'same iteration', 'after stop']);
});

test('runForever can run again after it stopped', async (t) => {
  const loop = loopFor(t);
  let runs = 0;
  for (let i = 0; i < 3; i++) {
    loop.callSoon(() => {
      runs++;
      loop.stop();
    });
    await loop.runForever();
  }
  t.is(runs, 3);
});

test('a running loop keeps the process alive until it stops, and no longer', async (t) => {
  // In a child process: the loop's only company is an unref'd timer that
  // stops it, which would never fire if the loop did not hold the process.
  const script = `
    import { newEventLoop } from 'multiloop';
    const loop = newEventLoop();
    setTimeout(() => loop.stop(), 50).unref();
    await loop.runForever();
    loop.close();
    console.log('stopped');
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  const [code] = await once(child, 'exit');
  t.is(code, 0);
  t.is(output.trim(), 'stopped');
});

test('runUntilComplete settles with the future result', async (t) => {
  const loop = loopFor(t);
  const future = loop.createFuture<string>();
  loop.callSoon(() => future.setResult('done'));
  t.is(await loop.runUntilComplete(future), 'done');
  t.false(loop.isRunning());
});

test('runUntilComplete rejects with the future exception', async (t) => {
  const loop = loopFor(t);
  const future = loop.createFuture();
  const error = new Error('boom');
  loop.callSoon(() => future.setException(error));
  const thrown = await t.throwsAsync(loop.runUntilComplete(future));
  t.is(thrown, error);
});

test('runUntilComplete of a done future runs one iteration and returns', async (t) => {
  const loop = loopFor(t);
  const future = loop.createFuture<number>();
  future.setResult(7);
  t.is(await loop.runUntilComplete(future), 7);
});

test('runUntilComplete rejects with RuntimeError when the loop stops before the future is done', async (t) => {
  const loop = loopFor(t);
  const future = loop.createFuture();
  loop.callSoon(() => loop.stop());
  await t.throwsAsync(loop.runUntilComplete(future), { instanceOf: RuntimeError });
  t.false(future.done());
});

test('runForever on a running loop throws RuntimeError', async (t) => {
  const loop = loopFor(t);
  let error: unknown;
  loop.callSoon(() => {
    try {
      void loop.runForever();
    } catch (exc) {
      error = exc;
    }
    loop.stop();
  });
  await loop.runForever();
  t.true(error instanceof RuntimeError);
});

test('runUntilComplete on a running loop throws RuntimeError', async (t) => {
  const loop = loopFor(t);
  let error: unknown;
  loop.callSoon(() => {
    try {
      void loop.runUntilComplete(loop.createFuture());
    } catch (exc) {
      error = exc;
    }
    loop.stop();
  });
  await loop.runForever();
  t.true(error instanceof RuntimeError);
});

test('running a second loop while one runs on the thread throws RuntimeError', async (t) => {
  const loop = loopFor(t);
  const other = loopFor(t);
  const errors: unknown[] = [];
  loop.callSoon(() => {
    try {
      void other.runForever();
    } catch (exc) {
      errors.push(exc);
    }
    try {
      void other.runUntilComplete(other.createFuture());
    } catch (exc) {
      errors.push(exc);
    }
    loop.stop();
  });
  await loop.runForever();
  t.is(errors.length, 2);
  t.true(errors.every((e) => e instanceof RuntimeError));
  t.false(other.isRunning());
});

test('runUntilComplete refused because another loop runs does not start the coroutine', async (t) => {
  const loop = loopFor(t);
  const other = loopFor(t);
  let started = false;
  loop.callSoon(() => {
    t.throws(() => other.runUntilComplete(async () => { started = true; }), { instanceOf: RuntimeError });
    loop.stop();
  });
  await loop.runForever();
  await runOnce(other);
  t.false(started);
});

test('close() while running throws RuntimeError and leaves the loop open', async (t) => {
  const loop = loopFor(t);
  let error: unknown;
  loop.callSoon(() => {
    try {
      loop.close();
    } catch (exc) {
      error = exc;
    }
    loop.stop();
  });
  await loop.runForever();
  t.true(error instanceof RuntimeError);
  t.false(loop.isClosed());
});

test('close() is idempotent', (t) => {
  const loop = loopFor(t);
  loop.close();
  t.notThrows(() => loop.close());
  t.true(loop.isClosed());
});

test('after close() every scheduling call throws RuntimeError', (t) => {
  const loop = loopFor(t);
  loop.close();
  const noop = (): void => {};
  t.throws(() => loop.callSoon(noop), { instanceOf: RuntimeError });
  t.throws(() => loop.callSoonThreadsafe(noop), { instanceOf: RuntimeError });
  t.throws(() => loop.callLater(0, noop), { instanceOf: RuntimeError });
  t.throws(() => loop.callAt(loop.time(), noop), { instanceOf: RuntimeError });
});

test('after close() runForever and runUntilComplete throw RuntimeError', (t) => {
  const loop = loopFor(t);
  const future = loop.createFuture();
  loop.close();
  t.throws(() => loop.runForever(), { instanceOf: RuntimeError });
  t.throws(() => loop.runUntilComplete(future), { instanceOf: RuntimeError });
});

test('after close() createTask and createFuture throw RuntimeError', (t) => {
  const loop = loopFor(t);
  loop.close();
  let started = false;
  t.throws(() => loop.createTask(async () => { started = true; }), { instanceOf: RuntimeError });
  t.throws(() => loop.createFuture(), { instanceOf: RuntimeError });
  t.false(started);
});

test('after close() runInExecutor and addSignalHandler throw RuntimeError', (t) => {
  const loop = loopFor(t);
  loop.close();
  t.throws(() => loop.runInExecutor(null, () => 1), { instanceOf: RuntimeError });
  t.throws(() => loop.addSignalHandler('SIGUSR2', () => {}), { instanceOf: RuntimeError });
});

test('close() drops the callbacks and timers still pending', async (t) => {
  const loop = loopFor(t);
  let calls = 0;
  loop.callSoon(() => calls++);
  loop.callLater(0, () => calls++);
  loop.close();
  await new Promise((resolve) => setImmediate(resolve));
  t.is(calls, 0);
});
