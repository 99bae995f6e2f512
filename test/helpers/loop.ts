/**
 * Shared fixtures of the loop-core tests.
 */
import anyTest, { type ExecutionContext } from 'ava';
import { logger, newEventLoop, type EventLoop, type Logger } from 'multiloop';

/**
 * ava runs a file's tests concurrently by default, but only one loop may run
 * per thread at a time: the loop-core tests run one by one.
 */
export const test = anyTest.serial;

/** A new loop that is stopped and closed when the test ends, whatever its outcome. */
export function loopFor(t: ExecutionContext): EventLoop {
  const loop = newEventLoop();
  t.teardown(async () => {
    if (loop.isRunning()) {
      loop.stop();
      while (loop.isRunning()) await new Promise((resolve) => setImmediate(resolve));
    }
    loop.close();
  });
  return loop;
}

/** Runs `fn(loop)` on a new loop until it settles, then closes the loop, whatever the outcome. */
export async function withLoop<T>(fn: (loop: EventLoop) => Promise<T>): Promise<T> {
  const loop = newEventLoop();
  try {
    return await loop.runUntilComplete(() => fn(loop));
  } finally {
    loop.close();
  }
}

/** Runs exactly one iteration of `loop` (asyncio's `stop(); run_forever()` idiom). */
export async function runOnce(loop: EventLoop): Promise<void> {
  loop.stop();
  await loop.runForever();
}

/** Runs `loop` until `delay` seconds of loop time have passed. */
export async function runFor(loop: EventLoop, delay: number): Promise<void> {
  loop.callLater(delay, () => loop.stop());
  await loop.runForever();
}

/** Records the calls made to `logger[level]` instead of printing them, until the test ends. */
export function captureLogger(t: ExecutionContext, level: keyof Logger): unknown[][] {
  const original = logger[level];
  const calls: unknown[][] = [];
  logger[level] = (...args: unknown[]) => {
    calls.push(args);
  };
  t.teardown(() => {
    logger[level] = original;
  });
  return calls;
}
