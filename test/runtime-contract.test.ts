/**
 * The multi-loop runtime as a user sees it: argument checks of the
 * runtime's methods, and one Runtime per coordinator loop (a start that
 * cannot coordinate rejects and leaves no thread behind).
 */
import test, { type ExecutionContext } from 'ava';
import { readdirSync } from 'node:fs';
import http from 'node:http';
import { Protocol, RuntimeError, Server, getEventLoop } from '../runtime/index.js';
import { Runtime } from '../runtime/runtime.js';

// Each Runtime runs the coordinator loop on this thread: one at a time.
const MODULE = new URL('./runtime.module.js', import.meta.url);
const HTTP_MODULE = new URL('./runtime-contract.module.js', import.meta.url);
const REPLACE_MODULE = new URL('./runtime-contract.replace-module.js', import.meta.url);

/** OS threads of this process (Linux): worker threads included. */
const threadCount = (): number => readdirSync('/proc/self/task').length;

test.serial('runtime servers refuse opts that are not an object with a TypeError naming opts', async (t) => {
  const runtime = await Runtime.start({ workers: 1, module: MODULE, handleSignals: false });
  t.teardown(() => runtime.close());
  for (const opts of [5, 'x', true, null]) {
    await t.throwsAsync(runtime.createServer('whoami', '127.0.0.1', 0, opts as never), { instanceOf: TypeError, message: /^opts must be an object/ });
    await t.throwsAsync(runtime.startServer('whoami', '127.0.0.1', 0, opts as never), { instanceOf: TypeError, message: /^opts must be an object/ });
    await t.throwsAsync(runtime.serveHttp('whoami', '127.0.0.1', 0, opts as never), { instanceOf: TypeError, message: /^opts must be an object/ });
  }
});

test.serial('the servers of the runtime are Servers, as a loop\'s are', async (t) => {
  const runtime = await Runtime.start({ workers: 1, module: MODULE, handleSignals: false });
  t.teardown(() => runtime.close());
  const servers: Server[] = [await runtime.createServer('whoami', '127.0.0.1', 0), await runtime.loop.createServer(() => new Protocol(), '127.0.0.1', 0)];
  for (const server of servers) {
    t.true(server instanceof Server);
    t.true(server.isServing());
    server.close();
    t.is(server.sockets, null);
    await server.waitClosed();
  }
});

test.serial('runtime.shutdown refuses options that are not an object and shuts nothing down', async (t) => {
  const runtime = await Runtime.start({ workers: 1, module: MODULE, handleSignals: false });
  t.teardown(() => runtime.close());
  t.throws(() => runtime.shutdown(null as never), { instanceOf: TypeError, message: /options must be an object/ });
  t.throws(() => runtime.shutdown(5 as never), { instanceOf: TypeError, message: /options must be an object/ });
  t.true(runtime.loop.isRunning());
  t.like(await runtime.loops[0]!.call('whoami'), { index: 0 });
});

test.serial('Runtime.start on a loop that already coordinates a Runtime rejects with RuntimeError and starts no thread', async (t) => {
  const runtime = await Runtime.start({ workers: 1, module: MODULE, handleSignals: false });
  t.teardown(() => runtime.close());
  const before = threadCount();
  await t.throwsAsync(Runtime.start({ workers: 1, module: MODULE, handleSignals: false }), { instanceOf: RuntimeError, message: /already coordinates a Runtime/ });
  t.is(threadCount(), before);
  t.like(await runtime.loops[0]!.call('whoami'), { index: 0 }, 'the first runtime serves on');
});

test.serial('of two Runtime.start racing on a thread with no loop, the one that cannot run its loop rejects and leaves no thread', async (t) => {
  const before = threadCount();
  const outcomes = await Promise.allSettled([
    Runtime.start({ workers: 1, module: MODULE, handleSignals: false }),
    Runtime.start({ workers: 1, module: MODULE, handleSignals: false }),
  ]);
  const started = outcomes.filter((o): o is PromiseFulfilledResult<Runtime> => o.status === 'fulfilled').map((o) => o.value);
  const failed = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected').map((o) => o.reason as unknown);
  t.is(started.length, 1);
  t.is(failed.length, 1);
  t.true(failed[0] instanceof RuntimeError);
  const runtime = started[0]!;
  t.is(getEventLoop(), runtime.loop, "the failed start left the thread's current loop alone");
  await runtime.close();
  t.is(threadCount(), before);
});

