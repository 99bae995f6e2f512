/**
 * The three servers bench:cluster compares, each run as its own process
 * (forked with an IPC channel) so that its CPU time is measured alone:
 *
 *   node echo_servers.js multiloop|cluster|single echo|http <workers>
 *
 * - multiloop: the runtime's server (listening socket in the coordinator,
 *   connections handed to `workers` worker loops);
 * - cluster: `node:cluster`, a primary distributing connections round-robin
 *   to `workers` worker processes;
 * - single: one Node process, one thread.
 *
 * Each sends `{ port }` once listening, answers 'usage' with what all of
 * its threads and processes used so far (a Usage: user and system CPU
 * seconds, context switches), and exits on 'exit'.
 */
import cluster from 'node:cluster';
import http from 'node:http';
import net from 'node:net';
import { Runtime } from '../runtime/index.js';

type Kind = 'multiloop' | 'cluster' | 'single';
type Served = 'echo' | 'http';

const [kind, served, workerCount] = [process.argv[2] as Kind, process.argv[3] as Served, Number(process.argv[4] ?? 2)];

/** What a server has used so far: CPU seconds (user, system) and context switches. */
export interface Usage {
  user: number;
  system: number;
  switches: number;
}

/** This process's usage: every thread of it. */
function ownUsage(): Usage {
  const r = process.resourceUsage();
  return { user: r.userCPUTime / 1e6, system: r.systemCPUTime / 1e6, switches: r.voluntaryContextSwitches + r.involuntaryContextSwitches };
}

function addUsage(a: Usage, b: Usage): Usage {
  return { user: a.user + b.user, system: a.system + b.system, switches: a.switches + b.switches };
}

function plainServer(): net.Server {
  if (served === 'http') return http.createServer((_req, res) => res.end('hello\n'));
  return net.createServer({ noDelay: true }, (sock) => {
    sock.on('data', (data) => sock.write(data));
    sock.on('error', () => sock.destroy());
  });
}

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)));
}

/** Answers the bench driver until it says 'exit'. */
function serveDriver(port: number, usage: () => Promise<Usage>, exit: () => Promise<void>): void {
  process.on('message', (message) => {
    if (message === 'usage') void usage().then((used) => process.send!(used));
    else if (message === 'exit') void exit().then(() => process.exit(0));
  });
  process.send!({ port });
}

if (kind === 'cluster' && cluster.isWorker) {
  // A cluster worker: serves, and reports its CPU to the primary.
  const server = plainServer();
  server.listen(0, '127.0.0.1');
  process.on('message', (message) => {
    if (message === 'usage') process.send!(ownUsage());
  });
} else if (kind === 'cluster') {
  cluster.schedulingPolicy = cluster.SCHED_RR;
  const workers = Array.from({ length: workerCount }, () => cluster.fork());
  // Workers listening on port 0 share the one port the primary opened for them.
  const addresses = await Promise.all(workers.map((w) => new Promise<net.AddressInfo>((resolve) => w.once('listening', resolve))));
  const workerUsage = (w: (typeof workers)[number]): Promise<Usage> =>
    new Promise((resolve) => {
      w.once('message', resolve);
      w.send('usage');
    });
  serveDriver(
    addresses[0]!.port,
    async () => (await Promise.all(workers.map(workerUsage))).reduce(addUsage, ownUsage()),
    async () => {
      for (const w of workers) w.kill();
    },
  );
} else if (kind === 'multiloop') {
  const runtime = await Runtime.start({ workers: workerCount, module: new URL('./echo_worker.js', import.meta.url) });
  const server = served === 'http' ? await runtime.serveHttp('hello', '127.0.0.1', 0) : await runtime.createServer('echo', '127.0.0.1', 0);
  const [, port] = server.sockets![0]!.getsockname() as [string, number];
  serveDriver(port, async () => ownUsage(), () => runtime.close());
} else {
  const port = await listen(plainServer());
  serveDriver(port, async () => ownUsage(), async () => undefined);
}
