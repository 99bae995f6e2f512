/**
 * bench:echo — an echo server on `createServer` + a Protocol in one
 * multiloop loop, against a plain Node `net` echo server, under the same
 * load from a separate client process (bench/load-client.ts: many
 * connections, every echoed byte checked, fixed duration).
 *
 * For 64 B and 1 KiB messages it prints requests/s, p99 latency and the
 * server's CPU seconds for each server, and the ratio of requests per
 * server CPU-second (`echo64_vs_net`, `echo1k_vs_net`; target >= 0.9).
 * The two servers take turns (ROUNDS times each, ECHO_SECONDS / ROUNDS
 * seconds a turn) so that drift in a shared machine's load hits both alike.
 * Environment: ECHO_SECONDS (default 3), ECHO_CONNECTIONS (default 50).
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { newEventLoop } from 'multiloop';
import { EchoProtocol } from '../examples/echo_protocol.js';
import { createReporter } from './report.js';

const SECONDS = Number(process.env.ECHO_SECONDS ?? 3);
const CONNECTIONS = Number(process.env.ECHO_CONNECTIONS ?? 50);
const WARMUP = 0.3;
const ROUNDS = 3;
const CLIENT = fileURLToPath(new URL('./load-client.js', import.meta.url));

interface Load {
  requests: number;
  seconds: number;
  p99: number;
}

interface Measured extends Load {
  cpu: number;
}

/** Runs the load client against `port`; settles with its report and this process's CPU seconds meanwhile. */
function load(port: number, size: number): Promise<Measured> {
  return new Promise((resolve, reject) => {
    const cpu = process.cpuUsage();
    const seconds = SECONDS / ROUNDS;
    const args = JSON.stringify({ port, size, connections: CONNECTIONS, seconds, warmup: WARMUP });
    const child = spawn(process.execPath, [CLIENT, args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk));
    child.once('error', reject);
    child.once('exit', (code) => {
      // Warm-up time is CPU too: scale to the measured share of the run.
      const used = process.cpuUsage(cpu);
      const share = seconds / (seconds + WARMUP);
      if (code !== 0) return reject(new Error(`load client exited with ${code}`));
      resolve({ ...(JSON.parse(out) as Load), cpu: ((used.user + used.system) / 1e6) * share });
    });
  });
}

/** The seed's server pattern: `runUntilComplete(createServer(...))`, then `runForever()` until the load ends. */
async function multiloopServer(size: number): Promise<Measured> {
  const loop = newEventLoop();
  try {
    const server = await loop.runUntilComplete(loop.createServer(() => new EchoProtocol(), '127.0.0.1', 0));
    const port = (server.sockets![0]!.getsockname() as [string, number])[1];
    const result = load(port, size).finally(() => loop.stop());
    await loop.runForever();
    server.close();
    await loop.runUntilComplete(server.waitClosed());
    return await result;
  } finally {
    loop.close();
  }
}

async function nodeNetServer(size: number): Promise<Measured> {
  const server = net.createServer({ noDelay: true }, (sock) => {
    sock.on('data', (data) => sock.write(data));
    sock.on('error', () => sock.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const result = await load((server.address() as net.AddressInfo).port, size);
  await new Promise((resolve) => server.close(resolve));
  return result;
}

/** Sums turns: requests and CPU add up; p99 is the worst turn's. */
function total(turns: Measured[]): Measured {
  return turns.reduce((a, b) => ({
    requests: a.requests + b.requests,
    seconds: a.seconds + b.seconds,
    p99: Math.max(a.p99, b.p99),
    cpu: a.cpu + b.cpu,
  }));
}

const report = createReporter('echo');
for (const [size, name] of [
  [64, 'echo64'],
  [1024, 'echo1k'],
] as const) {
  const plainTurns: Measured[] = [];
  const ourTurns: Measured[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    plainTurns.push(await nodeNetServer(size));
    ourTurns.push(await multiloopServer(size));
  }
  const plain = total(plainTurns);
  const ours = total(ourTurns);
  for (const [label, m] of [
    ['net', plain],
    ['multiloop', ours],
  ] as const) {
    report.figure(`${name}_${label}_rps`, m.requests / m.seconds, 'req/s');
    report.figure(`${name}_${label}_p99`, m.p99 * 1000, 'ms');
    report.figure(`${name}_${label}_server_cpu`, m.cpu, 's');
    report.figure(`${name}_${label}_per_cpu_s`, m.requests / m.cpu, 'req/cpu-s');
  }
  report.figure(`${name}_vs_net`, ours.requests / ours.cpu / (plain.requests / plain.cpu), 'x');
}
report.table();
