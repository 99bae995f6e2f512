/**
 * callLater, callAt, TimerHandle and the loop clock (CPython test_base_events timer tests).
 */
import { TimerHandle } from 'multiloop';
import { loopFor, runFor, runOnce, test } from './helpers/loop.js';

test('time() is a monotonic clock in seconds', async (t) => {
  const loop = loopFor(t);
  const seconds = (): number => Number(process.hrtime.bigint()) / 1e9;
  // Bracketed by an independent clock, so a preemption between two reads cannot fail the test.
  const hrBeforeStart = seconds();
  const start = loop.time();
  const hrAfterStart = seconds();
  let previous = start;
  let monotonic = true;
  for (let i = 0; i < 1000; i++) {
    const now = loop.time();
    if (now < previous) monotonic = false;
    previous = now;
  }
  await runFor(loop, 0.05);
  const hrBeforeEnd = seconds();
  const elapsed = loop.time() - start;
  const hrAfterEnd = seconds();
  t.true(monotonic);
  t.true(elapsed >= 0.05, `elapsed ${elapsed}`);
  const slack = 1e-4;
  t.true(elapsed >= hrBeforeEnd - hrAfterStart - slack && elapsed <= hrAfterEnd - hrBeforeStart + slack,
    `loop ${elapsed} s, hrtime between ${hrBeforeEnd - hrAfterStart} and ${hrAfterEnd - hrBeforeStart} s`);
});

test('callLater returns a TimerHandle whose when() is time() plus the delay', (t) => {
  const loop = loopFor(t);
  const before = loop.time();
  const handle = loop.callLater(1.5, () => {});
  const after = loop.time();
  t.true(handle instanceof TimerHandle);
  t.true(handle.when() >= before + 1.5 && handle.when() <= after + 1.5);
  handle.cancel();
});

test('callAt returns a TimerHandle whose when() is the given time', (t) => {
  const loop = loopFor(t);
  const when = loop.time() + 3.25;
  const handle = loop.callAt(when, () => {});
  t.is(handle.when(), when);
  handle.cancel();
});

test('a timer never runs before its deadline', async (t) => {
  const loop = loopFor(t);
  const late: number[] = [];
  const handles: TimerHandle[] = [];
  for (const delay of [0.001, 0.005, 0.011, 0.02]) {
    const handle: TimerHandle = loop.callLater(delay, () => late.push(loop.time() - handle.when()));
    handles.push(handle);
  }
  await runFor(loop, 0.03);
  t.is(late.length, 4);
  t.true(late.every((lateness) => lateness >= 0), `lateness ${late.join(', ')}`);
});

test('callLater and callAt timers run in deadline order, negative delays first', async (t) => {
  const loop = loopFor(t);
  const order: string[] = [];
  const now = loop.time();
  loop.callLater(0.03, () => order.push('0.03'));
  loop.callAt(now + 0.01, () => order.push('at +0.01'));
  loop.callLater(0.02, () => order.push('0.02'));
  loop.callLater(-1, () => order.push('-1'));
  loop.callAt(now + 0.015, () => order.push('at +0.015'));
  loop.callLater(0, () => order.push('0'));
  await runFor(loop, 0.04);
  t.deepEqual(order, ['-1', '0', 'at +0.01', 'at +0.015', '0.02', '0.03']);
});

test('timers within the same tenth of a millisecond run in deadline order, equal deadlines in scheduling order', async (t) => {
  const loop = loopFor(t);
  const order: string[] = [];
  const base = Math.floor(loop.time() * 10_000) / 10_000 + 0.01; // the start of one 0.1 ms timer bucket
  loop.callAt(base + 0.00008, () => order.push('+80us'));
  loop.callAt(base + 0.00002, () => order.push('+20us a'));
  loop.callAt(base + 0.00005, () => order.push('+50us'));
  loop.callAt(base + 0.00002, () => order.push('+20us b'));
  await runFor(loop, 0.03);
  t.deepEqual(order, ['+20us a', '+20us b', '+50us', '+80us']);
});

test('a timer in the past runs in the next iteration', async (t) => {
  const loop = loopFor(t);
  let calls = 0;
  loop.callAt(loop.time() - 100, () => calls++);
  loop.callLater(-5, () => calls++);
  await runOnce(loop);
  t.is(calls, 2);
});

test('a zero-delay timer set by a callback runs in the next iteration, after the callbacks already queued', async (t) => {
  const loop = loopFor(t);
  const order: string[] = [];
  loop.callSoon(() => {
    loop.callLater(0, () => order.push('timer'));
    loop.callSoon(() => order.push('callSoon'));
  });
  await runOnce(loop);
  t.deepEqual(order, []);
  await runOnce(loop);
  t.deepEqual(order, ['callSoon', 'timer']);
});

test('a timer passes its extra arguments to the callback', async (t) => {
  const loop = loopFor(t);
  let received: unknown[] = [];
  loop.callLater(0, (...args: unknown[]) => { received = args; }, 'a', 2);
  await runOnce(loop);
  t.deepEqual(received, ['a', 2]);
});

test('a timer earlier than the one an idle loop sleeps for fires on time', async (t) => {
  const loop = loopFor(t);
  const far = loop.callLater(30, () => {});
  const start = loop.time();
  // Scheduled from outside the loop once it has gone idle on the 30 s timer.
  setImmediate(() => loop.callLater(0.01, () => loop.stop()));
  await loop.runForever();
  far.cancel();
  t.true(loop.time() - start < 5);
});

test('a cancelled timer never runs', async (t) => {
  const loop = loopFor(t);
  let calls = 0;
  const handle = loop.callLater(0, () => calls++);
  handle.cancel();
  t.true(handle.cancelled());
  await runFor(loop, 0.01);
  t.is(calls, 0);
});

test('a timer cancelled by an earlier timer due in the same iteration does not run', async (t) => {
  const loop = loopFor(t);
  let calls = 0;
  const when = loop.time() - 1;
  loop.callAt(when, () => victim.cancel());
  const victim = loop.callAt(when + 0.5, () => calls++);
  await runOnce(loop);
  t.is(calls, 0);
});

test('a delay beyond Node\'s 2^31-1 ms timer limit does not fire at once', async (t) => {
  const loop = loopFor(t);
  let calls = 0;
  const delay = (2 ** 31 - 1) / 1000 + 1000; // about 24.9 days
  const handle = loop.callLater(delay, () => calls++);
  await runFor(loop, 0.05);
  t.is(calls, 0);
  handle.cancel();
});

test('a million cancelled timers are purged and do not delay a live timer', async (t) => {
  const loop = loopFor(t);
  const count = 1_000_000;
  const handles: TimerHandle[] = new Array(count);
  const noop = (): void => {};
  for (let i = 0; i < count; i++) handles[i] = loop.callLater(60 + i / count, noop);
  for (const handle of handles) handle.cancel();
  // The heap is rebuilt without cancelled timers once they are most of it,
  // so only a small remainder can still be in it.
  const stillQueued = handles.reduce((n, h) => n + (h._scheduled ? 1 : 0), 0);
  t.true(stillQueued < count / 1000, `${stillQueued} cancelled timers still queued`);

  let firedAfter = -1;
  const start = loop.time();
  loop.callLater(0.01, () => {
    firedAfter = loop.time() - start;
    loop.stop();
  });
  await loop.runForever();
  t.true(firedAfter >= 0.01 && firedAfter < 1, `fired after ${firedAfter} s`);
});
