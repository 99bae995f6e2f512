/**
 * Child process of test/worker-signals.test.ts: worker loop 1 of a runtime
 * adds a SIGUSR2 handler (test/coordinator.worker.ts's 'addSignal'), which
 * reports back to the coordinator; then the process sends itself SIGUSR2.
 *   'added':   prints what the handler reported and exits 0;
 *   'removed': the worker removes its handler first, so SIGUSR2's default
 *              action ends the process.
 */
import { threadId } from 'node:worker_threads';
import { Runtime } from 'multiloop';

const mode = process.argv[2];
const runtime = await Runtime.start({ workers: 2, module: new URL('./coordinator.worker.js', import.meta.url) });
runtime.loop.register('signalled', (index: number, sig: string, workerThread: number) => {
  console.log(JSON.stringify({ index, sig, onWorkerThread: workerThread !== threadId }));
  void runtime.close().then(() => process.exit(0));
});
await runtime.loops[1]!.call('addSignal', 'SIGUSR2');
if (mode === 'removed') await runtime.loops[1]!.call('removeSignal', 'SIGUSR2');
process.kill(process.pid, 'SIGUSR2');
