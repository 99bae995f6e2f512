/**
 * The runtime's servers: listening sockets in the coordinator, each
 * accepted connection handed to a worker loop (fd hand-off), served there
 * by the function the worker registered. Two workers; every test starts
 * its own runtime (one coordinator loop per thread at a time: serial).
 */
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import anyTest, { type ExecutionContext } from 'ava';
import { Runtime, type ExceptionContext } from 'multiloop';
import { openFds } from './helpers/fds.js';
import { get } from './helpers/http.js';
import { portOf } from './helpers/servers.js';
import { selfSigned } from './helpers/tls.js';

const test = anyTest.serial;
const MODULE = new URL('./coordinator.worker.js', import.meta.url);

async function start(t: ExecutionContext, options: Record<string, unknown> = {}): Promise<Runtime> {
  const runtime = await Runtime.start({ workers: 2, module: MODULE, ...options });
  t.teardown(() => runtime.close());
  return runtime;
}

/** A connection to a 'whoami' server: the index of the worker serving it, and the socket (still open). */
function whoami(port: number): Promise<{ index: number; sock: net.Socket }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    sock.once('error', reject);
    let text = '';
    const onData = (chunk: Buffer): void => {
      text += chunk;
      if (!text.includes('\n')) return;
      sock.off('data', onData);
      resolve({ index: Number(text.trim()), sock });
    };
    sock.on('data', onData);
  });
}

/** Sends `message` on `sock` and resolves with as many bytes echoed back. */
function echo(sock: net.Socket, message: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (chunk: Buffer): void => {
      text += chunk;
      if (text.length < message.length) return;
      sock.off('data', onData);
      sock.off('error', reject);
      resolve(text);
    };
    sock.on('data', onData);
    sock.once('error', reject);
    sock.write(message);
  });
}

function closed(sock: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    if (sock.closed) resolve();
    else sock.once('close', () => resolve());
  });
}

/** One whole echo connection: connect, one message, its echo, close. */
async function echoOnce(port: number, message: string): Promise<string> {
  const sock = net.connect(port, '127.0.0.1');
  const reply = await echo(sock, message);
  sock.end();
  await closed(sock);
  return reply;
}

/** Polls the runtime's stats (every loop iteration of ours) until `ok` holds for them. */
async function statsUntil(runtime: Runtime, ok: (stats: Awaited<ReturnType<Runtime['stats']>>) => boolean): Promise<Awaited<ReturnType<Runtime['stats']>>> {
  for (;;) {
    const stats = await runtime.stats();
    if (ok(stats)) return stats;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** The sockets this process has open, by kernel inode (`socket:[inode]`). */
function openSockets(): Set<string> {
  const sockets = new Set<string>();
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      const target = fs.readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith('socket:')) sockets.add(target);
    } catch {
      // Closed between the listing and the readlink: not open any more.
    }
  }
  return sockets;
}

test('round-robin hands connections to each worker in turn', async (t) => {
  const runtime = await start(t);
  const server = await runtime.createServer('whoami', '127.0.0.1', 0);
  const seen: number[] = [];
  for (let i = 0; i < 6; i++) {
    const { index, sock } = await whoami(portOf(server));
    seen.push(index);
    sock.destroy();
  }
  t.deepEqual(seen, [0, 1, 0, 1, 0, 1]);
});

const leastConnections = anyTest.macro(async (t, where: 'server' | 'runtime') => {
  const runtime = await start(t, where === 'runtime' ? { policy: 'least-connections' } : {});
  const server = await runtime.createServer('whoami', '127.0.0.1', 0, where === 'server' ? { policy: 'least-connections' } : {});
  const a = await whoami(portOf(server));
  const b = await whoami(portOf(server));
  t.deepEqual([a.index, b.index], [0, 1]);
  b.sock.destroy();
  await statsUntil(runtime, (s) => s[1]!.connections === 0);
  // Round-robin would now pick worker 0, which still holds a connection.
  const c = await whoami(portOf(server));
  t.is(c.index, 1);
  a.sock.destroy();
  c.sock.destroy();
});

