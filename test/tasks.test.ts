/**
 * Task over the three coroutine forms of API.md (CPython test_tasks):
 * generators, async functions, started promises; cancellation at the await
 * point, several calls deep.
 */
import {
  CancelledError, Future, RuntimeError, Task, currentTask, ensureFuture, getEventLoop, sleep,
} from 'multiloop';
import { loopFor, runOnce, test } from './helpers/loop.js';

test('a Task is a Future', (t) => {
  const loop = loopFor(t);
  const task = loop.createTask(async () => 1);
  t.true(task instanceof Task);
  t.true(task instanceof Future);
  t.is(task.getLoop(), loop);
});

test('createTask does not start the coroutine before the loop runs', async (t) => {
  const loop = loopFor(t);
  let started = false;
  loop.createTask(async () => { started = true; });
  await new Promise((resolve) => setImmediate(resolve));
  t.false(started);
  await runOnce(loop);
  t.true(started);
});

test('a task starts in FIFO order with the callbacks scheduled around it', async (t) => {
  const loop = loopFor(t);
  const order: string[] = [];
  loop.callSoon(() => order.push('before'));
  loop.createTask((function* () { order.push('task'); })());
  loop.callSoon(() => order.push('after'));
  await runOnce(loop);
  t.deepEqual(order, ['before', 'task', 'after']);
});

test('a generator task receives the results of the futures it yields and returns its value', async (t) => {
  const loop = loopFor(t);
  const a = loop.createFuture<number>();
  const b = loop.createFuture<number>();
  loop.callSoon(() => a.setResult(2));
  loop.callLater(0.001, () => b.setResult(3));
  const result = await loop.runUntilComplete(loop.createTask((function* () {
    const x: number = yield a;
    const y: number = yield b;
    return x * y;
  })()));
  t.is(result, 6);
});

test('a failed future raises its exception at the generator\'s yield', async (t) => {
  const loop = loopFor(t);
  const future = loop.createFuture();
  const error = new Error('boom');
  loop.callSoon(() => future.setException(error));
  const caught = await loop.runUntilComplete(loop.createTask((function* () {
    try {
      yield future;
      return null;
    } catch (exc) {
      return exc;
    }
  })()));
  t.is(caught, error);
});

test('a generator task may yield a promise', async (t) => {
  const loop = loopFor(t);
  const result = await loop.runUntilComplete(loop.createTask((function* () {
    return (yield Promise.resolve('from a promise')) as string;
  })()));
  t.is(result, 'from a promise');
});

test('a bare yield in a generator task gives the other callbacks one iteration', async (t) => {
  const loop = loopFor(t);
  const order: string[] = [];
  loop.createTask((function* () {
    order.push('task 1');
    yield;
    order.push('task 2');
  })());
  loop.callSoon(() => loop.callSoon(() => order.push('callback 2')));
  await runOnce(loop);
  t.deepEqual(order, ['task 1']);
  await runOnce(loop);
  t.deepEqual(order, ['task 1', 'task 2', 'callback 2']);
});

test('a generator yielding something not awaitable gets RuntimeError at the yield', async (t) => {
  const loop = loopFor(t);
  const caught = await loop.runUntilComplete(loop.createTask((function* () {
    try {
      yield 42;
      return null;
    } catch (exc) {
      return exc;
    }
  })()));
  t.true(caught instanceof RuntimeError);
});

test('a generator yielding a future of another loop gets RuntimeError at the yield', async (t) => {
  const loop = loopFor(t);
  const other = loopFor(t);
  const foreign = other.createFuture();
  const caught = await loop.runUntilComplete(loop.createTask((function* () {
    try {
      yield foreign;
      return null;
    } catch (exc) {
      return exc;
    }
  })()));
  t.true(caught instanceof RuntimeError);
});

test('an async-function task awaiting a future of another loop gets RuntimeError at the await', async (t) => {
  const loop = loopFor(t);
  const other = loopFor(t);
  const foreign = other.createFuture();
  const caught = await loop.runUntilComplete(async () => {
    try {
      await foreign;
      return null;
    } catch (exc) {
      return exc;
    }
  });
  t.true(caught instanceof RuntimeError);
});

test('an async-function task returns its value', async (t) => {
  const loop = loopFor(t);
  const future = loop.createFuture<string>();
  loop.callSoon(() => future.setResult('a'));
  const result = await loop.runUntilComplete(loop.createTask(async () => (await future) + 'b'));
  t.is(result, 'ab');
});

