/**
 * The task functions (CPython test_tasks): sleep, gather, waitFor, shield, wait.
 */
import {
  ALL_COMPLETED, CancelledError, FIRST_COMPLETED, FIRST_EXCEPTION, TimeoutError,
  gather, newEventLoop, setEventLoop, shield, sleep, wait, waitFor, type Future,
} from 'multiloop';
import { loopFor, runOnce, test } from './helpers/loop.js';

/** Settles `future` with `value` after `delay` seconds of loop time (a failure when `value` is an Error). */
function settleLater<T>(future: Future<T>, delay: number, value: T | Error): void {
  future.getLoop().callLater(delay, () => {
    if (value instanceof Error) future.setException(value);
    else future.setResult(value);
  });
}

// --- sleep -------------------------------------------------------------------

test('sleep(delay, result) resolves with result after at least delay seconds', async (t) => {
  const loop = loopFor(t);
  const start = loop.time();
  const result = await loop.runUntilComplete(async () => await sleep(0.02, 'woke'));
  t.is(result, 'woke');
  t.true(loop.time() - start >= 0.02);
});

test('sleep(0) lets the callbacks already scheduled run first', async (t) => {
  const loop = loopFor(t);
  const order: string[] = [];
  await loop.runUntilComplete(async () => {
    loop.callSoon(() => order.push('callback'));
    await sleep(0);
    order.push('after sleep');
  });
  t.deepEqual(order, ['callback', 'after sleep']);
});

test('sleep outside a running loop uses the current loop', (t) => {
  const current = newEventLoop();
  setEventLoop(current);
  t.teardown(() => {
    setEventLoop(null);
    current.close();
  });
  const future = sleep(1);
  t.is(future.getLoop(), current);
  t.true(future.cancel());
});

// --- gather ------------------------------------------------------------------

test('gather resolves with the results in argument order, whatever the completion order', async (t) => {
  const loop = loopFor(t);
  const results = await loop.runUntilComplete(async () => {
    const slow = loop.createFuture<string>();
    settleLater(slow, 0.02, 'future');
    return await gather(
      slow,
      async () => { await sleep(0.01); return 'async'; },
      (function* () { yield sleep(0.005); return 'generator'; })(),
      Promise.resolve('promise'),
    );
  });
  t.deepEqual(results, ['future', 'async', 'generator', 'promise']);
});

test('gather of futures built outside a running loop runs on the futures\' loop', async (t) => {
  const loop = loopFor(t);
  const a = loop.createFuture<number>();
  const b = loop.createFuture<number>();
  settleLater(a, 0, 1);
  settleLater(b, 0.001, 2);
  // asyncio's run_until_complete(gather(...)) idiom, with a loop that is not the current one.
  t.deepEqual(await loop.runUntilComplete(gather(a, b)), [1, 2]);
});

test('gather of nothing resolves with an empty list', async (t) => {
  const loop = loopFor(t);
  t.deepEqual(await loop.runUntilComplete(async () => await gather()), []);
});

test('gather fails with the first exception and leaves the other children running', async (t) => {
  const loop = loopFor(t);
  const error = new Error('first');
  const failing = loop.createFuture();
  const other = loop.createFuture<string>();
  settleLater(failing, 0, error);
  const caught = await loop.runUntilComplete(async () => {
    try {
      await gather(failing, other);
      return null;
    } catch (exc) {
      return exc;
    }
  });
  t.is(caught, error);
  t.false(other.done());
  // Still running: it completes normally afterwards.
  settleLater(other, 0, 'later');
  t.is(await loop.runUntilComplete(other), 'later');
});

test('gather with returnExceptions puts exceptions in the results', async (t) => {
  const loop = loopFor(t);
  const error = new Error('boom');
  const results = await loop.runUntilComplete(async () => {
    const failing = loop.createFuture();
    settleLater(failing, 0, error);
    return await gather(failing, async () => 'ok', { returnExceptions: true });
  });
  t.deepEqual(results, [error, 'ok']);
  t.is(results[0], error);
});

test('gather with returnExceptions reports a cancelled child as a CancelledError result', async (t) => {
  const loop = loopFor(t);
  const results = await loop.runUntilComplete(async () => {
    const cancelled = loop.createFuture();
    loop.callSoon(() => cancelled.cancel());
    return await gather(cancelled, sleep(0, 'ok'), { returnExceptions: true });
  });
  t.true(results[0] instanceof CancelledError);
  t.is(results[1], 'ok');
});

