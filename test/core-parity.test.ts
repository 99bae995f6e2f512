/**
 * Loop core and coroutine machinery, as asyncio behaves: regressions found
 * by comparing multiloop with CPython's asyncio program by program.
 */
import {
  CancelledError, RuntimeError, TimeoutError, TimerHandle, currentTask, gather, sleep, waitFor,
  type Future,
} from 'multiloop';
import { TimerQueue } from '../runtime/timers.js';
import { loopFor, runOnce, test } from './helpers/loop.js';

// --- Task is settled by its coroutine only -------------------------------------

test('setResult on a Task throws RuntimeError and the task keeps its coroutine\'s result', async (t) => {
  const loop = loopFor(t);
  const task = loop.createTask(async () => 'from the coroutine');
  t.throws(() => task.setResult('from outside'), { instanceOf: RuntimeError });
  t.is(await loop.runUntilComplete(task), 'from the coroutine');
});

test('setException on a Task throws RuntimeError and the task keeps its coroutine\'s result', async (t) => {
  const loop = loopFor(t);
  const task = loop.createTask(async () => 'from the coroutine');
  t.throws(() => task.setException(new Error('from outside')), { instanceOf: RuntimeError });
  t.is(await loop.runUntilComplete(task), 'from the coroutine');
});

test('a generator task yielding itself gets RuntimeError at the yield', async (t) => {
  const loop = loopFor(t);
  const task: Future<string> = loop.createTask((function* (): Generator<unknown, string, unknown> {
    try {
      yield currentTask();
      return 'resumed';
    } catch (error) {
      return error instanceof RuntimeError ? 'RuntimeError' : 'other error';
    }
  })());
  t.is(await loop.runUntilComplete(task), 'RuntimeError');
});

test('an async-function task awaiting itself gets RuntimeError at the await', async (t) => {
  const loop = loopFor(t);
  const task = loop.createTask(async () => {
    await sleep(0);
    try {
      await currentTask();
      return 'resumed';
    } catch (error) {
      return error instanceof RuntimeError ? error.message : 'other error';
    }
  });
  t.regex(await loop.runUntilComplete(task), /^Task cannot await on itself/);
});

// --- stop() from a coroutine ---------------------------------------------------

test('stop() from an async-function task ends the run before the callbacks it scheduled', async (t) => {
  const loop = loopFor(t);
  const ran: string[] = [];
  loop.createTask(async () => {
    await sleep(0.001);
    loop.callSoon(() => ran.push('scheduled before stop'));
    loop.stop();
    loop.callSoon(() => ran.push('scheduled after stop'));
  });
  await loop.runForever();
  t.deepEqual(ran, []);
  await runOnce(loop);
  t.deepEqual(ran, ['scheduled before stop', 'scheduled after stop']);
});

test('an I/O event after an async-function task stopped the loop waits for the next run', async (t) => {
  const loop = loopFor(t);
  const ran: string[] = [];
  loop.createTask(async () => {
    await sleep(0.001);
    loop.stop();
    // What a transport does when Node delivers data.
    loop._callIo(() => ran.push('I/O callback'));
  });
  await loop.runForever();
  t.deepEqual(ran, []);
  await runOnce(loop);
  t.deepEqual(ran, ['I/O callback']);
});

// --- sleep(0) --------------------------------------------------------------------

test('await sleep(0) resumes after exactly one iteration', async (t) => {
  const loop = loopFor(t);
  const order: string[] = [];
  const seenAtResume = await loop.runUntilComplete(async () => {
    loop.callSoon(() => {
      order.push('first iteration');
      loop.callSoon(() => order.push('second iteration'));
    });
    await sleep(0);
    return [...order];
  });
  t.deepEqual(seenAtResume, ['first iteration']);
});

// --- waitFor ---------------------------------------------------------------------

test('waitFor with a timeout of 0 never starts the coroutine and fails with TimeoutError', async (t) => {
  const loop = loopFor(t);
  let started = false;
  await t.throwsAsync(loop.runUntilComplete(async () => waitFor(async () => { started = true; }, 0)), { instanceOf: TimeoutError });
  t.false(started);
});

test('cancelling waitFor raises CancelledError only once the awaitable\'s cleanup is over', async (t) => {
  const loop = loopFor(t);
  const order: string[] = [];
  const waiting = loop.createFuture();
  const caller = loop.createTask(async () => {
    try {
      await waitFor(async () => {
        try {
          waiting.setResult(undefined);
          await sleep(60);
        } catch (error) {
          await sleep(0.005);
          order.push('awaitable cleaned up');
          throw error;
        }
      }, 30);
    } catch (error) {
      order.push('caller got CancelledError');
      throw error;
    }
  });
  // Cancelled once the awaitable runs: one not started yet would never run, so would have no cleanup.
  waiting.addDoneCallback(() => caller.cancel());
  await t.throwsAsync(loop.runUntilComplete(caller), { instanceOf: CancelledError });
  t.deepEqual(order, ['awaitable cleaned up', 'caller got CancelledError']);
});

// --- gather ----------------------------------------------------------------------

test('gather takes a plain-object thenable given last as an awaitable, not as options', async (t) => {
  const loop = loopFor(t);
  const thenable: PromiseLike<string> = {
    then: (onFulfilled, onRejected) => Promise.resolve('thenable').then(onFulfilled, onRejected),
  };
  t.deepEqual(await loop.runUntilComplete(async () => gather(sleep(0, 'first'), thenable)), ['first', 'thenable']);
});

test('cancelling gather with returnExceptions fails it with a CancelledError carrying the message', async (t) => {
  const loop = loopFor(t);
  const error = await loop.runUntilComplete(async () => {
    const outer = gather(sleep(60), sleep(60), { returnExceptions: true });
    loop.callSoon(() => outer.cancel('shutting down'));
    try {
      await outer;
      return null;
    } catch (caught) {
      return caught;
    }
  });
  t.true(error instanceof CancelledError);
  t.is((error as CancelledError).message, 'shutting down');
});

// --- timers ----------------------------------------------------------------------

test('a live timer at an infinite deadline stays queued when the timer queue looks for its next deadline', (t) => {
  const loop = loopFor(t);
  const queue = new TimerQueue();
  queue.push(new TimerHandle(Infinity, () => {}, [], loop));
  t.is(queue.nextDeadline(), Infinity);
  t.is(queue.size, 1);
});

// --- bad arguments -----------------------------------------------------------------

test('a missing callback is named once as undefined in the TypeError', (t) => {
  const loop = loopFor(t);
  const error = t.throws(() => (loop.callSoon as (callback?: unknown) => unknown)(), { instanceOf: TypeError });
  t.is(error?.message, 'callSoon: callback must be a function, got undefined');
});
