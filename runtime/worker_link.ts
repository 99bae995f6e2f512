/**
 * The worker loop's link to the coordinator: everything a runtime worker
 * loop installs so that the coordinator can use it — serving the runtime's
 * servers (worker_server.ts), its signal handlers relayed by the coordinator
 * (worker_signals.ts), and its statistics published in shared memory
 * (loop_stats.ts).
 */
import { LoopRef, type LoopRefData } from '../shared/loopref.js';
import type { EventLoop } from './event_loop.js';
import { executorTasks } from './executor.js';
import { LoopStats, startSampling } from './loop_stats.js';
import { registeredFunction } from './registry.js';
import { installWorkerServer } from './worker_server.js';
import { installWorkerSignals } from './worker_signals.js';

/** What the coordinator tells a worker thread about its place in the runtime. */
export interface WorkerLinkData {
  index: number;
  coordinator: LoopRefData;
  /** The worker loop's LoopStats memory. */
  stats: SharedArrayBuffer;
}

/** Links `loop`, the loop of a runtime worker thread, to the coordinator. Call once, before the user's setup. */
export function linkToCoordinator(loop: EventLoop, data: WorkerLinkData): void {
  const stats = LoopStats.from(data.stats);
  installWorkerServer(loop, stats, (name) => registeredFunction(loop, name));
  installWorkerSignals(loop, data.index, LoopRef.from(data.coordinator));
  // The sampler's timer is unreferenced and dies with the thread.
  startSampling(stats, (s) => {
    s.setExecutorTasks(executorTasks(loop));
    s.setCallbacks(loop._callbacksRun());
  });
}
