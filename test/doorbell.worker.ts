/**
 * Worker side of test/doorbell.test.ts, by `workerData.mode`:
 *   'ring': rings bell `id` and reports doorbellRing's result;
 *   'close': tries to close bell `id` (another thread's) and reports the result;
 *   'open': opens a bell, reports its id, and ends with the bell still open;
 *   'open-stay': the same, but stays alive until terminated.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { native } from '../native/index.js';

const { mode, id } = workerData as { mode: 'ring' | 'close' | 'open' | 'open-stay'; id: number };
if (mode === 'ring') parentPort!.postMessage(native.doorbellRing(id));
else if (mode === 'close') parentPort!.postMessage(native.doorbellClose(id));
else parentPort!.postMessage(native.doorbellOpen(() => {}));
if (mode === 'open-stay') setInterval(() => {}, 60_000);
