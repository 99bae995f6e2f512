/**
 * Bad input is refused at the call with a TypeError or RangeError that names
 * the argument, never later inside the loop.
 */
import {
  ensureFuture, gather, setEventLoop, sleep, wait, waitFor, type ReturnWhen,
} from 'multiloop';
import { loopFor, runOnce, test } from './helpers/loop.js';

/** Values that are not callbacks, as a caller might pass them by mistake. */
const NOT_FUNCTIONS: unknown[] = [undefined, null, 42, 'callback', {}, [], Promise.resolve()];
/** Values that are not numbers of seconds. */
const NOT_NUMBERS: unknown[] = [undefined, null, '1', 1n, {}, [1]];

// The point of these tests is calling with the wrong types.
/* eslint-disable @typescript-eslint/no-explicit-any */

test('callSoon and callSoonThreadsafe refuse a non-function callback with a TypeError naming it', (t) => {
  const loop = loopFor(t);
  for (const value of NOT_FUNCTIONS) {
    t.throws(() => loop.callSoon(value as any), { instanceOf: TypeError, message: /callSoon: callback/ });
    t.throws(() => loop.callSoonThreadsafe(value as any), { instanceOf: TypeError, message: /callback/ });
  }
});

test('callLater and callAt refuse a non-function callback with a TypeError naming it', (t) => {
  const loop = loopFor(t);
  for (const value of NOT_FUNCTIONS) {
    t.throws(() => loop.callLater(0, value as any), { instanceOf: TypeError, message: /callLater: callback/ });
    t.throws(() => loop.callAt(loop.time(), value as any), { instanceOf: TypeError, message: /callAt: callback/ });
  }
});

test('callLater refuses a non-number delay with a TypeError naming it', (t) => {
  const loop = loopFor(t);
  for (const value of NOT_NUMBERS) {
    t.throws(() => loop.callLater(value as any, () => {}), { instanceOf: TypeError, message: /callLater: delay/ });
  }
});

test('callAt refuses a non-number time with a TypeError naming it', (t) => {
  const loop = loopFor(t);
  for (const value of NOT_NUMBERS) {
    t.throws(() => loop.callAt(value as any, () => {}), { instanceOf: TypeError, message: /callAt: when/ });
  }
});

test('callLater and callAt refuse NaN with a RangeError naming the argument', (t) => {
  const loop = loopFor(t);
  t.throws(() => loop.callLater(NaN, () => {}), { instanceOf: RangeError, message: /callLater: delay/ });
  t.throws(() => loop.callAt(NaN, () => {}), { instanceOf: RangeError, message: /callAt: when/ });
});

test('a refused scheduling call schedules nothing', async (t) => {
  const loop = loopFor(t);
  let calls = 0;
  const callback = (): void => { calls++; };
  t.throws(() => loop.callLater(NaN, callback));
  t.throws(() => loop.callAt('soon' as any, callback));
  await runOnce(loop);
  t.is(calls, 0);
});

test('createTask and runUntilComplete refuse what is not a coroutine with a TypeError', (t) => {
  const loop = loopFor(t);
  for (const value of [undefined, null, 42, 'coro', {}]) {
    t.throws(() => loop.createTask(value as any), { instanceOf: TypeError, message: /coro/ });
    t.throws(() => loop.runUntilComplete(value as any), { instanceOf: TypeError });
  }
  t.false(loop.isRunning());
});

test('createTask refuses a generator function not yet called, naming coro', (t) => {
  const loop = loopFor(t);
  let started = false;
  function* notCalled(): Generator<unknown, void, unknown> {
    started = true;
  }
  t.throws(() => loop.createTask(notCalled as any), { instanceOf: TypeError, message: /coro/ });
  t.false(started);
});

test('runUntilComplete refuses a future of another loop with a RangeError, leaving the loop stopped', (t) => {
  const loop = loopFor(t);
  const other = loopFor(t);
  t.throws(() => loop.runUntilComplete(other.createFuture()), { instanceOf: RangeError, message: /different loop/ });
  t.false(loop.isRunning());
});

test('ensureFuture refuses what is not awaitable with a TypeError naming it', (t) => {
  const loop = loopFor(t);
  t.throws(() => ensureFuture(42 as any, loop), { instanceOf: TypeError, message: /ensureFuture: x/ });
});

test('addDoneCallback refuses a non-function with a TypeError naming it', (t) => {
  const loop = loopFor(t);
  const future = loop.createFuture();
  for (const value of NOT_FUNCTIONS) {
    t.throws(() => future.addDoneCallback(value as any), { instanceOf: TypeError, message: /addDoneCallback: fn/ });
  }
});

test('setExceptionHandler refuses a non-function handler with a TypeError naming it', (t) => {
  const loop = loopFor(t);
  t.throws(() => loop.setExceptionHandler(42 as any), { instanceOf: TypeError, message: /setExceptionHandler: handler/ });
  t.is(loop.getExceptionHandler(), null);
});

test('setEventLoop refuses what is not an EventLoop with a TypeError naming it', (t) => {
  t.throws(() => setEventLoop({} as any), { instanceOf: TypeError, message: /setEventLoop: loop/ });
});

test('sleep refuses a non-number or NaN delay naming it', (t) => {
  t.throws(() => sleep('1' as any), { instanceOf: TypeError, message: /sleep: delay/ });
  t.throws(() => sleep(NaN), { instanceOf: RangeError, message: /sleep: delay/ });
});

test('waitFor refuses a non-number or NaN timeout naming it', (t) => {
  const loop = loopFor(t);
  const future = loop.createFuture();
  t.throws(() => waitFor(future, '1' as any), { instanceOf: TypeError, message: /waitFor: timeout/ });
  t.throws(() => waitFor(future, NaN), { instanceOf: RangeError, message: /waitFor: timeout/ });
});

test('gather refuses an argument that is not awaitable, naming its position', (t) => {
  const loop = loopFor(t);
  t.throws(() => gather(loop.createFuture(), 42 as any), { instanceOf: TypeError, message: /gather: argument 1/ });
});

test('wait refuses an empty list, a bad returnWhen and a NaN timeout, naming them', (t) => {
  const loop = loopFor(t);
  const future = loop.createFuture();
  t.throws(() => wait([]), { instanceOf: RangeError, message: /wait: aws/ });
  t.throws(() => wait([future], { returnWhen: 'SOMETIMES' as ReturnWhen }), { instanceOf: RangeError, message: /returnWhen/ });
  t.throws(() => wait([future], { timeout: NaN }), { instanceOf: RangeError, message: /wait: options\.timeout/ });
});
