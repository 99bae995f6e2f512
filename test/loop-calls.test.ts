/**
 * callSoon, callSoonThreadsafe and Handle (CPython test_base_events / test_events HandleTests).
 */
import { Handle } from 'multiloop';
import { loopFor, runOnce, test } from './helpers/loop.js';

test('callSoon returns a Handle that is not cancelled', (t) => {
  const loop = loopFor(t);
  const handle = loop.callSoon(() => {});
  t.true(handle instanceof Handle);
  t.false(handle.cancelled());
});

test('callSoon passes its extra arguments to the callback', async (t) => {
  const loop = loopFor(t);
  let received: unknown[] = [];
  const marker = {};
  loop.callSoon((...args: unknown[]) => { received = args; }, 1, 'two', marker);
  await runOnce(loop);
  t.deepEqual(received, [1, 'two', marker]);
  t.is(received[2], marker);
});

test('callSoon runs callbacks in FIFO order, each exactly once, however many are queued', async (t) => {
  const loop = loopFor(t);
  const order: number[] = [];
  // A first batch moves the queue's start, so the second wraps around while it grows.
  for (let i = 0; i < 700; i++) loop.callSoon((n: number) => order.push(n), i);
  await runOnce(loop);
  for (let i = 700; i < 5000; i++) loop.callSoon((n: number) => order.push(n), i);
  await runOnce(loop);
  await runOnce(loop);
  t.deepEqual(order, Array.from({ length: 5000 }, (_, i) => i));
});

test('callSoonThreadsafe on the loop thread behaves as callSoon, in the same FIFO', async (t) => {
  const loop = loopFor(t);
  const order: string[] = [];
  loop.callSoon(() => order.push('soon 1'));
  const handle = loop.callSoonThreadsafe((x: string) => order.push(x), 'threadsafe');
  loop.callSoon(() => order.push('soon 2'));
  t.true(handle instanceof Handle);
  await runOnce(loop);
  t.deepEqual(order, ['soon 1', 'threadsafe', 'soon 2']);
});

test('a callback scheduled from a Node callback wakes an idle running loop', async (t) => {
  const loop = loopFor(t);
  setImmediate(() => loop.callSoon(() => loop.stop()));
  await loop.runForever();
  t.false(loop.isRunning());
});

test('an async callback that rejects reaches the exception handler with its Handle', async (t) => {
  const loop = loopFor(t);
  const error = new Error('rejected');
  const reported = loop.createFuture<Record<string, unknown>>();
  loop.setExceptionHandler((_l, context) => reported.setResult(context));
  const handle = loop.callSoon(async () => {
    await null;
    throw error;
  });
  const context = await loop.runUntilComplete(reported);
  t.is(context.exception, error);
  t.is(context.handle, handle);
  t.regex(String(context.message), /^Exception in callback/);
});

test('a cancelled handle never runs', async (t) => {
  const loop = loopFor(t);
  let calls = 0;
  const handle = loop.callSoon(() => calls++);
  handle.cancel();
  t.true(handle.cancelled());
  await runOnce(loop);
  t.is(calls, 0);
});

test('a handle cancelled by an earlier callback of the same iteration does not run', async (t) => {
  const loop = loopFor(t);
  let calls = 0;
  loop.callSoon(() => victim.cancel());
  const victim = loop.callSoon(() => calls++);
  await runOnce(loop);
  t.is(calls, 0);
  t.true(victim.cancelled());
});

test('cancelling a handle twice, or after it ran, is harmless', async (t) => {
  const loop = loopFor(t);
  let calls = 0;
  const handle = loop.callSoon(() => calls++);
  await runOnce(loop);
  t.notThrows(() => {
    handle.cancel();
    handle.cancel();
  });
  t.is(calls, 1);
  t.true(handle.cancelled());
});

test('a Handle describes its callback and state', (t) => {
  const loop = loopFor(t);
  const handle = loop.callSoon(function greet() {});
  t.regex(String(handle), /greet/);
  handle.cancel();
  t.regex(String(handle), /cancelled/);
});
