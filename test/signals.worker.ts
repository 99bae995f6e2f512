/**
 * Worker side of test/signals.test.ts: reports what addSignalHandler and
 * removeSignalHandler throw on a worker thread's loop.
 */
import { parentPort } from 'node:worker_threads';
import { newEventLoop } from 'multiloop';

const loop = newEventLoop();
const errors: { name: string; message: string }[] = [];
for (const call of [() => loop.addSignalHandler('SIGUSR2', () => {}), () => loop.removeSignalHandler('SIGUSR2')]) {
  try {
    call();
  } catch (error) {
    errors.push({ name: (error as Error).name, message: (error as Error).message });
  }
}
loop.close();
parentPort!.postMessage(errors);