test('gather fails with CancelledError when a child is cancelled', async (t) => {
  const loop = loopFor(t);
  const caught = await loop.runUntilComplete(async () => {
    const child = loop.createFuture();
    loop.callSoon(() => child.cancel());
    try {
      await gather(child, sleep(0.01));
      return null;
    } catch (exc) {
      return exc;
    }
  });
  t.true(caught instanceof CancelledError);
});

test('cancelling gather cancels every child and raises CancelledError in the awaiting task', async (t) => {
  const loop = loopFor(t);
  const children: { cancelled(): boolean }[] = [];
  const task = loop.createTask(async () => {
    const pending = loop.createFuture();
    const sleeper = loop.createTask(async () => { await sleep(60); });
    children.push(pending, sleeper);
    const outer = gather(pending, sleeper);
    loop.callSoon(() => outer.cancel());
    await outer;
  });
  await t.throwsAsync(loop.runUntilComplete(task), { instanceOf: CancelledError });
  t.is(children.length, 2);
  t.true(children.every((child) => child.cancelled()));
});

test('cancel() of a gather whose children are all done returns false', async (t) => {
  const loop = loopFor(t);
  // Wrapped: an async function returning a Future would adopt its outcome.
  const { outer } = await loop.runUntilComplete(async () => {
    const outer = gather(sleep(0, 1));
    await outer;
    return { outer };
  });
  t.false(outer.cancel());
  t.deepEqual(outer.result(), [1]);
});

// --- waitFor -----------------------------------------------------------------

test('waitFor resolves with the result when it comes in time', async (t) => {
  const loop = loopFor(t);
  t.is(await loop.runUntilComplete(async () => await waitFor(sleep(0.001, 'in time'), 5)), 'in time');
});

test('waitFor passes the awaitable\'s exception through', async (t) => {
  const loop = loopFor(t);
  const error = new Error('inner failed');
  const task = loop.createTask(async () => await waitFor(async () => { throw error; }, 5));
  t.is(await t.throwsAsync(loop.runUntilComplete(task)), error);
});

test('waitFor past its timeout fails with TimeoutError and cancels the awaitable', async (t) => {
  const loop = loopFor(t);
  let innerSaw: unknown;
  const inner = loop.createTask(async () => {
    try {
      await sleep(60);
    } catch (exc) {
      innerSaw = exc;
      throw exc;
    }
  });
  const task = loop.createTask(async () => await waitFor(inner, 0.01));
  await t.throwsAsync(loop.runUntilComplete(task), { instanceOf: TimeoutError });
  await t.throwsAsync(loop.runUntilComplete(inner), { instanceOf: CancelledError });
  t.true(inner.cancelled());
  t.true(innerSaw instanceof CancelledError);
});

test('waitFor past its timeout waits for the cancelled awaitable to finish before failing', async (t) => {
  const loop = loopFor(t);
  const log: string[] = [];
  const inner = loop.createTask(async () => {
    try {
      await sleep(60);
    } finally {
      await sleep(0.005);
      log.push('inner cleaned up');
    }
  });
  const task = loop.createTask(async () => {
    try {
      await waitFor(inner, 0.001);
    } catch (exc) {
      log.push((exc as Error).name);
    }
  });
  await loop.runUntilComplete(task);
  t.deepEqual(log, ['inner cleaned up', 'TimeoutError']);
});

test('waitFor past its timeout returns the result of an awaitable that ignores the cancellation', async (t) => {
  const loop = loopFor(t);
  const inner = loop.createTask(async () => {
    try {
      await sleep(60);
      return 'not reached';
    } catch {
      return 'finished anyway';
    }
  });
  t.is(await loop.runUntilComplete(async () => await waitFor(inner, 0.001)), 'finished anyway');
});

test('waitFor with a null timeout waits without limit', async (t) => {
  const loop = loopFor(t);
  const result = await loop.runUntilComplete(async () => {
    const future = loop.createFuture<string>();
    settleLater(future, 0.01, 'eventually');
    return await waitFor(future, null);
  });
  t.is(result, 'eventually');
});

test('cancelling waitFor cancels the awaitable', async (t) => {
  const loop = loopFor(t);
  const inner = loop.createFuture();
  const { outer } = await loop.runUntilComplete(async () => {
    const outer = waitFor(inner, 60);
    loop.callSoon(() => outer.cancel());
    await t.throwsAsync(outer, { instanceOf: CancelledError });
    return { outer };
  });
  t.true(outer.cancelled());
  t.true(inner.cancelled());
});

