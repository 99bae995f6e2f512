/**
 * Entry point of a loop worker thread: runs one EventLoop for the thread's
 * whole life, drains its ring, and, when the coordinator asks (comlink),
 * loads the user's module and awaits its default export
 * `setup(loop, { index, workers, loops, coordinator })`.
 */
import * as Comlink from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import { parentPort, workerData } from 'node:worker_threads';
import { flushWriters } from '../shared/directory.js';
import { LoopRef, type LoopRefData } from '../shared/loopref.js';
import { Ring } from '../shared/ring.js';
import { newEventLoop, setEventLoop } from '../runtime/events.js';
import type { LoopWorkerControl, LoopWorkerData } from '../runtime/loop_thread.js';
import { registryOf } from '../runtime/registry.js';
import type { SetupContext } from '../runtime/runtime.js';
import { linkToCoordinator } from '../runtime/worker_link.js';

const data = workerData as LoopWorkerData;
const loop = newEventLoop();
setEventLoop(loop);
registryOf(loop, Ring.from(data.ring));
linkToCoordinator(loop, data);
const running = loop.runForever();
// ctx.loops: kept current when a peer worker is replaced (peerReplaced).
const peers = data.loops.map((ref) => LoopRef.from(ref));

const control: LoopWorkerControl = {
  async setup(): Promise<void> {
    const module = (await import(data.module)) as { default?: unknown };
    const setup = module.default;
    if (typeof setup !== 'function') {
      throw new TypeError(`Runtime.start: module ${data.module} must export a default function setup(loop, ctx), got ${typeof setup}`);
    }
    const ctx: SetupContext = {
      index: data.index,
      workers: data.workers,
      loops: peers,
      coordinator: LoopRef.from(data.coordinator),
    };
    await loop.createTask(async () => setup(loop, ctx));
  },
  peerReplaced(index: number, ref: LoopRefData): void {
    peers[index] = LoopRef.from(ref);
  },
  async stop(): Promise<void> {
    loop.stop();
    await running;
    loop.close();
    // Calls this loop made that still wait in an overflow queue are written before the thread may end.
    await flushWriters();
  },
};

Comlink.expose(control, nodeEndpoint(parentPort!));
