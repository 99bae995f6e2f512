/**
 * runInExecutor and setDefaultExecutor (asyncio's run_in_executor and
 * set_default_executor), on loops of the main thread and of worker threads.
 */
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import {
  CancelledError, Runtime, RuntimeError, getLoopRef, maxExecutorThreads, newEventLoop, setMaxExecutorThreads, transfer,
  type EventLoop, type Executor, type ExecutorRunOptions, type ExecutorTask, type Future,
} from 'multiloop';
import { executorTasks } from '../runtime/executor.js';
import { loopFor, test } from './helpers/loop.js';

/** The bound the tests check against; set before the default pool first starts. */
const BOUND = 2;
setMaxExecutorThreads(BOUND);

const TASKS = new URL('./executor-tasks.js', import.meta.url);

/** Awaits every future on `loop` (each loop settles only its own futures, while it runs). */
function allOf<T>(loop: EventLoop, futures: Future<T>[]): Promise<T[]> {
  return loop.runUntilComplete(async () => {
    const results: T[] = [];
    for (const future of futures) results.push(await future);
    return results;
  });
}

const probe = { module: TASKS, name: 'probe' };

test('a self-contained function runs in an executor thread and its result settles the Future', async (t) => {
  const loop = loopFor(t);
  const future = loop.runInExecutor(null, (a: number, b: { c: number[] }) => a + b.c.length, 40, { c: [1, 2] });
  t.is(future.getLoop(), loop);
  t.is(await loop.runUntilComplete(future), 42);
});

test('a self-contained function runs off the calling thread', async (t) => {
  const loop = loopFor(t);
  const id = await loop.runUntilComplete(loop.runInExecutor(null, () => process.getBuiltinModule('node:worker_threads').threadId));
  t.not(id, 0);
});

test('a { module, name } descriptor runs the exported function, sync or async', async (t) => {
  const loop = loopFor(t);
  const results = await allOf(loop, [
    loop.runInExecutor(null, { module: TASKS, name: 'multiply' }, 6, 7),
    loop.runInExecutor(null, { module: TASKS.href, name: 'delayedEcho' }, 'echo'),
  ]);
  t.deepEqual(results, [42, 'echo']);
});

test('a task that throws rejects the Future with its class, message and executor stack', async (t) => {
  const loop = loopFor(t);
  const error = await t.throwsAsync(loop.runUntilComplete(loop.runInExecutor(null, { module: TASKS, name: 'failWith' }, 'bad input')));
  t.true(error instanceof RangeError);
  t.is(error?.message, 'bad input');
  t.regex(error?.stack ?? '', /failWith .*executor-tasks\.[jt]s/);
});

test('a task error keeps its own properties and its name: an fs error its code, errno and path', async (t) => {
  const loop = loopFor(t);
  const readMissing = (path: string): unknown => (process.getBuiltinModule('node:fs') as typeof import('node:fs')).readFileSync(path);
  const error = await t.throwsAsync(loop.runUntilComplete(loop.runInExecutor(null, readMissing, '/nonexistent/multiloop')));
  const fsError = error as NodeJS.ErrnoException;
  t.is(fsError.code, 'ENOENT');
  t.is(fsError.errno, -2);
  t.is(fsError.syscall, 'open');
  t.is(fsError.path, '/nonexistent/multiloop');
});

test('a task error of its own class arrives as an Error bearing its name and its data', async (t) => {
  const loop = loopFor(t);
  const fail = (): never => {
    class QuotaError extends Error {
      override name = 'QuotaError';
      limit = 42;
    }
    throw new QuotaError('over quota');
  };
  const error = await t.throwsAsync(loop.runUntilComplete(loop.runInExecutor(null, fail)));
  t.is(error?.name, 'QuotaError');
  t.is(error?.message, 'over quota');
  t.is((error as Error & { limit?: number }).limit, 42);
});

