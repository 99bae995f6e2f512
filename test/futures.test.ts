/**
 * Future (CPython test_futures): states, result/exception, cancellation,
 * done callbacks, awaiting, and the never-retrieved exception report.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { CancelledError, Future, InvalidStateError, isFuture, newEventLoop, type ExceptionContext } from 'multiloop';
import { loopFor, runOnce, test } from './helpers/loop.js';

test('a new future is pending', (t) => {
  const loop = loopFor(t);
  const future = loop.createFuture();
  t.false(future.done());
  t.false(future.cancelled());
  t.is(future.getLoop(), loop);
  t.true(isFuture(future));
});

test('result() and exception() of a pending future throw InvalidStateError', (t) => {
  const loop = loopFor(t);
  const future = loop.createFuture();
  t.throws(() => future.result(), { instanceOf: InvalidStateError });
  t.throws(() => future.exception(), { instanceOf: InvalidStateError });
});

test('setResult makes the future done with that result and a null exception', (t) => {
  const loop = loopFor(t);
  const future = loop.createFuture<number>();
  future.setResult(42);
  t.true(future.done());
  t.false(future.cancelled());
  t.is(future.result(), 42);
  t.is(future.exception(), null);
});

test('setException makes result() throw it and exception() return it', (t) => {
  const loop = loopFor(t);
  const future = loop.createFuture();
  const error = new Error('boom');
  future.setException(error);
  t.true(future.done());
  t.is(t.throws(() => future.result()), error);
  t.is(future.exception(), error);
});

test('setException with an exception class stores an instance of it', (t) => {
  const loop = loopFor(t);
  const future = loop.createFuture();
  future.setException(RangeError);
  t.true(future.exception() instanceof RangeError);
});

test('setting a done future throws InvalidStateError and keeps the first outcome', (t) => {
  const loop = loopFor(t);
  const future = loop.createFuture<string>();
  future.setResult('first');
  t.throws(() => future.setResult('second'), { instanceOf: InvalidStateError });
  t.throws(() => future.setException(new Error('late')), { instanceOf: InvalidStateError });
  t.is(future.result(), 'first');
});

test('setting a cancelled future throws InvalidStateError', (t) => {
  const loop = loopFor(t);
  const future = loop.createFuture();
  future.cancel();
  t.throws(() => future.setResult(1), { instanceOf: InvalidStateError });
  t.throws(() => future.setException(new Error('late')), { instanceOf: InvalidStateError });
});

test('cancel() of a pending future returns true and makes result() and exception() throw CancelledError', (t) => {
  const loop = loopFor(t);
  const future = loop.createFuture();
  t.true(future.cancel());
  t.true(future.cancelled());
  t.true(future.done());
  t.throws(() => future.result(), { instanceOf: CancelledError });
  t.throws(() => future.exception(), { instanceOf: CancelledError });
});

test('cancel(msg) carries the message to the CancelledError', (t) => {
  const loop = loopFor(t);
  const future = loop.createFuture();
  future.cancel('shutting down');
  t.is(t.throws(() => future.result(), { instanceOf: CancelledError })?.message, 'shutting down');
});

test('cancel() of a done future returns false and changes nothing', (t) => {
  const loop = loopFor(t);
  const future = loop.createFuture<number>();
  future.setResult(1);
  t.false(future.cancel());
  t.false(future.cancelled());
  const cancelled = loop.createFuture();
  cancelled.cancel();
  t.false(cancelled.cancel());
});

test('done callbacks run through the loop, not synchronously, with the future as argument', async (t) => {
  const loop = loopFor(t);
  const future = loop.createFuture<number>();
  const seen: unknown[] = [];
  future.addDoneCallback((f) => seen.push(f));
  future.setResult(1);
  t.deepEqual(seen, []);
  await runOnce(loop);
  t.is(seen.length, 1);
  t.is(seen[0], future);
});

test('done callbacks run in registration order, each once', async (t) => {
  const loop = loopFor(t);
  const future = loop.createFuture();
  const order: number[] = [];
  for (let i = 0; i < 5; i++) future.addDoneCallback(() => order.push(i));
  future.cancel();
  await runOnce(loop);
  await runOnce(loop);
  t.deepEqual(order, [0, 1, 2, 3, 4]);
});

test('a done callback added to a done future is scheduled with callSoon', async (t) => {
  const loop = loopFor(t);
  const future = loop.createFuture<string>();
  future.setResult('x');
  const order: string[] = [];
  loop.callSoon(() => order.push('earlier callSoon'));
  future.addDoneCallback(() => order.push('done callback'));
  t.deepEqual(order, []);
  await runOnce(loop);
  t.deepEqual(order, ['earlier callSoon', 'done callback']);
});

test('removeDoneCallback removes every registration of the function and returns the count', async (t) => {
  const loop = loopFor(t);
  const future = loop.createFuture();
  const calls: string[] = [];
  const removed = (): void => { calls.push('removed'); };
  future.addDoneCallback(removed);
  future.addDoneCallback(() => calls.push('kept'));
  future.addDoneCallback(removed);
  t.is(future.removeDoneCallback(removed), 2);
  t.is(future.removeDoneCallback(removed), 0);
  future.setResult(undefined);
  await runOnce(loop);
  t.deepEqual(calls, ['kept']);
});

test('removeDoneCallback after the callbacks were scheduled removes nothing', (t) => {
  const loop = loopFor(t);
  const future = loop.createFuture();
  const callback = (): void => {};
  future.addDoneCallback(callback);
  future.setResult(undefined);
  t.is(future.removeDoneCallback(callback), 0);
});

test('awaiting a future in a task gives its result', async (t) => {
  const loop = loopFor(t);
  const future = loop.createFuture<string>();
  loop.callSoon(() => future.setResult('value'));
  const result = await loop.runUntilComplete(async () => await future);
  t.is(result, 'value');
});

test('awaiting a failed future throws its exception', async (t) => {
  const loop = loopFor(t);
  const future = loop.createFuture();
  const error = new Error('boom');
  loop.callSoon(() => future.setException(error));
  const caught = await loop.runUntilComplete(async () => {
    try {
      await future;
      return null;
    } catch (exc) {
      return exc;
    }
  });
  t.is(caught, error);
});

test('awaiting a cancelled future throws CancelledError', async (t) => {
  const loop = loopFor(t);
  const future = loop.createFuture();
  loop.callSoon(() => future.cancel('stop it'));
  const caught = await loop.runUntilComplete(async () => {
    try {
      await future;
      return null;
    } catch (exc) {
      return exc;
    }
  });
  t.true(caught instanceof CancelledError);
  t.is((caught as CancelledError).message, 'stop it');
});

test('awaiting a done future of a closed loop gives its outcome', async (t) => {
  const loop = newEventLoop();
  const done = loop.createFuture<number>();
  const failed = loop.createFuture<number>();
  done.setResult(7);
  failed.setException(new RangeError('late'));
  loop.close();
  t.is(await done, 7);
  await t.throwsAsync(async () => failed, { instanceOf: RangeError, message: 'late' });
});

test('a future created without a loop belongs to the running loop', async (t) => {
  const loop = loopFor(t);
  let future: Future | undefined;
  loop.callSoon(() => {
    future = new Future();
    loop.stop();
  });
  await loop.runForever();
  t.is(future?.getLoop(), loop);
});

// --- the never-retrieved exception report ------------------------------------

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/** Collects garbage until `done()` holds (finalizers run in later macrotasks), at most `rounds` times. */
async function collectUntil(done: () => boolean, rounds = 50): Promise<void> {
  for (let i = 0; i < rounds && !done(); i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
}

function failAndDrop(loop: ReturnType<typeof loopFor>, error: Error, retrieve: boolean): void {
  const future = loop.createFuture();
  future.setException(error);
  if (retrieve) future.exception();
}

test('a failed future whose exception is never retrieved is reported when collected', async (t) => {
  const loop = loopFor(t);
  const reports: ExceptionContext[] = [];
  loop.setExceptionHandler((_loop, context) => reports.push(context));
  const error = new Error('never looked at');
  failAndDrop(loop, error, false);
  await collectUntil(() => reports.length > 0);
  t.is(reports.length, 1);
  t.is(reports[0]!.exception, error);
  t.regex(reports[0]!.message, /exception was never retrieved/);
});

test('a failed future whose exception was retrieved is not reported when collected', async (t) => {
  const loop = loopFor(t);
  const reports: ExceptionContext[] = [];
  loop.setExceptionHandler((_loop, context) => reports.push(context));
  failAndDrop(loop, new Error('looked at'), true);
  // A canary that is reported proves that a collection ran and finalizers fired.
  failAndDrop(loop, new Error('canary'), false);
  await collectUntil(() => reports.length > 0);
  t.deepEqual(reports.map((r) => (r.exception as Error).message), ['canary']);
});

test('a task that fails with nobody looking is reported when collected', async (t) => {
  const loop = loopFor(t);
  const reports: ExceptionContext[] = [];
  loop.setExceptionHandler((_loop, context) => reports.push(context));
  const error = new Error('task failed unobserved');
  for (const make of [
    () => loop.createTask(async () => { throw error; }),
    () => loop.createTask((function* () { throw error; })()),
  ]) make();
  await runOnce(loop);
  await runOnce(loop);
  await collectUntil(() => reports.length >= 2);
  t.is(reports.length, 2);
  t.true(reports.every((r) => r.exception === error && /Task exception was never retrieved/.test(r.message)));
});
