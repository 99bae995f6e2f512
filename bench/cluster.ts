/**
 * bench:cluster — the multiloop runtime's echo server against a
 * `node:cluster` echo server (primary + workers, round-robin) and a
 * single-thread Node `net` echo server, side by side in one run, with the
 * same worker count and the same load client in its own process: by
 * default the C client (load-client.c, see why there), with
 * BENCH_CLIENT=node the Node ones.
 *
 * Scenarios: steady echo of 64 B and of 1 KiB messages on long-lived
 * connections, and connection churn (connect, one 64 B message, close).
 * Per server and scenario, over ROUNDS turns: requests/s, p99 latency (the
 * median of the turns'), server CPU seconds (every thread and process of
 * the server) and requests per server CPU-second (total requests over total
 * CPU); the ratios `<scenario>_vs_cluster` compare the latter, round by
 * round (the median of each round's ratio). And per request: user and
 * system CPU microseconds and context switches, which say whether a
 * difference is the server's own work or the kernel's and its sleeps. Echo and churn count requests
 * and CPU over the same window, after a WARMUP (connections made, code
 * compiled); http counts everything from the first connection.
 * Then an HTTP variant with `wrk` against the same three servers, skipped
 * with a message when `wrk` is not installed (Debian: `apt-get install wrk`).
 */
import { execFile, fork, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Usage } from './echo_servers.js';
import { loadClientCommand, loadClientKind, type LoadSpec } from './clients.js';
import { createReporter } from './report.js';

const WORKERS = 2;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
/**
 * Each server is measured this many times per scenario, the servers taking
 * turns, so that a shared machine's load drift hits all alike. Five, not
 * three: with three, two slow pairings made the median ratio 1.144 in a
 * run whose totals gave 1.247.
 */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
/**
 * Echo and churn are measured after this warm-up (seconds: the connections
 * made, the servers' code compiled), requests and the server's CPU both over
 * the window that follows it; BENCH_WARMUP=0 counts from the first connection.
 */
const WARMUP = Number(process.env.BENCH_WARMUP ?? 1);
const SERVERS = ['multiloop', 'cluster', 'single'] as const;
type ServerKind = (typeof SERVERS)[number];

const SCENARIOS: readonly { name: string; load: LoadSpec }[] = [
  { name: 'echo64', load: { mode: 'echo', size: 64, connections: 32, seconds: SECONDS, warmup: WARMUP } },
  { name: 'echo1k', load: { mode: 'echo', size: 1024, connections: 32, seconds: SECONDS, warmup: WARMUP } },
  { name: 'churn', load: { mode: 'churn', size: 64, connections: 16, seconds: SECONDS, warmup: WARMUP } },
];
/** The load client (clients.ts): the C one unless BENCH_CLIENT=node or no compiler. */
const CLIENT = loadClientKind();

const report = createReporter('cluster');
const here = (file: string): string => fileURLToPath(new URL(file, import.meta.url));

/** A server process of echo_servers.ts, with its port and a way to read what it has used. */
class ServerProcess {
  readonly #child: ChildProcess;
  readonly port: number;

  private constructor(child: ChildProcess, port: number) {
    this.#child = child;
    this.port = port;
  }

  static async start(kind: ServerKind, served: 'echo' | 'http'): Promise<ServerProcess> {
    const child = fork(here('./echo_servers.js'), [kind, served, String(WORKERS)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const port = await new Promise<number>((resolve, reject) => {
      child.once('message', (m: { port: number }) => resolve(m.port));
      child.once('exit', (code) => reject(new Error(`${kind} ${served} server exited with code ${code} before listening`)));
    });
    return new ServerProcess(child, port);
  }

  usage(): Promise<Usage> {
    return new Promise((resolve) => {
      this.#child.once('message', resolve);
      this.#child.send('usage');
    });
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      this.#child.once('exit', () => resolve());
      this.#child.send('exit');
    });
  }
}

interface Measured {
  rps: number;
  p99: number;
  requests: number;
  /** CPU seconds, user plus system. */
  cpu: number;
  /** What the server used over the counted window. */
  used: Usage;
}

/** What the server used between two readings. */
function usedBetween(start: Usage, end: Usage): Usage {
  return { user: end.user - start.user, system: end.system - start.system, switches: end.switches - start.switches };
}

function toMeasured(result: { rps: number; p99: number; requests: number }, used: Usage): Measured {
  return { ...result, cpu: used.user + used.system, used };
}

/**
 * `load` from the load client against `server`: its figures over the
 * counted window, with the server's CPU read at the client's marks.
 */
