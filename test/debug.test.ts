/**
 * Debug mode (the seed's get_debug / set_debug and asyncio's debug mode):
 * the environment default, slow-callback reports and creation stacks.
 */
import net from 'node:net';
import type { ExecutionContext } from 'ava';
import { Protocol, getLoopRef, newEventLoop, type EventLoop, type ExceptionContext, type Future, type Transport } from 'multiloop';
import { captureLogger, loopFor, runOnce, test } from './helpers/loop.js';

const DEBUG_VARIABLES = ['PYTHONASYNCIODEBUG', 'MULTILOOP_DEBUG'] as const;

/** Runs `fn` with the debug variables set as given (others unset), restoring the environment after. */
function withDebugEnvironment<T>(values: Partial<Record<(typeof DEBUG_VARIABLES)[number], string>>, fn: () => T): T {
  const saved = DEBUG_VARIABLES.map((name) => [name, process.env[name]] as const);
  try {
    for (const name of DEBUG_VARIABLES) {
      const value = values[name];
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    return fn();
  } finally {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

function debugOfNewLoop(): boolean {
  const loop = newEventLoop();
  const debug = loop.getDebug();
  loop.close();
  return debug;
}

/** Busy-waits: a slow callback is exactly what these tests need. */
/** A loop in debug mode that reports callbacks slower than 10 ms, and the warnings it logs. */
function slowReportingLoop(t: ExecutionContext): { loop: EventLoop; warnings: unknown[][] } {
  const loop = loopFor(t);
  const warnings = captureLogger(t, 'warn');
  loop.setDebug(true);
  loop.slowCallbackDuration = 0.01;
  return { loop, warnings };
}

/**
 * The slow-callback reports among `warnings` that match `pattern`: under a
 * loaded machine another callback (a first compilation) may also pass 10 ms.
 */
function reportsOf(warnings: unknown[][], pattern: RegExp): string[] {
  return warnings.map((w) => w.join(' ')).filter((text) => /took \d+\.\d{3} seconds/.test(text) && pattern.test(text));
}

function spin(seconds: number): void {
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) { /* spin */ }
}

test('debug is off by default when neither debug variable is set', (t) => {
  t.false(withDebugEnvironment({}, debugOfNewLoop));
});

test('MULTILOOP_DEBUG set to a non-empty string turns debug on by default', (t) => {
  t.true(withDebugEnvironment({ MULTILOOP_DEBUG: '1' }, debugOfNewLoop));
});

test('PYTHONASYNCIODEBUG set to a non-empty string turns debug on by default', (t) => {
  t.true(withDebugEnvironment({ PYTHONASYNCIODEBUG: 'yes' }, debugOfNewLoop));
});

test('an empty debug variable leaves debug off', (t) => {
  t.false(withDebugEnvironment({ PYTHONASYNCIODEBUG: '', MULTILOOP_DEBUG: '' }, debugOfNewLoop));
});

test('setDebug switches debug mode on and off', (t) => {
  const loop = loopFor(t);
  loop.setDebug(true);
  t.true(loop.getDebug());
  loop.setDebug(false);
  t.false(loop.getDebug());
});

test('slowCallbackDuration defaults to 0.1 seconds', (t) => {
  const loop = loopFor(t);
  t.is(loop.slowCallbackDuration, 0.1);
});

test('in debug mode a callback slower than slowCallbackDuration is reported through logger.warn', async (t) => {
  const { loop, warnings } = slowReportingLoop(t);
  loop.callSoon(function slowpoke() { spin(0.02); });
  await runOnce(loop);
  t.is(reportsOf(warnings, /slowpoke/).length, 1);
});

test('in debug mode a slow function called through a LoopRef is reported like any callback', async (t) => {
  const { loop, warnings } = slowReportingLoop(t);
  const done = loop.createFuture<void>();
  loop.register('slow', function slowFromAfar(seconds: number) {
    spin(seconds);
    done.setResult();
  });
  getLoopRef(loop).callSoonThreadsafe('slow', 0.02);
  await loop.runUntilComplete(done);
  t.is(reportsOf(warnings, /slowFromAfar/).length, 1);
});

test('in debug mode a slow function called through LoopRef.call is reported', async (t) => {
  const { loop, warnings } = slowReportingLoop(t);
  loop.register('slowAnswer', function slowAnswer(seconds: number) {
    spin(seconds);
    return 42;
  });
  t.is(await loop.runUntilComplete(async () => getLoopRef(loop).call('slowAnswer', 0.02)), 42);
  t.is(reportsOf(warnings, /slowAnswer/).length, 1);
});

test('in debug mode a slow dataReceived that closes its transport is still reported by name', async (t) => {
  const { loop, warnings } = slowReportingLoop(t);
  const lost = loop.createFuture<void>();
  const server = await loop.runUntilComplete(loop.createServer(() => new (class extends SlowReader {
    override dataReceived(): void {
      super.dataReceived();
      this.transport.close();
    }
  })(0.02, lost), '127.0.0.1', 0));
  t.teardown(() => server.close());
  const client = net.connect(server.sockets![0]!.getsockname()[1] as number, '127.0.0.1', () => client.write('x'));
  await loop.runUntilComplete(lost);
  client.destroy();
  t.is(reportsOf(warnings, /^Executing <Handle _onReadable\(\)> took/).length, 1);
});

/** A protocol whose dataReceived holds the loop `seconds`; `lost` settles with its connection. */
class SlowReader extends Protocol {
  transport!: Transport;
  constructor(private readonly seconds: number, readonly lost: Future<void>) {
    super();
  }
  override connectionMade(transport: Transport): void {
    this.transport = transport;
  }
  override dataReceived(): void {
    spin(this.seconds);
  }
  override connectionLost(): void {
    this.lost.setResult();
  }
}

test('in debug mode a slow dataReceived of a server connection is reported', async (t) => {
  const { loop, warnings } = slowReportingLoop(t);
  const lost = loop.createFuture<void>();
  const server = await loop.runUntilComplete(loop.createServer(() => new SlowReader(0.02, lost), '127.0.0.1', 0));
  t.teardown(() => server.close());
  const client = net.connect(server.sockets![0]!.getsockname()[1] as number, '127.0.0.1', () => client.end('x'));
  await loop.runUntilComplete(lost);
  client.destroy();
  t.is(reportsOf(warnings, /^Executing <Handle _onReadable\(\)> took/).length, 1);
});

test('in debug mode a slow dataReceived of a client connection is reported', async (t) => {
  const { loop, warnings } = slowReportingLoop(t);
  const server = net.createServer((sock) => sock.end('x'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => void server.close());
  const lost = loop.createFuture<void>();
  const port = (server.address() as net.AddressInfo).port;
  await loop.runUntilComplete(loop.createConnection(() => new SlowReader(0.02, lost), '127.0.0.1', port));
  await loop.runUntilComplete(lost);
  // Run at once (an I/O callback) or queued behind ready callbacks (a Handle), it is named.
  t.is(reportsOf(warnings, /^Executing .*_deliverData/).length, 1);
});

test('in debug mode a callback faster than slowCallbackDuration is not reported', async (t) => {
  const loop = loopFor(t);
  const warnings = captureLogger(t, 'warn');
  loop.setDebug(true);
  loop.callSoon(() => {});
  await runOnce(loop);
  t.is(warnings.length, 0);
});

test('slow callbacks are not reported outside debug mode', async (t) => {
  const loop = loopFor(t);
  const warnings = captureLogger(t, 'warn');
  loop.setDebug(false);
  loop.slowCallbackDuration = 0.01;
  loop.callSoon(() => spin(0.02));
  await runOnce(loop);
  t.is(warnings.length, 0);
});

test('in debug mode the error context carries the stack where the handle was created', async (t) => {
  const loop = loopFor(t);
  loop.setDebug(true);
  const contexts: ExceptionContext[] = [];
  loop.setExceptionHandler((_loop, context) => contexts.push(context));
  function scheduleFailure(): void {
    loop.callLater(0, () => { throw new Error('boom'); });
  }
  scheduleFailure();
  await runOnce(loop);
  t.is(contexts.length, 1);
  const stack = contexts[0]!.sourceTraceback;
  t.is(typeof stack, 'string');
  t.regex(String(stack), /at scheduleFailure .*debug\.test\.(js|ts)/);
});

test('outside debug mode the error context has no creation stack', async (t) => {
  const loop = loopFor(t);
  loop.setDebug(false);
  const contexts: ExceptionContext[] = [];
  loop.setExceptionHandler((_loop, context) => contexts.push(context));
  loop.callSoon(() => { throw new Error('boom'); });
  await runOnce(loop);
  t.is(contexts.length, 1);
  t.false('sourceTraceback' in contexts[0]!);
});