test('least-connections hands a new connection to the worker with fewer open ones', leastConnections, 'server');
test('a policy given to Runtime.start applies to the servers that name none', leastConnections, 'runtime');

test('Runtime.start names a bad policy or flag', async (t) => {
  await t.throwsAsync(Runtime.start({ workers: 1, module: MODULE, policy: 'fastest' }), { instanceOf: RangeError, message: /^policy must be one of/ });
  await t.throwsAsync(Runtime.start({ workers: 1, module: MODULE, replaceWorkers: 'yes' as never }), { instanceOf: TypeError, message: /replaceWorkers must be a boolean/ });
});

test('least-loaded keeps new connections away from a lagging worker loop', async (t) => {
  const runtime = await start(t);
  const server = await runtime.createServer('whoami', '127.0.0.1', 0, { policy: 'least-loaded' });
  await runtime.loops[0]!.call('block', 0.5);
  await statsUntil(runtime, (s) => s[0]!.lagP99 > 0.2);
  const connections = await Promise.all([0, 1, 2].map(() => whoami(portOf(server))));
  t.deepEqual(connections.map((c) => c.index), [1, 1, 1]);
  for (const c of connections) c.sock.destroy();
});

test('a protocol server echoes through the worker that took the connection', async (t) => {
  const runtime = await start(t);
  const server = await runtime.createServer('echo', '127.0.0.1', 0);
  t.is(await echoOnce(portOf(server), 'hello, worker'), 'hello, worker');
});

/** The line a 'names' connection answers, parsed, with the client's own port. */
async function namesOf(port: number): Promise<{ sockname: unknown; peername: unknown; noDelay: number; clientPort: number }> {
  const sock = net.connect(port, '127.0.0.1');
  await new Promise((resolve) => sock.once('connect', resolve));
  const clientPort = sock.localPort!;
  let text = '';
  for await (const chunk of sock) text += String(chunk);
  return { ...JSON.parse(text), clientPort };
}

test('a handed-off connection has TCP_NODELAY on and knows its sockname and peername', async (t) => {
  const runtime = await start(t);
  const server = await runtime.createServer('names', '127.0.0.1', 0);
  const names = await namesOf(portOf(server));
  t.deepEqual(names.sockname, ['127.0.0.1', portOf(server)]);
  t.deepEqual(names.peername, ['127.0.0.1', names.clientPort]);
  t.is(names.noDelay, 1);
});

test('an exception in a worker loop\'s protocol goes to that loop\'s exception handler, and the loop serves on', async (t) => {
  const runtime = await start(t);
  const reports: [number, string][] = [];
  const reported = new Promise<void>((resolve) =>
    runtime.loop.register('workerReported', (index: number, message: string) => {
      reports.push([index, message]);
      resolve();
    }),
  );
  const coordinatorReports: unknown[] = [];
  runtime.loop.setExceptionHandler((_loop, context) => coordinatorReports.push(context));
  const faulty = await runtime.createServer('faulty', '127.0.0.1', 0);
  const echoServer = await runtime.createServer('echo', '127.0.0.1', 0);
  const sock = net.connect(portOf(faulty), '127.0.0.1', () => sock.write('boom'));
  await closed(sock);
  await reported;
  t.deepEqual(reports, [[0, 'Fatal error: protocol.dataReceived() call failed.']]);
  t.is(await echoOnce(portOf(echoServer), 'still serving'), 'still serving');
  t.is(await echoOnce(portOf(echoServer), 'both loops'), 'both loops');
  t.deepEqual(coordinatorReports, [], 'no worker died');
});

test('startServer gives each connection to the registered streams handler', async (t) => {
  const runtime = await start(t);
  const server = await runtime.startServer('streamsEcho', '127.0.0.1', 0);
  const sock = net.connect(portOf(server), '127.0.0.1');
  const reply = await echo(sock, 'line\n');
  t.is(reply, '0:line\n');
  await closed(sock);
});

