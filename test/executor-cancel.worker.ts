/**
 * A worker thread with its own loop: submits a call to its default executor
 * (the main thread's pool), cancels it at once, submits a second, and posts
 * back what the second counted and whether the first ended cancelled.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { newEventLoop } from 'multiloop';

const { counter } = workerData as { counter: SharedArrayBuffer };
const count = (shared: SharedArrayBuffer): number => Atomics.add(new Int32Array(shared), 0, 1) + 1;
const loop = newEventLoop();
const dropped = loop.runInExecutor(null, count, counter);
dropped.cancel();
const counted = await loop.runUntilComplete(loop.runInExecutor(null, count, counter));
loop.close();
parentPort?.postMessage({ counted, cancelled: dropped.cancelled() });
