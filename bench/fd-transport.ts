/**
 * bench:fd-transport — one loop's echo server on the FdTransport (native
 * accept4 on a listening Socket, the transport straight on each fd) against
 * the same server on `loop.createServer` (Node `net.Server`, StreamTransport
 * over `net.Socket`) and a plain Node `net` echo server, under the same load
 * from a separate client process.
 *
 * Scenarios: steady echo of 64 B and 1 KiB messages (bench/load-client.ts,
 * 50 ping-pong connections, every byte checked) and connection churn
 * (bench/churn-client.ts: connect, one 64 B message, close). The servers
 * take turns, ROUNDS turns of SECONDS each, so that a shared machine's load
 * drift hits all alike. Per server: requests/s, server CPU seconds,
 * requests per server CPU-second; the ratios `<scenario>_fd_vs_stream` and
 * `<scenario>_fd_vs_net` compare the latter.
 * Environment: BENCH_SECONDS (default 1), BENCH_ROUNDS (default 3).
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { AF_INET, newEventLoop, SOCK_STREAM, socket, type EventLoop } from 'multiloop';
import { EchoProtocol } from '../examples/echo_protocol.js';
import { startFdTransport } from '../runtime/fd_transport.js';
import { createReporter } from './report.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 1);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const WARMUP = 0.3;

const SCENARIOS = [
  { name: 'echo64', client: './load-client.js', options: { size: 64, connections: 50, warmup: WARMUP } },
  { name: 'echo1k', client: './load-client.js', options: { size: 1024, connections: 50, warmup: WARMUP } },
  { name: 'churn', client: './churn-client.js', options: { size: 64, connections: 16, warmup: 0 } },
] as const;
type Scenario = (typeof SCENARIOS)[number];

const SERVERS = ['fd', 'stream', 'net'] as const;
type ServerKind = (typeof SERVERS)[number];

interface Measured {
  requests: number;
  seconds: number;
  cpu: number;
}

/** Runs `scenario`'s client against `port`; settles with its count and this process's CPU seconds meanwhile (warm-up excluded). */
function load(scenario: Scenario, port: number): Promise<Measured> {
  return new Promise((resolve, reject) => {
    const cpu = process.cpuUsage();
    const args = JSON.stringify({ port, seconds: SECONDS, ...scenario.options });
    const client = fileURLToPath(new URL(scenario.client, import.meta.url));
    const child = spawn(process.execPath, [client, args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk));
    child.once('error', reject);
    child.once('exit', (code) => {
      const used = process.cpuUsage(cpu);
      if (code !== 0) return reject(new Error(`${scenario.client} exited with ${code}`));
      const { requests, seconds } = JSON.parse(out) as { requests: number; seconds: number };
      const share = SECONDS / (SECONDS + scenario.options.warmup);
      resolve({ requests, seconds, cpu: ((used.user + used.system) / 1e6) * share });
    });
  });
}

/** Serves until `work(port)` settles on `loop`, then closes everything. */
async function onLoop(serve: (loop: EventLoop) => Promise<{ port: number; close(): Promise<void> }>, work: (port: number) => Promise<Measured>): Promise<Measured> {
  const loop = newEventLoop();
  try {
    const server = await loop.runUntilComplete(() => serve(loop));
    const result = work(server.port).finally(() => loop.stop());
    await loop.runForever();
    await loop.runUntilComplete(() => server.close());
    return await result;
  } finally {
    loop.close();
  }
}

async function streamServer(loop: EventLoop): Promise<{ port: number; close(): Promise<void> }> {
  const server = await loop.createServer(() => new EchoProtocol(), '127.0.0.1', 0);
  return {
    port: (server.sockets![0]!.getsockname() as [string, number])[1],
    close: async () => {
      server.close();
      await server.waitClosed();
    },
  };
}

/** Accepts with accept4 whenever the listening socket is readable, each connection on an FdTransport. */
async function fdServer(loop: EventLoop): Promise<{ port: number; close(): Promise<void> }> {
  const listener = socket(AF_INET, SOCK_STREAM);
  listener.bind(['127.0.0.1', 0]);
  listener.listen(1024);
  loop.addReader(listener, () => {
    for (let accepted = listener._tryAccept(); accepted !== null; accepted = listener._tryAccept()) {
      startFdTransport(loop, accepted[0], () => new EchoProtocol());
    }
  });
  return {
    port: (listener.getsockname() as [string, number])[1],
    close: async () => listener.close(),
  };
}

async function netServer(work: (port: number) => Promise<Measured>): Promise<Measured> {
  const server = net.createServer({ noDelay: true }, (sock) => {
    sock.on('data', (data) => sock.write(data));
    sock.on('error', () => sock.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    return await work((server.address() as net.AddressInfo).port);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

function measure(kind: ServerKind, scenario: Scenario): Promise<Measured> {
  const work = (port: number): Promise<Measured> => load(scenario, port);
  if (kind === 'net') return netServer(work);
  return onLoop(kind === 'fd' ? fdServer : streamServer, work);
}

const report = createReporter('fd-transport');
for (const scenario of SCENARIOS) {
  const totals = new Map<ServerKind, Measured>(SERVERS.map((kind) => [kind, { requests: 0, seconds: 0, cpu: 0 }]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const kind of SERVERS) {
      const m = await measure(kind, scenario);
      const sum = totals.get(kind)!;
      sum.requests += m.requests;
      sum.seconds += m.seconds;
      sum.cpu += m.cpu;
    }
  }
  const perCpu = (kind: ServerKind): number => totals.get(kind)!.requests / totals.get(kind)!.cpu;
  for (const kind of SERVERS) {
    const m = totals.get(kind)!;
    report.figure(`${scenario.name}_${kind}_rps`, m.requests / m.seconds, 'req/s');
    report.figure(`${scenario.name}_${kind}_server_cpu`, m.cpu, 's');
    report.figure(`${scenario.name}_${kind}_per_cpu_s`, perCpu(kind), 'req/cpu-s');
  }
  report.figure(`${scenario.name}_fd_vs_stream`, perCpu('fd') / perCpu('stream'), 'x');
  report.figure(`${scenario.name}_fd_vs_net`, perCpu('fd') / perCpu('net'), 'x');
}
report.table();