test('an async-function task that throws fails with that exception', async (t) => {
  const loop = loopFor(t);
  const error = new Error('boom');
  const task = loop.createTask(async () => {
    await sleep(0);
    throw error;
  });
  t.is(await t.throwsAsync(loop.runUntilComplete(task)), error);
  t.is(task.exception(), error);
});

test('a synchronous function given as coroutine runs in the task and its value is the result', async (t) => {
  const loop = loopFor(t);
  t.is(await loop.runUntilComplete(loop.createTask(() => 'plain')), 'plain');
});

test('a started-promise task mirrors the promise result', async (t) => {
  const loop = loopFor(t);
  const task = loop.createTask(new Promise<number>((resolve) => setImmediate(resolve, 9)));
  t.is(await loop.runUntilComplete(task), 9);
});

test('a started-promise task mirrors the promise rejection', async (t) => {
  const loop = loopFor(t);
  const error = new Error('rejected');
  const task = loop.createTask(Promise.reject(error));
  t.is(await t.throwsAsync(loop.runUntilComplete(task)), error);
});

test('a task awaiting another task gets its result', async (t) => {
  const loop = loopFor(t);
  const result = await loop.runUntilComplete(async () => {
    const child = loop.createTask((function* () {
      yield sleep(0.001);
      return 'child';
    })());
    return 'parent of ' + (await child);
  });
  t.is(result, 'parent of child');
});

test('currentTask() is the task whose coroutine runs, and null outside', async (t) => {
  const loop = loopFor(t);
  let inGenerator: unknown;
  let inAsync: unknown;
  let afterAwait: unknown;
  const generatorTask = loop.createTask((function* () {
    inGenerator = currentTask();
  })());
  const asyncTask = loop.createTask(async () => {
    inAsync = currentTask();
    await sleep(0);
    afterAwait = currentTask();
  });
  await loop.runUntilComplete(asyncTask);
  t.is(inGenerator, generatorTask);
  t.is(inAsync, asyncTask);
  t.is(afterAwait, asyncTask);
  t.is(currentTask(), null);
});

test('cancel() raises CancelledError several calls deep in a generator task', async (t) => {
  const loop = loopFor(t);
  const log: string[] = [];
  function* innermost(): Generator<unknown, void, unknown> {
    try {
      yield loop.createFuture();
    } catch (exc) {
      log.push(exc instanceof CancelledError ? 'innermost cancelled' : 'innermost other');
      throw exc;
    }
  }
  function* middle(): Generator<unknown, void, unknown> {
    yield* innermost();
    log.push('middle went on');
  }
  const task = loop.createTask((function* () {
    yield* middle();
  })());
  await runOnce(loop);
  t.true(task.cancel());
  await t.throwsAsync(loop.runUntilComplete(task), { instanceOf: CancelledError });
  t.true(task.cancelled());
  t.deepEqual(log, ['innermost cancelled']);
});

test('cancel() raises CancelledError several calls deep in an async-function task', async (t) => {
  const loop = loopFor(t);
  const log: string[] = [];
  async function innermost(): Promise<void> {
    try {
      await sleep(60);
    } catch (exc) {
      log.push(exc instanceof CancelledError ? 'innermost cancelled' : 'innermost other');
      throw exc;
    }
  }
  async function middle(): Promise<void> {
    await innermost();
    log.push('middle went on');
  }
  const task = loop.createTask(async () => { await middle(); });
  await runOnce(loop);
  t.true(task.cancel());
  await t.throwsAsync(loop.runUntilComplete(task), { instanceOf: CancelledError });
  t.true(task.cancelled());
  t.deepEqual(log, ['innermost cancelled']);
});

test('cancel() at a bare yield raises CancelledError there', async (t) => {
  const loop = loopFor(t);
  let saw: unknown;
  const task = loop.createTask((function* () {
    try {
      yield;
    } catch (exc) {
      saw = exc;
      throw exc;
    }
  })());
  await runOnce(loop);
  t.true(task.cancel());
  await t.throwsAsync(loop.runUntilComplete(task), { instanceOf: CancelledError });
  t.true(saw instanceof CancelledError);
});

test('cancelling a task cancels the task it awaits', async (t) => {
  const loop = loopFor(t);
  const inner = loop.createTask(async () => { await sleep(60); });
  const outer = loop.createTask(async () => { await inner; });
  await runOnce(loop);
  t.true(outer.cancel());
  await t.throwsAsync(loop.runUntilComplete(outer), { instanceOf: CancelledError });
  await t.throwsAsync(loop.runUntilComplete(inner), { instanceOf: CancelledError });
  t.true(inner.cancelled());
});