test('a function that uses a variable of its module fails with a ReferenceError saying it must be self-contained', async (t) => {
  const loop = loopFor(t);
  const outside = 1;
  const error = await t.throwsAsync(loop.runUntilComplete(loop.runInExecutor(null, () => outside + 1)));
  t.true(error instanceof ReferenceError);
  t.regex(error?.message ?? '', /outside is not defined .*must be self-contained/);
});

test('a result that cannot be cloned rejects with a TypeError saying so, and the thread serves on', async (t) => {
  const loop = loopFor(t);
  const error = await t.throwsAsync(loop.runUntilComplete(loop.runInExecutor(null, () => ({ callback: () => 1 }))));
  t.true(error instanceof TypeError);
  t.regex(error?.message ?? '', /result cannot be sent back/);
  t.is(await loop.runUntilComplete(loop.runInExecutor(null, () => 'next')), 'next');
});

test('an argument that cannot be cloned rejects the Future with DataCloneError', async (t) => {
  const loop = loopFor(t);
  // Node 20's DOMException is not a native Error, which ava refuses unless told to take any value.
  const error = await t.throwsAsync(loop.runUntilComplete(loop.runInExecutor(null, (f: unknown) => typeof f, () => 1)), { any: true });
  t.is((error as { name?: string } | undefined)?.name, 'DataCloneError');
});

test('a call whose arguments cannot be cloned fails alone when it queued with others', async (t) => {
  const loop = loopFor(t);
  const pool = new Piscina({ maxThreads: 1, minThreads: 1, concurrentTasksPerWorker: 1 });
  t.teardown(() => pool.destroy());
  const gate = new SharedArrayBuffer(4);
  const blocker = loop.runInExecutor(pool, (cells: SharedArrayBuffer) => {
    Atomics.wait(new Int32Array(cells), 0, 0, 10_000);
  }, gate);
  // Queued behind the blocker, these three leave the queue together, as one batch.
  const queued = [
    loop.runInExecutor(pool, (x: number) => x, 1),
    loop.runInExecutor(pool, (f: unknown) => typeof f, () => 1),
    loop.runInExecutor(pool, (x: number) => x, 3),
  ];
  Atomics.store(new Int32Array(gate), 0, 1);
  Atomics.notify(new Int32Array(gate), 0);
  await loop.runUntilComplete(blocker);
  const outcomes: unknown[] = [];
  await loop.runUntilComplete(async () => {
    for (const future of queued) {
      try {
        outcomes.push(await future);
      } catch (error) {
        outcomes.push((error as Error).name);
      }
    }
  });
  t.deepEqual(outcomes, [1, 'DataCloneError', 3]);
});

test('a method written in shorthand runs from its source', async (t) => {
  const loop = loopFor(t);
  const tasks = { double(x: number) { return x * 2; } };
  t.is(await loop.runUntilComplete(loop.runInExecutor(null, tasks.double, 21)), 42);
});

test('a transferred argument is moved, not copied: the caller\'s buffer ends detached', async (t) => {
  const loop = loopFor(t);
  const bytes = new Uint8Array(1 << 20).fill(7);
  const sum = loop.runInExecutor(null, (data: Uint8Array) => data.reduce((s, b) => s + b, 0), transfer(bytes));
  t.is(await loop.runUntilComplete(sum), 7 << 20);
  t.is(bytes.byteLength, 0);
});

test('a task result wrapped in transfer() arrives whole', async (t) => {
  const loop = loopFor(t);
  const buffer = await loop.runUntilComplete(loop.runInExecutor(null, { module: TASKS, name: 'filledBuffer' }, 4096, 9));
  t.true(buffer instanceof ArrayBuffer);
  t.deepEqual(new Set(new Uint8Array(buffer as ArrayBuffer)), new Set([9]));
  t.is((buffer as ArrayBuffer).byteLength, 4096);
});

