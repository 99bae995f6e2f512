/**
 * A worker thread with its own loop that submits `workerData.tasks` probes
 * to its default executor and posts back the executor thread ids they ran on.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { newEventLoop } from 'multiloop';

const { counters, tasks } = workerData as { counters: SharedArrayBuffer; tasks: number };
const probe = { module: new URL('./executor-tasks.js', import.meta.url), name: 'probe' };
const loop = newEventLoop();
const submitted = Array.from({ length: tasks }, () => loop.runInExecutor(null, probe, counters));
const threads = await loop.runUntilComplete(async () => {
  const ids: unknown[] = [];
  for (const future of submitted) ids.push(await future);
  return ids;
});
loop.close();
parentPort?.postMessage(threads);