test('cancel() reaches the future an async task awaits even after a callback it scheduled awaited another', async (t) => {
  const loop = loopFor(t);
  const mine = loop.createFuture();
  const other = loop.createFuture();
  const reached = loop.createFuture();
  const task = loop.createTask(async () => {
    await sleep(0);
    // Scheduled from the task's code, run by the loop as a plain callback
    // (an async one, not a task) that awaits after the task began to await `mine`.
    loop.callSoon(async () => {
      await sleep(0);
      const awaited = other.then(undefined, () => {});
      reached.setResult(undefined);
      await awaited;
    });
    await mine;
  });
  await loop.runUntilComplete(reached);
  t.true(task.cancel());
  loop.callLater(1, () => loop.stop()); // a failure must not hang the test
  await t.throwsAsync(loop.runUntilComplete(task), { instanceOf: CancelledError });
  t.true(mine.cancelled());
  t.false(other.cancelled());
});

test('cancel() reaches the future an async task awaits even after an I/O event from a resource it made awaited another', async (t) => {
  const loop = loopFor(t);
  const mine = loop.createFuture();
  const other = loop.createFuture();
  const reached = loop.createFuture();
  const task = loop.createTask(async () => {
    // A Node resource made by the task's code (as a socket would be) whose
    // event reaches a protocol callback that awaits something of its own.
    setImmediate(() => loop._callIo(() => {
      void other.then(undefined, () => {});
      reached.setResult(undefined);
    }));
    await mine;
  });
  await loop.runUntilComplete(reached);
  t.true(task.cancel());
  loop.callLater(1, () => loop.stop()); // a failure must not hang the test
  await t.throwsAsync(loop.runUntilComplete(task), { instanceOf: CancelledError });
  t.true(mine.cancelled());
  t.false(other.cancelled());
});

test('cancel(msg) delivers the message to the coroutine', async (t) => {
  const loop = loopFor(t);
  let message: string | undefined;
  const task = loop.createTask(async () => {
    try {
      await loop.createFuture();
    } catch (exc) {
      message = (exc as CancelledError).message;
      throw exc;
    }
  });
  await runOnce(loop);
  task.cancel('reason');
  await t.throwsAsync(loop.runUntilComplete(task), { instanceOf: CancelledError });
  t.is(message, 'reason');
});

test('a generator task that catches CancelledError and returns is not cancelled', async (t) => {
  const loop = loopFor(t);
  const task = loop.createTask((function* () {
    try {
      yield loop.createFuture();
      return 'not reached';
    } catch {
      return 'cleaned up';
    }
  })());
  await runOnce(loop);
  task.cancel();
  t.is(await loop.runUntilComplete(task), 'cleaned up');
  t.false(task.cancelled());
});

test('an async-function task that catches CancelledError and returns is not cancelled', async (t) => {
  const loop = loopFor(t);
  const task = loop.createTask(async () => {
    try {
      await sleep(60);
      return 'not reached';
    } catch {
      return 'cleaned up';
    }
  });
  await runOnce(loop);
  task.cancel();
  t.is(await loop.runUntilComplete(task), 'cleaned up');
  t.false(task.cancelled());
});

test('cancelling a generator task twice delivers one CancelledError, so its cleanup may still wait', async (t) => {
  const loop = loopFor(t);
  const log: string[] = [];
  const task = loop.createTask((function* () {
    try {
      yield sleep(60);
    } catch (exc) {
      log.push((exc as Error).name);
    }
    yield sleep(0.001);
    return 'cleaned up';
  })());
  await runOnce(loop);
  t.true(task.cancel());
  t.true(task.cancel());
  t.is(await loop.runUntilComplete(task), 'cleaned up');
  t.deepEqual(log, ['CancelledError']);
});

test('cancelling an async-function task twice delivers one CancelledError, so its cleanup may still await', async (t) => {
  const loop = loopFor(t);
  const log: string[] = [];
  const task = loop.createTask(async () => {
    try {
      await sleep(60);
    } catch (exc) {
      log.push((exc as Error).name);
    }
    await sleep(0.001);
    return 'cleaned up';
  });
  await runOnce(loop);
  t.true(task.cancel());
  t.true(task.cancel());
  t.is(await loop.runUntilComplete(task), 'cleaned up');
  t.deepEqual(log, ['CancelledError']);
});

