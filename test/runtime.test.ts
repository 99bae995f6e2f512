import test from 'ava';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { RingClosedError, getEventLoop, newEventLoop, type ExceptionContext } from '../runtime/index.js';
import { Runtime } from '../runtime/runtime.js';

// Each Runtime runs the coordinator loop on this thread: one at a time.
const MODULE = new URL('./runtime.module.js', import.meta.url);
const FAILING = new URL('./runtime.failing-module.js', import.meta.url);
const SPLIT = new URL('./runtime.split-module.js', import.meta.url);

/** OS threads of this process (Linux): worker threads included. */
const threadCount = (): number => readdirSync('/proc/self/task').length;

test.serial('Runtime.start runs the module in every worker and gives a LoopRef per worker and one for the coordinator', async (t) => {
  const runtime = await Runtime.start({ workers: 2, module: MODULE });
  t.is(runtime.loops.length, 2);
  t.true(runtime.loop.isRunning());
  const ids = await Promise.all(runtime.loops.map((ref) => ref.call('whoami')));
  t.deepEqual(ids, [{ index: 0, workers: 2, peers: 2 }, { index: 1, workers: 2, peers: 2 }]);
  await runtime.close();
  t.true(runtime.loop.isClosed());
});

test.serial('worker loops call each other and the coordinator through their context', async (t) => {
  const runtime = await Runtime.start({ workers: 2, module: MODULE });
  runtime.loop.register('greet', (index: number) => `hello ${index}`);
  t.deepEqual(await runtime.loops[0]!.call('askPeer', 1, 'whoami'), { index: 1, workers: 2, peers: 2 });
  t.is(await runtime.loops[1]!.call('greetCoordinator'), 'hello 1');
  t.is(await runtime.coordinator.call('greet', 9), 'hello 9');
  await runtime.close();
});

test.serial('a module that throws while loading makes Runtime.start reject with its error and leaves no thread', async (t) => {
  const before = threadCount();
  const error = await t.throwsAsync(Runtime.start({ workers: 2, module: FAILING }));
  t.is(error?.message, 'this module cannot load');
  t.is(threadCount(), before);
});

test.serial('a setup that fails rejects Runtime.start at once with its error\'s class, ending the workers still setting up', async (t) => {
  const before = threadCount();
  const error = await t.throwsAsync(Runtime.start({ workers: 2, module: SPLIT }), { instanceOf: RangeError });
  t.is(error?.message, 'worker 0 cannot set up');
  t.is(threadCount(), before);
});

test.serial('a module path is resolved against the current directory', async (t) => {
  const runtime = await Runtime.start({ workers: 1, module: fileURLToPath(MODULE) });
  t.like(await runtime.loops[0]!.call('whoami'), { index: 0 });
  await runtime.close();
});

test.serial('close stops every loop and ends every thread; calls through their LoopRefs then fail', async (t) => {
  const before = threadCount();
  const runtime = await Runtime.start({ workers: 2, module: MODULE });
  t.true(threadCount() > before);
  await runtime.close();
  t.is(threadCount(), before);
  t.true(runtime.loops.every((ref) => ref.closed));
  t.throws(() => runtime.loops[0]!.callSoonThreadsafe('whoami'), { instanceOf: RingClosedError });
  await runtime.close();
});

test.serial('a worker that dies is reported to the coordinator exception handler, and a request to it fails', async (t) => {
  const runtime = await Runtime.start({ workers: 2, module: MODULE });
  const reported = new Promise<ExceptionContext>((resolve) => runtime.loop.setExceptionHandler((_loop, context) => resolve(context)));
  const pending = runtime.loops[1]!.call('hang');
  await t.throwsAsync(Promise.resolve(runtime.loops[1]!.call('die')), { instanceOf: RingClosedError });
  await t.throwsAsync(Promise.resolve(pending), { instanceOf: RingClosedError });
  t.regex((await reported).message, /loop worker 1 ended unexpectedly \(exit code 7\)/);
  t.like(await runtime.loops[0]!.call('whoami'), { index: 0 }, 'the other worker serves on');
  await runtime.close();
});

test.serial('Runtime.start inside a running loop makes it the coordinator loop and leaves it running after close', async (t) => {
  const loop = newEventLoop();
  const result = await loop.runUntilComplete(async () => {
    const runtime = await Runtime.start({ workers: 1, module: MODULE });
    t.is(runtime.loop, loop);
    const who = await runtime.loops[0]!.call('whoami');
    await runtime.close();
    t.true(loop.isRunning());
    return who;
  });
  t.like(result, { index: 0 });
  loop.close();
});

test.serial('close leaves this thread without a current loop rather than with a closed one', async (t) => {
  const runtime = await Runtime.start({ workers: 1, module: MODULE });
  t.is(getEventLoop(), runtime.loop);
  await runtime.close();
  const next = getEventLoop();
  t.not(next, runtime.loop);
  t.false(next.isClosed());
  next.close();
});

test.serial('Runtime.start names a bad option', async (t) => {
  await t.throwsAsync(Runtime.start({ workers: 0, module: MODULE }), { instanceOf: RangeError, message: /workers/ });
  await t.throwsAsync(Runtime.start({ workers: 1.5, module: MODULE }), { instanceOf: TypeError, message: /workers/ });
  await t.throwsAsync(Runtime.start({ workers: 1 } as unknown as { module: string }), { instanceOf: TypeError, message: /module/ });
  await t.throwsAsync(Runtime.start({ workers: 1, module: MODULE, ringSize: 1000 }), { instanceOf: RangeError, message: /ringSize/ });
});