test('cancelling the Future of a queued call keeps it from ever running', async (t) => {
  const loop = loopFor(t);
  const pool = new Piscina({ maxThreads: 1, minThreads: 1, concurrentTasksPerWorker: 1 });
  t.teardown(() => pool.destroy());
  const flags = new SharedArrayBuffer(8);
  const blocker = loop.runInExecutor(pool, (cells: SharedArrayBuffer) => {
    Atomics.wait(new Int32Array(cells), 0, 0, 10_000);
  }, flags);
  const queued = loop.runInExecutor(pool, (cells: SharedArrayBuffer) => {
    Atomics.store(new Int32Array(cells), 1, 1);
  }, flags);
  t.true(queued.cancel());
  Atomics.store(new Int32Array(flags), 0, 1);
  Atomics.notify(new Int32Array(flags), 0);
  await loop.runUntilComplete(blocker);
  await loop.runUntilComplete(loop.runInExecutor(pool, () => 'after'));
  t.true(queued.cancelled());
  t.is(Atomics.load(new Int32Array(flags), 1), 0);
});

test('cancelling the Future of a running call drops its result and keeps the thread', async (t) => {
  const loop = loopFor(t);
  const flags = new SharedArrayBuffer(8);
  const running = loop.runInExecutor(null, (cells: SharedArrayBuffer) => {
    const words = new Int32Array(cells);
    Atomics.store(words, 1, 1);
    Atomics.notify(words, 1);
    Atomics.wait(words, 0, 0, 10_000);
    return 'result';
  }, flags);
  await Atomics.waitAsync(new Int32Array(flags), 1, 0).value;
  t.true(running.cancel());
  Atomics.store(new Int32Array(flags), 0, 1);
  Atomics.notify(new Int32Array(flags), 0);
  const error = await t.throwsAsync(loop.runUntilComplete(running));
  t.true(error instanceof CancelledError);
  t.is(await loop.runUntilComplete(loop.runInExecutor(null, () => 'thread still serves')), 'thread still serves');
});

test('the thread bound holds for 100 concurrent submissions from 3 loops', async (t) => {
  const loops = [loopFor(t), loopFor(t), loopFor(t)];
  const counters = new SharedArrayBuffer(8);
  const submitted = loops.map((loop, i) =>
    Array.from({ length: i === 0 ? 34 : 33 }, () => loop.runInExecutor(null, probe, counters)));
  const threads = new Set<number>();
  for (const [i, loop] of loops.entries()) {
    for (const id of await allOf(loop, submitted[i])) threads.add(id as number);
  }
  t.is(maxExecutorThreads(), BOUND);
  t.true(threads.size <= BOUND, `tasks ran on ${threads.size} threads`);
  t.true(Atomics.load(new Int32Array(counters), 1) <= BOUND);
});

test('loops on worker threads share the main thread\'s pool and its bound', async (t) => {
  const counters = new SharedArrayBuffer(8);
  const workers = Array.from({ length: 3 }, (_, i) => new Worker(new URL('./executor.worker.js', import.meta.url), {
    workerData: { counters, tasks: i === 0 ? 34 : 33 },
  }));
  t.teardown(() => Promise.all(workers.map((w) => w.terminate())));
  const answers = await Promise.all(workers.map((worker) => new Promise<number[]>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  })));
  const threads = new Set(answers.flat());
  t.is(answers.flat().length, 100);
  t.false(threads.has(0));
  t.true(threads.size <= BOUND, `tasks ran on ${threads.size} threads`);
  t.true(Atomics.load(new Int32Array(counters), 1) <= BOUND);
});

test('the worker loops of a Runtime run tasks in the process-wide pool', async (t) => {
  const runtime = await Runtime.start({ workers: 2, module: new URL('./executor.runtime-module.js', import.meta.url) });
  t.teardown(() => runtime.close());
  const answers = await Promise.all(runtime.loops.map((ref, i) => ref.call<{ square: number; thread: number }>('squareInExecutor', i + 3)));
  t.deepEqual(answers.map((a) => a.square), [9, 16]);
  const threads = new Set(answers.map((a) => a.thread));
  t.false(threads.has(0));
  t.true(threads.size <= BOUND);
});

test('executorTasks counts a loop\'s calls until they settle', async (t) => {
  const loop = loopFor(t);
  const calls = [loop.runInExecutor(null, () => 1), loop.runInExecutor(null, () => 2)];
  t.is(executorTasks(loop), 2);
  await allOf(loop, calls);
  t.is(executorTasks(loop), 0);
});