test('serveHttp runs a Node (req, res) handler on the worker loops', async (t) => {
  const runtime = await start(t);
  const server = await runtime.serveHttp('hello', '127.0.0.1', 0);
  const first = await get(portOf(server));
  const second = await get(portOf(server));
  t.deepEqual([first, second], [
    { status: 200, body: 'hello from 0\n' },
    { status: 200, body: 'hello from 1\n' },
  ]);
});

test('TLS is terminated in the worker that took the connection', async (t) => {
  const { key, cert } = selfSigned();
  const runtime = await start(t);
  const server = await runtime.createServer('echo', '127.0.0.1', 0, { ssl: { key, cert } });
  const sock = tls.connect({ host: '127.0.0.1', port: portOf(server), ca: cert });
  await new Promise<void>((resolve, reject) => sock.once('secureConnect', resolve).once('error', reject));
  t.true(sock.authorized);
  const reply = await new Promise<string>((resolve) => {
    sock.once('data', (d) => resolve(String(d)));
    sock.write('over tls');
  });
  t.is(reply, 'over tls');
  sock.end();
  await closed(sock);
});

test('serveHttp with ssl serves HTTPS from the worker loops', async (t) => {
  const { key, cert } = selfSigned();
  const runtime = await start(t);
  const server = await runtime.serveHttp('hello', '127.0.0.1', 0, { ssl: { key, cert } });
  const body = await new Promise<string>((resolve, reject) => {
    https
      .get({ host: '127.0.0.1', port: portOf(server), ca: cert, agent: false }, (res) => {
        let text = '';
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => resolve(text));
      })
      .on('error', reject);
  });
  t.is(body, 'hello from 0\n');
});

test('a SecureContext cannot cross threads: ssl must be its options, and the error says so', async (t) => {
  const runtime = await start(t);
  const error = await t.throwsAsync(runtime.createServer('echo', '127.0.0.1', 0, { ssl: tls.createSecureContext() as never }), { instanceOf: TypeError });
  t.regex(error!.message, /^ssl of a runtime server must be the options of tls\.createSecureContext/);
});

test('a name no worker registered rejects createServer and leaves no listening socket', async (t) => {
  const runtime = await start(t);
  const before = openFds();
  const error = await t.throwsAsync(runtime.createServer('nothing', '127.0.0.1', 0));
  t.regex(error!.message, /no function is registered as 'nothing'/);
  t.is(openFds(), before);
});

test('bad arguments are refused with errors naming them', async (t) => {
  const runtime = await start(t);
  await t.throwsAsync(runtime.createServer('', '127.0.0.1', 0), { instanceOf: TypeError, message: /^name must be/ });
  await t.throwsAsync(runtime.createServer('echo', '127.0.0.1', 70000), { instanceOf: RangeError, message: /^port must be/ });
  await t.throwsAsync(runtime.createServer('echo', 5 as never, 0), { instanceOf: TypeError, message: /^host must be/ });
  await t.throwsAsync(runtime.createServer('echo', '127.0.0.1', 0, { policy: 'fastest' }), { instanceOf: RangeError, message: /^policy must be/ });
  await t.throwsAsync(runtime.createServer('echo', '127.0.0.1', 0, { backlog: -1 }), { instanceOf: TypeError, message: /^backlog must be/ });
  await t.throwsAsync(runtime.createServer('echo', null, null, { sock: 'x' as never }), { instanceOf: TypeError, message: /^sock must be/ });
});

test('a server adopts an inherited listening socket (sock)', async (t) => {
  const runtime = await start(t);
  const listener = net.createServer();
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const port = (listener.address() as net.AddressInfo).port;
  // What systemd would pass: a listening fd this process owns (a duplicate, so Node's server keeps its own).
  const { native } = await import('../native/index.js');
  const fd = native.dup((listener as unknown as { _handle: { fd: number } })._handle.fd);
  listener.close();
  const server = await runtime.createServer('echo', null, null, { sock: fd });
  t.is(portOf(server), port);
  t.is(await echoOnce(port, 'adopted'), 'adopted');
});

