import test from 'ava';
import { once } from 'node:events';
import { threadId, Worker } from 'node:worker_threads';
import { native } from '../native/index.js';

/** Runs test/doorbell.worker.ts in `mode` on bell `id`: its one message, once it has exited. */
async function inWorker(mode: 'ring' | 'close' | 'open', id = 0): Promise<unknown> {
  const worker = new Worker(new URL('./doorbell.worker.js', import.meta.url), { workerData: { mode, id } });
  // Both listeners from the start: Node may emit a last message and 'exit' in one go.
  const [[message], [code]] = (await Promise.all([once(worker, 'message'), once(worker, 'exit')])) as [[unknown], [number]];
  if (code !== 0) throw new Error(`doorbell worker exited with ${code}`);
  return message;
}

/** Opens a bell on this thread, closed when the test ends; `rung` resolves at each call. */
function openBell(t: { teardown(fn: () => void): void }) {
  const calls: number[] = [];
  let next: () => void = () => {};
  const id = native.doorbellOpen(() => {
    calls.push(threadId);
    next();
  });
  t.teardown(() => native.doorbellClose(id));
  const rung = (): Promise<void> => new Promise((resolve) => (next = resolve));
  // Bells are unreferenced; this keeps the thread alive while a test waits for one.
  const keepAlive = setInterval(() => {}, 60_000);
  t.teardown(() => clearInterval(keepAlive));
  return { id, calls, rung };
}

test('a doorbell rung from another thread calls onRing on the thread that opened it', async (t) => {
  const bell = openBell(t);
  const rung = bell.rung();
  t.true(await inWorker('ring', bell.id));
  await rung;
  t.deepEqual(bell.calls, [threadId]);
});

test('rings that arrive before the loop turns coalesce into one call', async (t) => {
  const bell = openBell(t);
  let rung = bell.rung();
  for (let i = 0; i < 100; i++) native.doorbellRing(bell.id);
  await rung;
  rung = bell.rung();
  native.doorbellRing(bell.id);
  await rung;
  t.is(bell.calls.length, 2);
});

test('ringing a closed bell returns false', (t) => {
  const id = native.doorbellOpen(() => t.fail('a closed bell called onRing'));
  t.true(native.doorbellClose(id));
  t.false(native.doorbellRing(id));
  t.false(native.doorbellClose(id));
});

test("a thread cannot close another thread's bell", async (t) => {
  const bell = openBell(t);
  t.false(await inWorker('close', bell.id));
  const rung = bell.rung();
  const rang = native.doorbellRing(bell.id);
  t.true(rang);
  if (rang) await rung;
  t.is(bell.calls.length, 1);
});

test('an open bell does not keep its thread alive, and is closed when the thread ends', async (t) => {
  const id = await inWorker('open');
  t.is(typeof id, 'number');
  t.false(native.doorbellRing(id as number));
});

test('a bell still open when its worker is terminated is closed, and Node does not abort', async (t) => {
  const worker = new Worker(new URL('./doorbell.worker.js', import.meta.url), { workerData: { mode: 'open-stay', id: 0 } });
  const [id] = (await once(worker, 'message')) as [number];
  t.true(native.doorbellRing(id));
  t.is(await worker.terminate(), 1);
  t.false(native.doorbellRing(id));
});

test('doorbell functions refuse arguments of the wrong type with a TypeError naming them', (t) => {
  t.throws(() => native.doorbellOpen(42 as unknown as () => void), { instanceOf: TypeError, message: /onRing/ });
  t.throws(() => native.doorbellRing('1' as unknown as number), { instanceOf: TypeError, message: /id/ });
  t.throws(() => native.doorbellClose(undefined as unknown as number), { instanceOf: TypeError, message: /id/ });
});