test('a task given a LoopRef calls back into the loop while it runs', async (t) => {
  const loop = loopFor(t);
  const steps: number[] = [];
  const allReported = loop.createFuture<void>();
  loop.register('progress', (step: number) => {
    steps.push(step);
    if (steps.length === 5) allReported.setResult();
  });
  const counted = loop.runInExecutor(null, { module: TASKS, name: 'countWithProgress' }, getLoopRef(loop), 5);
  t.is(await loop.runUntilComplete(counted), 5);
  await loop.runUntilComplete(allReported);
  t.deepEqual(steps, [0, 1, 2, 3, 4]);
});

test('setDefaultExecutor makes a Piscina instance the loop\'s default, closed when the loop closes', async (t) => {
  const loop = loopFor(t);
  const pool = new Piscina({ maxThreads: 1 });
  t.teardown(() => pool.destroy());
  loop.setDefaultExecutor(pool);
  t.is(await loop.runUntilComplete(loop.runInExecutor(null, () => 'from the pool')), 'from the pool');
  t.is(pool.completed, 1);
  loop.close();
  await t.throwsAsync(pool.run(null));
});

test('an object with run(task, options) serves as an executor through the runner it is given', async (t) => {
  const loop = loopFor(t);
  const seen: ExecutorRunOptions[] = [];
  const inline: Executor = {
    async run(task: ExecutorTask | ExecutorTask[], options: ExecutorRunOptions) {
      seen.push(options);
      const runner = await import(pathToFileURL(options.filename).href) as Record<string, (task: ExecutorTask | ExecutorTask[]) => Promise<unknown>>;
      return runner[options.name]!(task);
    },
  };
  t.is(await loop.runUntilComplete(loop.runInExecutor(inline, (x: string) => x.toUpperCase(), 'inline')), 'INLINE');
  t.is(seen.length, 1);
});

test('runInExecutor on a closed loop throws RuntimeError', (t) => {
  const loop = newEventLoop();
  loop.close();
  t.throws(() => loop.runInExecutor(null, () => 1), { instanceOf: RuntimeError });
});

test('a bad fn or executor throws TypeError naming it', (t) => {
  const loop = loopFor(t);
  t.throws(() => loop.runInExecutor(null, 42 as never), { instanceOf: TypeError, message: /fn must be/ });
  t.throws(() => loop.runInExecutor(null, { module: TASKS } as never), { instanceOf: TypeError, message: /fn must be/ });
  t.throws(() => loop.runInExecutor(null, Math.max), { instanceOf: TypeError, message: /native or bound/ });
  t.throws(() => loop.runInExecutor({} as never, () => 1), { instanceOf: TypeError, message: /executor must be/ });
  t.throws(() => loop.setDefaultExecutor('pool' as never), { instanceOf: TypeError, message: /executor must be/ });
});

test('setMaxExecutorThreads rejects a count that is not a positive integer', (t) => {
  t.throws(() => setMaxExecutorThreads(0), { instanceOf: RangeError, message: /threads/ });
  t.throws(() => setMaxExecutorThreads(1.5), { instanceOf: RangeError, message: /threads/ });
});

test('setMaxExecutorThreads refuses to resize the running default pool', async (t) => {
  const loop = loopFor(t);
  await loop.runUntilComplete(loop.runInExecutor(null, () => 1));
  t.throws(() => setMaxExecutorThreads(BOUND + 1), { instanceOf: RuntimeError, message: /running/ });
  t.is(maxExecutorThreads(), BOUND);
});

test('setDefaultExecutor(null) returns the loop to the shared pool', async (t) => {
  const loop = loopFor(t);
  const pool = new Piscina({ maxThreads: 1 });
  t.teardown(() => pool.destroy());
  loop.setDefaultExecutor(pool);
  loop.setDefaultExecutor(null);
  t.is(await loop.runUntilComplete(loop.runInExecutor(null, () => 'shared')), 'shared');
  t.is(pool.completed, 0);
});