test('reusePort lets two runtime servers share one port', async (t) => {
  const runtime = await start(t);
  const first = await runtime.createServer('echo', '127.0.0.1', 0, { reusePort: true });
  const second = await runtime.createServer('echo', '127.0.0.1', portOf(first), { reusePort: true });
  t.is(portOf(second), portOf(first));
  t.is(await echoOnce(portOf(first), 'shared'), 'shared');
});

test('stats count each loop\'s open and total connections, and report lag and ring depth', async (t) => {
  const runtime = await start(t);
  const server = await runtime.createServer('whoami', '127.0.0.1', 0);
  const held = await Promise.all([0, 1, 2].map(() => whoami(portOf(server))));
  let stats = await statsUntil(runtime, (s) => s[0]!.connections + s[1]!.connections === 3);
  t.deepEqual(stats.map((s) => s.index), [0, 1]);
  for (const s of stats) {
    for (const key of ['lagP50', 'lagP99', 'ringDepth', 'callbacks', 'executorTasks'] as const) t.true(Number.isFinite(s[key]) && s[key] >= 0, key);
  }
  for (const c of held) c.sock.destroy();
  stats = await statsUntil(runtime, (s) => s[0]!.connections + s[1]!.connections === 0);
  t.is(stats[0]!.connectionsTotal + stats[1]!.connectionsTotal, 3);
});

test('stats count the callbacks each worker loop has run', async (t) => {
  const runtime = await start(t);
  const server = await runtime.createServer('echo', '127.0.0.1', 0);
  t.is(await echoOnce(portOf(server), 'counted'), 'counted');
  const stats = await statsUntil(runtime, (s) => s[0]!.callbacks + s[1]!.callbacks > 0);
  t.true(stats.every((s) => Number.isInteger(s.callbacks)));
});

test('close stops accepting, keeps open connections, and waitClosed settles after the last one ends', async (t) => {
  const runtime = await start(t);
  const server = await runtime.createServer('whoami', '127.0.0.1', 0);
  const port = portOf(server);
  const held = await whoami(port);
  server.close();
  t.is(server.sockets, null);
  await t.throwsAsync(whoami(port), { code: 'ECONNREFUSED' });
  t.is(await echo(held.sock, 'still here'), 'still here');
  let settled = false;
  const waiting = server.waitClosed().then(() => (settled = true));
  await runtime.stats();
  t.false(settled);
  held.sock.end();
  await waiting;
  t.true(settled);
});

test('shutdown closes idle keep-alive HTTP connections at once instead of waiting for the timeout', async (t) => {
  const runtime = await start(t);
  const server = await runtime.serveHttp('hello', '127.0.0.1', 0);
  const agent = new http.Agent({ keepAlive: true });
  t.teardown(() => agent.destroy());
  const sock = await new Promise<net.Socket>((resolve, reject) => {
    const request = http.get({ host: '127.0.0.1', port: portOf(server), agent }, (res) => {
      res.resume();
      // Back in the agent's pool, idle.
      res.on('end', () => resolve(request.socket as net.Socket));
    });
    request.on('error', reject);
  });
  const started = performance.now();
  t.is(await runtime.shutdown({ timeout: 5 }), 0);
  t.true(performance.now() - started < 4000);
  await closed(sock);
});

