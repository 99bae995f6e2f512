/**
 * Child process of test/signals.test.ts. Sends itself SIGUSR2 after
 *   'installed': adding a handler (which prints 'handled' and stops the loop),
 *   'removed':   adding then removing the handler,
 *   'closed':    adding a handler, then closing its loop;
 * in the last two the default action must end the process by SIGUSR2.
 */
import { newEventLoop } from 'multiloop';

const mode = process.argv[2];
const loop = newEventLoop();
loop.addSignalHandler('SIGUSR2', () => {
  console.log('handled');
  loop.stop();
});
if (mode === 'removed') loop.removeSignalHandler('SIGUSR2');
if (mode === 'closed') loop.close();

const survivor = mode === 'closed' ? newEventLoop() : loop;
survivor.callSoon(() => process.kill(process.pid, 'SIGUSR2'));
await survivor.runForever();
survivor.close();
