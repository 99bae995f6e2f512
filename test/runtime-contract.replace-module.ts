/**
 * The worker module of runtime-contract.test.ts's test of a close during a worker's
 * replacement: a worker can die, another can get stuck in a callback, and
 * each says when it has been set up for a while.
 */
import type { EventLoop } from '../runtime/index.js';
import type { SetupContext } from '../runtime/runtime.js';

export default function setup(loop: EventLoop, ctx: SetupContext): void {
  loop.register('die', () => process.exit(3));
  // Never returns: the loop is stuck in a callback (its thread can only be terminated).
  loop.register('spin', () => {
    ctx.coordinator.callSoonThreadsafe('spinning', ctx.index);
    for (;;);
  });
  // Long after setup: for a replacement, the runtime is by then telling its peers of the new loop.
  loop.callLater(0.2, () => ctx.coordinator.callSoonThreadsafe('settled', ctx.index));
}
