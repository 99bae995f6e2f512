/** The worker module of the Runtime tests: registers a few functions on each worker loop. */
import type { EventLoop } from '../runtime/index.js';
import type { SetupContext } from '../runtime/runtime.js';

export default async function setup(loop: EventLoop, ctx: SetupContext): Promise<void> {
  loop.register('whoami', () => ({ index: ctx.index, workers: ctx.workers, peers: ctx.loops.length }));
  loop.register('askPeer', (peer: number, name: string) => ctx.loops[peer]!.call(name));
  loop.register('greetCoordinator', () => ctx.coordinator.call('greet', ctx.index));
  loop.register('die', () => process.exit(7));
  loop.register('hang', () => loop.createFuture());
  // Setup may be async: the runtime waits for it.
  await new Promise<void>((resolve) => loop.callLater(0.01, resolve));
}
