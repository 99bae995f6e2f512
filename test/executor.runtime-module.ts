/**
 * The worker module of the executor's Runtime test: each worker loop runs
 * a computation in its default executor when asked.
 */
import type { EventLoop } from 'multiloop';

export default function setup(loop: EventLoop): void {
  loop.register('squareInExecutor', (x: number) => loop.runInExecutor(null, (v: number) => ({
    square: v * v,
    thread: process.getBuiltinModule('node:worker_threads').threadId,
  }), x));
}