// --- shield ------------------------------------------------------------------

test('shield resolves with the result of the awaitable', async (t) => {
  const loop = loopFor(t);
  t.is(await loop.runUntilComplete(async () => await shield(sleep(0.001, 'shielded'))), 'shielded');
});

test('shield of a future built outside a running loop runs on the future\'s loop', async (t) => {
  const loop = loopFor(t);
  const inner = loop.createFuture<string>();
  settleLater(inner, 0, 'inner');
  t.is(await loop.runUntilComplete(shield(inner)), 'inner');
});

test('cancelling a shield does not cancel the awaitable it shields', async (t) => {
  const loop = loopFor(t);
  const inner = loop.createFuture<string>();
  const caller = loop.createTask(async () => await shield(inner));
  await runOnce(loop);
  t.true(caller.cancel());
  await t.throwsAsync(loop.runUntilComplete(caller), { instanceOf: CancelledError });
  t.false(inner.cancelled());
  settleLater(inner, 0, 'still done');
  t.is(await loop.runUntilComplete(inner), 'still done');
});

// --- wait --------------------------------------------------------------------

test('wait with ALL_COMPLETED (the default) returns once every awaitable is done', async (t) => {
  const loop = loopFor(t);
  const quick = loop.createFuture<string>();
  const failing = loop.createFuture<string>();
  settleLater(quick, 0, 'quick');
  settleLater(failing, 0.01, new Error('failed'));
  const [done, pending] = await loop.runUntilComplete(async () => await wait([quick, failing]));
  t.deepEqual(new Set(done), new Set([quick, failing]));
  t.is(pending.size, 0);
  t.true(failing.exception() instanceof Error);
});

test('wait with ALL_COMPLETED given explicitly waits for every awaitable', async (t) => {
  const loop = loopFor(t);
  const [done, pending] = await loop.runUntilComplete(async () =>
    await wait([sleep(0.001, 1), sleep(0.005, 2)], { returnWhen: ALL_COMPLETED }));
  t.deepEqual([...done].map((f) => f.result()).sort(), [1, 2]);
  t.is(pending.size, 0);
});

test('wait with FIRST_COMPLETED returns at the first done awaitable and cancels nothing', async (t) => {
  const loop = loopFor(t);
  const fast = loop.createFuture<string>();
  const slow = loop.createFuture<string>();
  settleLater(fast, 0.001, 'fast');
  const [done, pending] = await loop.runUntilComplete(async () => await wait([fast, slow], { returnWhen: FIRST_COMPLETED }));
  t.deepEqual([...done], [fast]);
  t.deepEqual([...pending], [slow]);
  t.false(slow.done());
});

test('wait with FIRST_EXCEPTION returns at the first failure', async (t) => {
  const loop = loopFor(t);
  const ok = loop.createFuture<string>();
  const failing = loop.createFuture();
  const slow = loop.createFuture();
  settleLater(ok, 0, 'ok');
  settleLater(failing, 0.005, new Error('failed'));
  const [done, pending] = await loop.runUntilComplete(async () =>
    await wait<unknown>([ok, failing, slow], { returnWhen: FIRST_EXCEPTION }));
  t.deepEqual(new Set(done), new Set([ok, failing]));
  t.deepEqual([...pending], [slow]);
  t.is((failing.exception() as Error).message, 'failed');
});

test('wait with FIRST_EXCEPTION returns when all are done if none fails', async (t) => {
  const loop = loopFor(t);
  const [done, pending] = await loop.runUntilComplete(async () =>
    await wait([sleep(0.001, 1), sleep(0.002, 2)], { returnWhen: FIRST_EXCEPTION }));
  t.is(done.size, 2);
  t.is(pending.size, 0);
});

test('wait past its timeout returns the pending awaitables without cancelling them', async (t) => {
  const loop = loopFor(t);
  const never = loop.createFuture();
  const quick = loop.createFuture<string>();
  settleLater(quick, 0, 'quick');
  const [done, pending] = await loop.runUntilComplete(async () => await wait<unknown>([quick, never], { timeout: 0.01 }));
  t.deepEqual([...done], [quick]);
  t.deepEqual([...pending], [never]);
  t.false(never.cancelled());
});
