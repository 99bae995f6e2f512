/** A worker module for the Runtime tests: worker 0's setup fails, worker 1's never finishes. */
import type { EventLoop } from '../runtime/index.js';
import type { SetupContext } from '../runtime/runtime.js';

export default function setup(_loop: EventLoop, ctx: SetupContext): Promise<void> {
  if (ctx.index === 0) return Promise.reject(new RangeError('worker 0 cannot set up'));
  return new Promise<void>(() => {});
}
