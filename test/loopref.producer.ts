/**
 * A producer thread with no event loop, for the LoopRef tests: sends
 * `count` calls of `name`(producer, seq) through a LoopRef, optionally after
 * sleeping `idleMs` first (with a send timestamp instead of seq), then
 * makes one `call` and posts its result.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { LoopRef } from '../shared/index.js';

interface Job {
  ref: { buffer: SharedArrayBuffer };
  name: string;
  producer: number;
  count: number;
  idleMs: number;
  request?: string;
}

const job = workerData as Job;
const ref = LoopRef.from(job.ref);
if (job.idleMs > 0) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, job.idleMs);
  ref.callSoonThreadsafe(job.name, job.producer, performance.timeOrigin + performance.now());
}
for (let seq = 0; seq < job.count; seq++) ref.callSoonThreadsafe(job.name, job.producer, seq);
if (job.request !== undefined) {
  ref.call(job.request, 20, 22).then(
    (value) => parentPort!.postMessage({ value }),
    (error: Error) => parentPort!.postMessage({ error: `${error.name}: ${error.message}` }),
  );
}
