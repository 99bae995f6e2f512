/**
 * Which loop a thread uses: getEventLoop, newEventLoop, setEventLoop,
 * getRunningLoop (CPython test_events policy tests, per thread).
 */
import type { ExecutionContext } from 'ava';
import {
  EventLoop, Future, RuntimeError, getEventLoop, getRunningLoop, newEventLoop, setEventLoop, sleep,
} from 'multiloop';
import { loopFor, test } from './helpers/loop.js';

/** Leaves the thread without a current loop when the test ends, closing the one it had. */
function resetCurrentLoop(t: ExecutionContext): void {
  t.teardown(() => {
    const current = getEventLoop();
    setEventLoop(null);
    if (!current.isRunning()) current.close();
  });
}

test('getEventLoop makes a loop on first use and returns the same one after', (t) => {
  resetCurrentLoop(t);
  setEventLoop(null);
  const loop = getEventLoop();
  t.true(loop instanceof EventLoop);
  t.is(getEventLoop(), loop);
});

test('newEventLoop returns a new loop each time and does not make it current', (t) => {
  resetCurrentLoop(t);
  const current = getEventLoop();
  const a = loopFor(t);
  const b = loopFor(t);
  t.true(a instanceof EventLoop);
  t.not(a, b);
  t.is(getEventLoop(), current);
});

test('setEventLoop makes a loop the current one', (t) => {
  resetCurrentLoop(t);
  const loop = newEventLoop();
  setEventLoop(loop);
  t.is(getEventLoop(), loop);
});

test('setEventLoop(null) forgets the current loop, so the next getEventLoop makes another', (t) => {
  resetCurrentLoop(t);
  const first = newEventLoop();
  setEventLoop(first);
  setEventLoop(null);
  const second = getEventLoop();
  t.not(second, first);
  first.close();
});

test('inside a running loop getEventLoop returns the running loop, not the current one', async (t) => {
  resetCurrentLoop(t);
  const current = newEventLoop();
  setEventLoop(current);
  const running = loopFor(t);
  let seen: EventLoop | undefined;
  running.callSoon(() => {
    seen = getEventLoop();
    running.stop();
  });
  await running.runForever();
  t.is(seen, running);
  t.is(getEventLoop(), current);
});

test('getRunningLoop returns the running loop inside it and throws RuntimeError outside', async (t) => {
  const loop = loopFor(t);
  t.throws(() => getRunningLoop(), { instanceOf: RuntimeError });
  let seen: EventLoop | undefined;
  loop.callSoon(() => {
    seen = getRunningLoop();
    loop.stop();
  });
  await loop.runForever();
  t.is(seen, loop);
  t.throws(() => getRunningLoop(), { instanceOf: RuntimeError });
});

test('a Future made outside any running loop belongs to the current loop', (t) => {
  resetCurrentLoop(t);
  const loop = newEventLoop();
  setEventLoop(loop);
  t.is(new Future().getLoop(), loop);
});

test('a Future made outside any running loop belongs to the loop made last while it is open, current or not', (t) => {
  resetCurrentLoop(t);
  const current = newEventLoop();
  setEventLoop(current);
  const latest = loopFor(t);
  t.is(new Future().getLoop(), latest);
  t.is(getEventLoop(), current);
});

test('once the loop made last is closed, a Future made outside any running loop belongs to the current loop', (t) => {
  resetCurrentLoop(t);
  const current = newEventLoop();
  setEventLoop(current);
  newEventLoop().close();
  t.is(new Future().getLoop(), current);
});

test('a new loop never made current runs sleep() made outside it, as asyncio runs run_until_complete(sleep())', async (t) => {
  resetCurrentLoop(t);
  setEventLoop(null);
  const loop = loopFor(t);
  t.is(await loop.runUntilComplete(sleep(0.001, 'slept')), 'slept');
});