function runCounted(server: ServerProcess, load: LoadSpec): Promise<Measured> {
  return new Promise((resolve, reject) => {
    const [command, args] = loadClientCommand(CLIENT, load, server.port, true);
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let atStart: Promise<Usage> | null = null;
    let atEnd: Promise<Usage> | null = null;
    let result: { requests: number; seconds: number; p99: number } | null = null;
    createInterface({ input: child.stdout }).on('line', (line) => {
      const message = JSON.parse(line) as { mark?: string; requests: number; seconds: number; p99: number };
      if (message.mark === 'counting') atStart = server.usage();
      else if (message.mark === 'done') atEnd = server.usage();
      else result = message;
    });
    // 'close', not 'exit': the last line may still be in the pipe when the process exits.
    child.once('close', (code) => {
      if (code !== 0 || result === null || atStart === null || atEnd === null) {
        return reject(new Error(`the ${CLIENT} ${load.mode} client exited with code ${code}${result === null ? ' without a result' : ''}`));
      }
      const { requests, seconds, p99 } = result;
      void Promise.all([atStart, atEnd]).then(([start, end]) => resolve(toMeasured({ rps: requests / seconds, p99, requests }, usedBetween(start, end))));
    });
  });
}

/** wrk's requests/s and p99 latency (seconds) from its `--latency` report. */
function runWrk(port: number): Promise<{ rps: number; p99: number; requests: number }> {
  return new Promise((resolve, reject) => {
    execFile('wrk', ['-t1', '-c32', `-d${SECONDS}s`, '--latency', `http://127.0.0.1:${port}/`], (error, stdout) => {
      if (error !== null) return reject(error);
      const rps = /Requests\/sec:\s+([\d.]+)/.exec(stdout);
      const requests = /(\d+) requests in/.exec(stdout);
      const p99 = /99%\s+([\d.]+)(us|ms|s)/.exec(stdout);
      if (rps === null || p99 === null || requests === null) return reject(new Error(`unexpected wrk output:\n${stdout}`));
      const unit = { us: 1e-6, ms: 1e-3, s: 1 }[p99[2] as 'us' | 'ms' | 's'];
      resolve({ rps: Number(rps[1]), p99: Number(p99[1]) * unit, requests: Number(requests[1]) });
    });
  });
}

/** One server's figures under `load`, which reads the server's CPU itself (see `whole` and `runSteady`). */
type Load = (server: ServerProcess) => Promise<Measured>;

/** A load measured from start to end: the server's CPU over the whole of `run`. */
function whole(run: (port: number) => Promise<{ rps: number; p99: number; requests: number }>): Load {
  return async (server) => {
    const before = await server.usage();
    const result = await run(server.port);
    return toMeasured(result, usedBetween(before, await server.usage()));
  };
}

async function measure(kind: ServerKind, served: 'echo' | 'http', load: Load): Promise<Measured> {
  const server = await ServerProcess.start(kind, served);
  try {
    return await load(server);
  } finally {
    await server.stop();
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Measures every server ROUNDS times, taking turns, and prints its figures and the ratios. */
async function compare(scenario: string, served: 'echo' | 'http', load: Load): Promise<void> {
  const turns = new Map<ServerKind, Measured[]>(SERVERS.map((kind) => [kind, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const kind of SERVERS) turns.get(kind)!.push(await measure(kind, served, load));
  }
  const perCpu = new Map<ServerKind, number>();
  for (const [kind, measured] of turns) {
    const sum = (key: 'requests' | 'cpu'): number => measured.reduce((total, m) => total + m[key], 0);
    perCpu.set(kind, sum('requests') / sum('cpu'));
    report.figure(`${scenario}_${kind}_rps`, median(measured.map((m) => m.rps)), 'req/s');
    report.figure(`${scenario}_${kind}_p99`, median(measured.map((m) => m.p99)) * 1000, 'ms');
    report.figure(`${scenario}_${kind}_server_cpu`, sum('cpu'), 's');
    report.figure(`${scenario}_${kind}_per_cpu_s`, perCpu.get(kind)!, 'req/cpu-s');
    // Where each request's CPU went: the user-space work, the kernel's, and how often the server slept.
    const perRequest = (key: keyof Usage): number => measured.reduce((total, m) => total + m.used[key], 0) / sum('requests');
    report.figure(`${scenario}_${kind}_user_us_per_req`, perRequest('user') * 1e6, 'us');
    report.figure(`${scenario}_${kind}_system_us_per_req`, perRequest('system') * 1e6, 'us');
    report.figure(`${scenario}_${kind}_switches_per_req`, perRequest('switches'), 'ctx');
  }
  // Ratios round by round: the servers of one round ran seconds apart, while
  // the machine's phases (which move per-request CPU by up to 2x) last longer.
  const pairedRatio = (other: ServerKind): number => {
    const ours = turns.get('multiloop')!;
    const theirs = turns.get(other)!;
    return median(ours.map((m, i) => m.requests / m.cpu / (theirs[i]!.requests / theirs[i]!.cpu)));
  };
  report.figure(`${scenario}_vs_cluster`, pairedRatio('cluster'), 'x');
  report.figure(`${scenario}_vs_single`, pairedRatio('single'), 'x');
}

console.error(`bench:cluster: the ${CLIENT} load client`);
for (const scenario of SCENARIOS) {
  await compare(scenario.name, 'echo', (server) => runCounted(server, scenario.load));
}

if (spawnSync('wrk', ['--version']).error !== undefined) {
  console.error('bench:cluster: wrk is not installed (Debian: apt-get install wrk); the http variant is skipped');
} else {
  await compare('http', 'http', whole(runWrk));
}
report.table();
