/**
 * Error handling API of the seed (CPython test_base_events exception handler
 * tests): setExceptionHandler / getExceptionHandler /
 * defaultExceptionHandler / callExceptionHandler and their context keys.
 */
import { format } from 'node:util';
import { type EventLoop, type ExceptionContext, type ExceptionHandler } from 'multiloop';
import { captureLogger, loopFor, runOnce, test } from './helpers/loop.js';

function recordErrors(loop: EventLoop): ExceptionContext[] {
  const contexts: ExceptionContext[] = [];
  loop.setExceptionHandler((_loop, context) => contexts.push(context));
  return contexts;
}

test('a new loop has no custom exception handler', (t) => {
  const loop = loopFor(t);
  t.is(loop.getExceptionHandler(), null);
});

test('setExceptionHandler installs a handler and null restores the default', (t) => {
  const loop = loopFor(t);
  const handler: ExceptionHandler = () => {};
  loop.setExceptionHandler(handler);
  t.is(loop.getExceptionHandler(), handler);
  loop.setExceptionHandler(null);
  t.is(loop.getExceptionHandler(), null);
});

test('an exception in a callback reaches the handler with the loop, message, exception and the very Handle', async (t) => {
  const loop = loopFor(t);
  const calls: [EventLoop, ExceptionContext][] = [];
  loop.setExceptionHandler((l, context) => calls.push([l as EventLoop, context]));
  const error = new Error('boom');
  const handle = loop.callSoon(function explode() { throw error; });
  await runOnce(loop);
  t.is(calls.length, 1);
  const [receivedLoop, context] = calls[0]!;
  t.is(receivedLoop, loop);
  t.is(context.exception, error);
  t.is(context.handle, handle);
  t.regex(context.message, /explode/);
});

test('an exception in a timer callback carries the very TimerHandle', async (t) => {
  const loop = loopFor(t);
  const contexts = recordErrors(loop);
  const handle = loop.callLater(0, () => { throw new Error('timer boom'); });
  await runOnce(loop);
  t.is(contexts.length, 1);
  t.is(contexts[0]!.handle, handle);
});

test('an exception in a callback never stops the loop', async (t) => {
  const loop = loopFor(t);
  const contexts = recordErrors(loop);
  const after: string[] = [];
  loop.callSoon(() => { throw new Error('first'); });
  loop.callSoon(() => after.push('same iteration'));
  loop.callLater(0.005, () => { throw new Error('timer'); });
  const future = loop.createFuture<string>();
  loop.callLater(0.01, () => future.setResult('finished'));
  t.is(await loop.runUntilComplete(future), 'finished');
  t.deepEqual(after, ['same iteration']);
  t.is(contexts.length, 2);
});

test('a thrown non-Error value reaches the handler as is', async (t) => {
  const loop = loopFor(t);
  const contexts = recordErrors(loop);
  loop.callSoon(() => { throw 'a string'; });
  await runOnce(loop);
  t.is(contexts[0]!.exception, 'a string');
});

test('callExceptionHandler passes the context to the custom handler', (t) => {
  const loop = loopFor(t);
  const contexts = recordErrors(loop);
  const context = { message: 'custom', exception: new Error('x'), protocol: {}, transport: {}, socket: {} };
  loop.callExceptionHandler(context);
  t.deepEqual(contexts, [context]);
  t.is(contexts[0]!.protocol, context.protocol);
});

test('without a custom handler the default one logs the message and exception through logger.error', async (t) => {
  const loop = loopFor(t);
  const logged = captureLogger(t, 'error');
  const error = new Error('logged boom');
  loop.callSoon(function failing() { throw error; });
  await runOnce(loop);
  t.is(logged.length, 1);
  t.true(logged[0]!.includes(error));
  t.regex(format(...logged[0]!), /Exception in callback failing/);
});

test('defaultExceptionHandler logs every context key', (t) => {
  const loop = loopFor(t);
  const logged = captureLogger(t, 'error');
  loop.defaultExceptionHandler({ message: 'something broke', future: 'the future', transport: 'the transport' });
  t.is(logged.length, 1);
  const text = format(...logged[0]!);
  t.regex(text, /something broke/);
  t.regex(text, /future: the future/);
  t.regex(text, /transport: the transport/);
});

test('defaultExceptionHandler logs plain and prototype-less context values by their content', (t) => {
  const loop = loopFor(t);
  const logged = captureLogger(t, 'error');
  const bare = Object.assign(Object.create(null) as object, { fd: 7 });
  loop.defaultExceptionHandler({ message: 'odd values', socket: bare, peer: ['127.0.0.1', 8080] });
  t.is(logged.length, 1);
  const text = format(...logged[0]!);
  t.regex(text, /odd values/);
  t.regex(text, /socket: .*fd: 7/);
  t.regex(text, /peer: .*'127\.0\.0\.1', 8080/);
});

test('a custom handler may defer to defaultExceptionHandler', async (t) => {
  const loop = loopFor(t);
  const logged = captureLogger(t, 'error');
  loop.setExceptionHandler((l, context) => l.defaultExceptionHandler(context));
  loop.callSoon(() => { throw new Error('deferred'); });
  await runOnce(loop);
  t.is(logged.length, 1);
  t.regex(format(...logged[0]!), /deferred/);
});

test('a throwing custom handler is reported by the default one, with the original context', async (t) => {
  const loop = loopFor(t);
  const logged = captureLogger(t, 'error');
  const handlerError = new Error('handler broke');
  loop.setExceptionHandler(() => { throw handlerError; });
  loop.callSoon(function original() { throw new Error('original failure'); });
  let ranAfter = false;
  loop.callSoon(() => { ranAfter = true; });
  await runOnce(loop);
  t.true(ranAfter);
  t.is(logged.length, 1);
  const text = format(...logged[0]!);
  t.regex(text, /Unhandled error in exception handler/);
  t.regex(text, /handler broke/);
  t.regex(text, /Exception in callback original/);
  t.regex(text, /original failure/);
});
