/**
 * Cancelling a call from a worker thread's loop before its request left the
 * thread: it must never run. One executor thread, so calls run in order.
 */
import { Worker } from 'node:worker_threads';
import { setMaxExecutorThreads } from 'multiloop';
import { test } from './helpers/loop.js';

setMaxExecutorThreads(1);

test('a call a worker loop cancels before its request left the thread never runs', async (t) => {
  const counter = new SharedArrayBuffer(4);
  const worker = new Worker(new URL('./executor-cancel.worker.js', import.meta.url), { workerData: { counter } });
  const answer = await new Promise<{ counted: number; cancelled: boolean }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  await new Promise((resolve) => worker.once('exit', resolve));
  t.true(answer.cancelled);
  // Had the cancelled call run, it would have run first and the second would count 2.
  t.is(answer.counted, 1);
  t.is(Atomics.load(new Int32Array(counter), 0), 1);
});