test.serial('a policy or executor.maxThreads of the wrong type is a TypeError naming it', async (t) => {
  await t.throwsAsync(Runtime.start({ workers: 1, module: MODULE, policy: 3 as never }), { instanceOf: TypeError, message: /^policy must be one of/ });
  await t.throwsAsync(Runtime.start({ workers: 1, module: MODULE, executor: { maxThreads: '2' as never } }), { instanceOf: TypeError, message: /executor\.maxThreads/ });
});

/** GETs `path` on a fresh connection: the status and body, or the client error's code when the connection was closed. */
function get(port: number, path: string): Promise<string> {
  return new Promise((resolve) => {
    http
      .get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        let body = '';
        res.on('data', (chunk) => (body += chunk));
        res.on('end', () => resolve(`${res.statusCode} ${body}`));
      })
      .on('error', (error: NodeJS.ErrnoException) => resolve(`error ${error.code}`));
  });
}

async function failingHttpHandler(t: ExecutionContext, name: string): Promise<void> {
  const runtime = await Runtime.start({ workers: 1, module: HTTP_MODULE, handleSignals: false });
  t.teardown(() => runtime.close());
  const coordinatorReports: string[] = [];
  runtime.loop.setExceptionHandler((_loop, context) => coordinatorReports.push(context.message));
  const reported = new Promise<[number, string, string]>((resolve) =>
    runtime.loop.register('workerReported', (index: number, message: string, exception: string) => resolve([index, message, exception])),
  );
  const server = await runtime.serveHttp(name, '127.0.0.1', 0);
  const port = (server.sockets![0]!.getsockname() as [string, number])[1];
  const worker = runtime.loops[0]!.id;
  t.is(await get(port, '/fail'), 'error ECONNRESET', 'the failing request\'s connection is closed');
  t.deepEqual(await reported, [0, 'Exception in a serveHttp request handler; its connection was closed', 'Error: the handler failed']);
  t.is(await get(port, '/'), '200 ok from 0', 'the worker serves on');
  t.is(runtime.loops[0]!.id, worker, 'the worker was not replaced');
  t.deepEqual(coordinatorReports, []);
}

test.serial('a serveHttp handler that throws is reported by its worker loop, its connection is closed, and the worker serves on', failingHttpHandler, 'throws');
test.serial('a serveHttp handler whose promise rejects is reported by its worker loop, its connection is closed, and the worker serves on', failingHttpHandler, 'rejects');

test.serial('shutdown ends even when a worker loop is stuck in a callback, and leaves no thread', async (t) => {
  const before = threadCount();
  const runtime = await Runtime.start({ workers: 2, module: HTTP_MODULE, handleSignals: false });
  const spinning = new Promise<void>((resolve) => runtime.loop.register('spinning', () => resolve()));
  runtime.loops[1]!.callSoonThreadsafe('spin');
  await spinning;
  t.is(await runtime.shutdown({ timeout: 0 }), 0);
  t.true(runtime.loop.isClosed());
  t.is(threadCount(), before);
});

test.serial('close ends every thread while a dead worker is being replaced and a peer loop is stuck in a callback', async (t) => {
  const before = threadCount();
  const runtime = await Runtime.start({ workers: 2, module: REPLACE_MODULE, handleSignals: false });
  let dead = false;
  // Worker 0 dies long before its first 'settled': the one after its death is its replacement's.
  const replacementSettled = new Promise<void>((resolve) =>
    runtime.loop.register('settled', (index: number) => {
      if (index === 0 && dead) resolve();
    }),
  );
  const spinning = new Promise<void>((resolve) => runtime.loop.register('spinning', () => resolve()));
  const died = new Promise<string>((resolve) =>
    runtime.loop.setExceptionHandler((_loop, context) => {
      dead = true;
      resolve(context.message);
    }),
  );
  runtime.loops[1]!.callSoonThreadsafe('spin');
  await spinning;
  runtime.loops[0]!.callSoonThreadsafe('die');
  t.regex(await died, /loop worker 0 ended unexpectedly/);
  // The new worker 0 is set up; the runtime now waits for the stuck worker 1 to learn of it.
  await replacementSettled;
  await runtime.close();
  t.is(threadCount(), before);
});
