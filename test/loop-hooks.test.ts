/**
 * The loop core's hooks for the I/O modules (`_callIo`, `_addIterationHook`,
 * `_wakeup`) and its fairness to Node's own event loop: what the transports,
 * the cross-thread inbox and the poller rely on.
 */
import { readFile } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { RuntimeError, type ExceptionContext } from 'multiloop';
import { loopFor, runOnce, test } from './helpers/loop.js';

test('_callIo while the loop is stopped queues the calls, in order, for the next run', async (t) => {
  const loop = loopFor(t);
  const calls: number[] = [];
  loop._callIo((n: number) => calls.push(n), 1);
  loop._callIo((n: number) => calls.push(n), 2);
  t.deepEqual(calls, []);
  await runOnce(loop);
  t.deepEqual(calls, [1, 2]);
});

test('_callIo while the loop runs delivers at once', async (t) => {
  const loop = loopFor(t);
  let delivered = false;
  await loop.runUntilComplete(async () => {
    // From a Node callback, as an I/O event arrives.
    await new Promise<void>((resolve) => setImmediate(() => {
      loop._callIo(() => { delivered = true; });
      resolve();
    }));
  });
  t.true(delivered);
});

test('_callIo does not overtake callbacks already waiting to run', async (t) => {
  const loop = loopFor(t);
  const calls: string[] = [];
  await loop.runUntilComplete(async () => {
    await new Promise<void>((resolve) => setImmediate(() => {
      loop.callSoon(() => calls.push('scheduled first'));
      loop._callIo(() => calls.push('I/O event'));
      resolve();
    }));
  });
  t.deepEqual(calls, ['scheduled first', 'I/O event']);
});

test('an exception in a _callIo callback goes to the exception handler', async (t) => {
  const loop = loopFor(t);
  const contexts: ExceptionContext[] = [];
  loop.setExceptionHandler((_loop, context) => contexts.push(context));
  const error = new Error('protocol broke');
  await loop.runUntilComplete(async () => {
    await new Promise<void>((resolve) => setImmediate(() => {
      loop._callIo(function dataReceived() { throw error; });
      resolve();
    }));
  });
  t.is(contexts.length, 1);
  t.is(contexts[0]!.exception, error);
  t.regex(contexts[0]!.message, /dataReceived/);
});

test('_callIo on a closed loop drops the call without throwing', (t) => {
  const loop = loopFor(t);
  loop.close();
  let called = false;
  t.notThrows(() => loop._callIo(() => { called = true; }));
  t.false(called);
});

test('an iteration hook runs at the start of every iteration until unregistered', async (t) => {
  const loop = loopFor(t);
  const events: string[] = [];
  const unregister = loop._addIterationHook(() => {
    events.push('hook');
    return false;
  });
  loop.callSoon(() => events.push('callback'));
  await runOnce(loop);
  await runOnce(loop);
  unregister();
  await runOnce(loop);
  t.deepEqual(events, ['hook', 'callback', 'hook']);
});

test('an iteration hook added during an iteration runs at the start of the next one', async (t) => {
  const loop = loopFor(t);
  const events: string[] = [];
  let unregister = (): void => {};
  loop.callSoon(() => {
    unregister = loop._addIterationHook(() => {
      events.push('hook');
      loop.stop();
      return false;
    });
    events.push('added');
  });
  const guard = loop.callLater(1, () => { events.push('guard'); loop.stop(); }); // a failure must not hang the test
  await loop.runForever();
  guard.cancel();
  unregister();
  t.deepEqual(events, ['added', 'hook']);
});

test('an iteration hook with pending work keeps the loop iterating', async (t) => {
  const loop = loopFor(t);
  let runs = 0;
  const unregister = loop._addIterationHook(() => {
    runs++;
    if (runs === 5) loop.stop();
    return runs < 5;
  });
  await loop.runForever();
  unregister();
  t.is(runs, 5);
});

test('an exception in an iteration hook goes to the exception handler and the loop goes on', async (t) => {
  const loop = loopFor(t);
  const contexts: ExceptionContext[] = [];
  loop.setExceptionHandler((_loop, context) => contexts.push(context));
  const unregister = loop._addIterationHook(() => { throw new Error('hook broke'); });
  let ran = false;
  loop.callSoon(() => { ran = true; });
  await runOnce(loop);
  unregister();
  t.true(ran);
  t.is(contexts.length, 1);
});

test('_addIterationHook on a closed loop throws RuntimeError', (t) => {
  const loop = loopFor(t);
  loop.close();
  t.throws(() => loop._addIterationHook(() => false), { instanceOf: RuntimeError });
});

test('_wakeup makes an idle running loop run an iteration', async (t) => {
  const loop = loopFor(t);
  let wanted = false;
  const unregister = loop._addIterationHook(() => {
    if (wanted) loop.stop();
    return false;
  });
  setImmediate(() => {
    wanted = true;
    loop._wakeup();
  });
  await loop.runForever();
  unregister();
  t.true(wanted);
});

test('an endless callSoon chain does not starve Node timers or I/O', async (t) => {
  const loop = loopFor(t);
  let iterations = 0;
  const spin = (): void => {
    iterations++;
    loop.callSoon(spin);
  };
  loop.callSoon(spin);
  let timerFired = false;
  let fileRead = false;
  const check = (): void => {
    if (timerFired && fileRead) loop.stop();
  };
  setTimeout(() => { timerFired = true; check(); }, 1);
  readFile(fileURLToPath(import.meta.url), () => { fileRead = true; check(); });
  await loop.runForever();
  t.true(timerFired && fileRead);
  t.true(iterations > 0);
});
