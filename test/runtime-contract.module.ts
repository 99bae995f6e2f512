/** The worker module of runtime-contract.test.ts: HTTP handlers that fail, and a loop that reports its exceptions to the coordinator. */
import type http from 'node:http';
import type { EventLoop } from '../runtime/index.js';
import type { SetupContext } from '../runtime/runtime.js';

export default function setup(loop: EventLoop, ctx: SetupContext): void {
  // Reports from this loop's exception handler reach the test through the coordinator.
  loop.setExceptionHandler((_loop, context) => ctx.coordinator.callSoonThreadsafe('workerReported', ctx.index, context.message, String(context.exception)));
  // Never returns: the loop is stuck in a callback (its thread can only be terminated).
  loop.register('spin', () => {
    ctx.coordinator.callSoonThreadsafe('spinning', ctx.index);
    for (;;);
  });
  loop.register('throws', (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (req.url === '/fail') throw new Error('the handler failed');
    res.end(`ok from ${ctx.index}`);
  });
  loop.register('rejects', async (req: http.IncomingMessage, res: http.ServerResponse) => {
    await Promise.resolve();
    if (req.url === '/fail') throw new Error('the handler failed');
    res.end(`ok from ${ctx.index}`);
  });
}
