/**
 * Cancelled executor calls that have not started never run: from a worker
 * thread's loop before its request left the thread, and from this thread's
 * loop after Piscina took the call. One executor thread, so calls run in
 * order.
 */
import { Worker } from 'node:worker_threads';
import { setMaxExecutorThreads, sleep } from 'multiloop';
import { loopFor, test } from './helpers/loop.js';

setMaxExecutorThreads(1);

test('a call a worker loop cancels before its request left the thread never runs', async (t) => {
  const counter = new SharedArrayBuffer(4);
  const worker = new Worker(new URL('./executor-cancel.worker.js', import.meta.url), { workerData: { counter } });
  // Listened for from the start: the exit can come in the same turn as the answer.
  const exited = new Promise((resolve) => worker.once('exit', resolve));
  const answer = await new Promise<{ counted: number; cancelled: boolean }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  await exited;
  t.true(answer.cancelled);
  // Had the cancelled call run, it would have run first and the second would count 2.
  t.is(answer.counted, 1);
  t.is(Atomics.load(new Int32Array(counter), 0), 1);
});

test('a call cancelled while the executor thread holds it behind a running one never runs', async (t) => {
  const loop = loopFor(t);
  const gate = new SharedArrayBuffer(4);
  const counter = new SharedArrayBuffer(4);
  const block = (shared: SharedArrayBuffer): void => void Atomics.wait(new Int32Array(shared), 0, 0, 10_000);
  const count = (shared: SharedArrayBuffer): number => Atomics.add(new Int32Array(shared), 0, 1) + 1;
  const counted = await loop.runUntilComplete(async () => {
    const blocker = loop.runInExecutor(null, block, gate);
    // Handed to Piscina at once (it holds 16 tasks per thread), behind the blocker.
    const dropped = loop.runInExecutor(null, count, counter);
    const last = loop.runInExecutor(null, count, counter);
    dropped.cancel();
    // One iteration: the cancellation reaches the executor's flags before the blocker ends.
    await sleep(0);
    Atomics.store(new Int32Array(gate), 0, 1);
    Atomics.notify(new Int32Array(gate), 0);
    await blocker;
    return last;
  });
  t.is(counted, 1);
  t.is(Atomics.load(new Int32Array(counter), 0), 1);
});
