import test from 'ava';
import { maxExecutorThreads } from '../runtime/index.js';
import { Runtime } from '../runtime/runtime.js';

// A file of its own: the executor bound is process-wide and fixed once the pool runs.
const MODULE = new URL('./runtime.module.js', import.meta.url);

test.serial('Runtime.start names a bad executor.maxThreads', async (t) => {
  await t.throwsAsync(Runtime.start({ workers: 1, module: MODULE, executor: { maxThreads: 0 } }), {
    instanceOf: RangeError,
    message: /executor\.maxThreads/,
  });
  await t.throwsAsync(Runtime.start({ workers: 1, module: MODULE, executor: 3 as never }), {
    instanceOf: TypeError,
    message: /executor must be an object/,
  });
});

test.serial('Runtime.start executor.maxThreads sets the process-wide executor thread bound', async (t) => {
  const runtime = await Runtime.start({ workers: 1, module: MODULE, executor: { maxThreads: 3 } });
  t.teardown(() => runtime.close());
  t.is(maxExecutorThreads(), 3);
});
