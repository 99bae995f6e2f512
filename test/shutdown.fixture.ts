/**
 * Child process of test/shutdown.test.ts: a runtime serving HTTP on two
 * worker loops (test/coordinator.worker.ts's 'hello' handler). Prints its
 * port, then 'started <index>' for each request that reached a worker with
 * `notify` in its query. With 'default', SIGINT/SIGTERM get the runtime's
 * default handlers; with 'timeout', SIGTERM runs `runtime.shutdown({ timeout:
 * 0.2 })` and exits 0 after printing how many connections it had to close.
 */
import { Runtime } from 'multiloop';

const mode = process.argv[2];
const runtime = await Runtime.start({ workers: 2, module: new URL('./coordinator.worker.js', import.meta.url) });
runtime.loop.register('requestStarted', (index: number) => console.log(`started ${index}`));
if (mode === 'timeout') {
  runtime.loop.addSignalHandler('SIGTERM', () => {
    void runtime.shutdown({ timeout: 0.2 }).then((closed) => {
      console.log(`closed ${closed}`);
      process.exit(0);
    });
  });
}
const server = await runtime.serveHttp('hello', '127.0.0.1', 0);
console.log(`port ${(server.sockets![0]!.getsockname() as [string, number])[1]}`);