test('cancel() after a caught cancellation, while awaiting a plain promise, still cancels', async (t) => {
  const loop = loopFor(t);
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  const task = loop.createTask(async () => {
    try {
      await sleep(60);
    } catch {
      // caught: the task goes on
    }
    await gate;
    await sleep(60);
  });
  await runOnce(loop);
  t.true(task.cancel());
  await runOnce(loop);
  await runOnce(loop);
  t.true(task.cancel());
  release();
  loop.callLater(1, () => loop.stop()); // a lost cancellation must not hang the test
  await t.throwsAsync(loop.runUntilComplete(task), { instanceOf: CancelledError });
});

test('cancel() after the awaited future completed, before the task resumed, raises CancelledError at that await', async (t) => {
  const loop = loopFor(t);
  const forms = {
    generator: (fut: Future<number>, seen: string[]) => loop.createTask((function* (): Generator<unknown, void, number> {
      seen.push(`resumed with ${String(yield fut)}`);
    })()),
    'async function': (fut: Future<number>, seen: string[]) => loop.createTask(async () => {
      seen.push(`resumed with ${await fut}`);
    }),
  };
  for (const [form, make] of Object.entries(forms)) {
    const future = loop.createFuture<number>();
    const seen: string[] = [];
    const task = make(future, seen);
    await runOnce(loop);
    future.setResult(1);
    t.true(task.cancel());
    await t.throwsAsync(loop.runUntilComplete(task), { instanceOf: CancelledError }, form);
    t.deepEqual(seen, [], form);
  }
});

test('a coroutine resumed in the iteration that stops the loop still runs inside its loop', async (t) => {
  const loop = loopFor(t);
  const ready = loop.createFuture<number>();
  const seen: unknown[] = [];
  async function nested(): Promise<void> {
    await ready;
  }
  const worker = loop.createTask(async () => {
    await nested(); // resumes several microtask hops after the done callback
    seen.push(loop.isRunning(), getEventLoop() === loop);
    await sleep(0.001);
    return 'slept on its own loop';
  });
  await runOnce(loop);
  loop.callSoon(() => ready.setResult(1));
  // runUntilComplete(ready) stops the loop in the very iteration that resumes the worker.
  await loop.runUntilComplete(ready);
  t.deepEqual(seen, [true, true]);
  t.is(await loop.runUntilComplete(worker), 'slept on its own loop');
});

test('a task cancelled before it starts never runs its coroutine', async (t) => {
  const loop = loopFor(t);
  let started = 0;
  const tasks = [
    loop.createTask(async () => { started++; }),
    loop.createTask((function* () { started++; })()),
  ];
  for (const task of tasks) t.true(task.cancel());
  await runOnce(loop);
  await runOnce(loop);
  t.is(started, 0);
  t.true(tasks.every((task) => task.cancelled()));
});

test('a started-promise task is cancelled at once and the promise runs on, detached', async (t) => {
  const loop = loopFor(t);
  let resolve!: (value: number) => void;
  const promise = new Promise<number>((r) => { resolve = r; });
  const task = loop.createTask(promise);
  t.true(task.cancel());
  t.true(task.cancelled());
  resolve(5);
  t.is(await promise, 5);
  t.true(task.cancelled());
});

test('cancel() of a done task returns false', async (t) => {
  const loop = loopFor(t);
  const task = loop.createTask(async () => 1);
  await loop.runUntilComplete(task);
  t.false(task.cancel());
  t.is(task.result(), 1);
});

test('a task cancelled while awaiting a plain promise ends cancelled when it returns', async (t) => {
  const loop = loopFor(t);
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  const task = loop.createTask(async () => {
    await gate;
    return 'finished';
  });
  await runOnce(loop);
  t.true(task.cancel());
  release();
  await t.throwsAsync(loop.runUntilComplete(task), { instanceOf: CancelledError });
});

test('ensureFuture returns a Future as is and wraps a coroutine in a Task', async (t) => {
  const loop = loopFor(t);
  const future = loop.createFuture();
  t.is(ensureFuture(future, loop), future);
  const task = ensureFuture(async () => 3, loop);
  t.true(task instanceof Task);
  t.is(task.getLoop(), loop);
  t.is(await loop.runUntilComplete(task), 3);
});

test('ensureFuture of a future of another loop throws RangeError', (t) => {
  const loop = loopFor(t);
  const other = loopFor(t);
  t.throws(() => ensureFuture(other.createFuture(), loop), { instanceOf: RangeError });
});