test('no fd is leaked after 5,000 handed-off connections', async (t) => {
  const runtime = await start(t);
  const server = await runtime.createServer('echo', '127.0.0.1', 0);
  const port = portOf(server);
  // Every worker serves once first: a thread's first connection may set up lasting state of its own.
  for (let i = 0; i < 4; i++) await echoOnce(port, 'warm');
  const before = openSockets();
  let next = 0;
  const slot = async (): Promise<void> => {
    while (next < 5000) {
      next++;
      if ((await echoOnce(port, 'x')) !== 'x') throw new Error('bad echo');
    }
  };
  await Promise.all(Array.from({ length: 32 }, slot));
  const stats = await statsUntil(runtime, (s) => s[0]!.connections + s[1]!.connections === 0);
  t.is(stats[0]!.connectionsTotal + stats[1]!.connectionsTotal, 5004);
  // Sockets, not fd counts: what earlier tests left closing must not count, and a leaked connection is a new socket.
  t.deepEqual([...openSockets()].filter((s) => !before.has(s)), []);
});

test('a worker killed under load: the server keeps accepting, the other worker\'s connections go on, the worker is replaced', async (t) => {
  const runtime = await start(t);
  const reports: ExceptionContext[] = [];
  const reported = new Promise<void>((resolve) => {
    runtime.loop.setExceptionHandler((_loop, context) => {
      reports.push(context);
      resolve();
    });
  });
  const server = await runtime.createServer('whoami', '127.0.0.1', 0);
  const port = portOf(server);
  const held = await Promise.all([0, 1, 2, 3].map(() => whoami(port)));
  const onDead = held.filter((c) => c.index === 0);
  const onLive = held.filter((c) => c.index === 1);
  // Load on the surviving worker's connections while worker 0 dies.
  let stop = false;
  let echoed = 0;
  const load = Promise.all(
    onLive.map(async (c) => {
      while (!stop) {
        if ((await echo(c.sock, 'ping')) !== 'ping') throw new Error('bad echo');
        echoed++;
      }
    }),
  );
  runtime.loops[0]!.callSoonThreadsafe('die');
  await reported;
  t.regex(reports[0]!.message, /^loop worker 0 ended unexpectedly \(exit code 1\), of an uncaught exception; its connections were closed; a new worker takes its place$/);
  await Promise.all(onDead.map((c) => closed(c.sock)));
  // Accepting goes on throughout: until the replacement is ready, worker 1 takes every connection.
  const indexes = new Set<number>();
  while (!indexes.has(0)) {
    const c = await whoami(port);
    indexes.add(c.index);
    c.sock.destroy();
  }
  stop = true;
  await load;
  t.true(echoed > 0);
  for (const c of onLive) t.is(await echo(c.sock, 'after'), 'after');
  for (const c of onLive) c.sock.destroy();
});

test("a replaced worker's peers reach its new loop through ctx.loops", async (t) => {
  const runtime = await start(t);
  const reported = new Promise<void>((resolve) => runtime.loop.setExceptionHandler(() => resolve()));
  const server = await runtime.createServer('whoami', '127.0.0.1', 0);
  const before = await runtime.loops[1]!.call<number>('peerThreadId', 0);
  runtime.loops[0]!.callSoonThreadsafe('die');
  await reported;
  // Once the replacement takes connections, its peers know its loop.
  for (let index = -1; index !== 0; ) {
    const c = await whoami(portOf(server));
    index = c.index;
    c.sock.destroy();
  }
  const after = await runtime.loops[1]!.call<number>('peerThreadId', 0);
  t.is(after, await runtime.loops[0]!.call<number>('threadId'));
  t.not(after, before);
});

test('with replaceWorkers: false a dead worker is not replaced and the others take every connection', async (t) => {
  const runtime = await start(t, { replaceWorkers: false });
  const reported = new Promise<void>((resolve) => runtime.loop.setExceptionHandler(() => resolve()));
  const server = await runtime.createServer('whoami', '127.0.0.1', 0);
  runtime.loops[1]!.callSoonThreadsafe('die');
  await reported;
  const seen: number[] = [];
  for (let i = 0; i < 4; i++) {
    const c = await whoami(portOf(server));
    seen.push(c.index);
    c.sock.destroy();
  }
  t.deepEqual(seen, [0, 0, 0, 0]);
});
