/**
 * A worker thread running an event loop, for the LoopRef tests. It
 * registers a few functions, posts its LoopRef to the parent, and runs
 * until 'stop' is called. Its exception handler forwards each report to
 * the parent loop's 'reported' function.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { LoopRef, getLoopRef, newEventLoop } from '../runtime/index.js';

const parent = LoopRef.from(workerData as { buffer: SharedArrayBuffer });
const loop = newEventLoop();
loop.register('add', (a: number, b: number) => a + b);
loop.register('addLater', (a: number, b: number) => {
  const future = loop.createFuture<number>();
  loop.callLater(0.01, () => future.setResult(a + b));
  return future;
});
loop.register('fail', (message: string) => {
  throw new TypeError(message);
});
loop.register('cancelled', (message: string) => {
  const future = loop.createFuture<number>();
  future.cancel(message);
  return future;
});
loop.register('waitForever', () => {
  const future = loop.createFuture<number>();
  future.addDoneCallback(() => parent.callSoonThreadsafe('reported', future.cancelled() ? 'cancelled there' : 'done there'));
  return future;
});
loop.register('die', () => process.exit(3));
loop.register('askParent', (n: number) => parent.call('double', n));
loop.register('echoTo', (name: string, ...args: unknown[]) => parent.callSoonThreadsafe(name, ...args));
loop.register('stop', () => loop.stop());
loop.setExceptionHandler((_loop, context) => parent.callSoonThreadsafe('reported', context.message));
parentPort!.postMessage(getLoopRef(loop));
await loop.runForever();
loop.close();
