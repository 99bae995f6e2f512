/**
 * The connection-churn load client of bench:cluster, run as its own process
 * so that its CPU is never counted as the server's (bench/load-client.ts
 * is its steady-echo counterpart).
 *
 * `node churn-client.js '<json>'` with { port, connections, size, seconds,
 * warmup }: each of `connections` slots connects, sends one `size`-byte
 * message, waits until all of it came back (checking every byte), closes,
 * and starts over. Cycles that start during the first `warmup` seconds
 * (the servers' code compiling) are not counted. With `marks: true` it
 * prints { mark: 'counting' } and { mark: 'done' } as load-client.ts does.
 * Last, it prints one JSON line { requests, seconds, p99 }: a request is
 * one whole connect-to-close cycle, p99 its latency in seconds. A wrong
 * byte or a connection error exits with status 1: a benchmark must not
 * count failures as work.
 */
import net from 'node:net';

interface ChurnOptions {
  port: number;
  connections: number;
  size: number;
  seconds: number;
  /** Seconds; 0 when left out. */
  warmup?: number;
  marks?: boolean;
}

const options = JSON.parse(process.argv[2] ?? '{}') as ChurnOptions;
const latencies: number[] = [];
const start = performance.now();
const countFrom = start + (options.warmup ?? 0) * 1000;
const deadline = countFrom + options.seconds * 1000;
if (options.marks === true) {
  setTimeout(() => console.log(JSON.stringify({ mark: 'counting' })), countFrom - start);
  setTimeout(() => console.log(JSON.stringify({ mark: 'done' })), deadline - start);
}

function fail(message: string): never {
  console.error(`churn-client: ${message}`);
  process.exit(1);
}

/** One cycle: connect, one message, its echo, close; settles once closed. */
function cycle(slot: number, message: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const startedAt = performance.now();
    const sock = net.connect({ port: options.port, host: '127.0.0.1', noDelay: true });
    let received = 0;
    sock.on('data', (chunk: Buffer) => {
      if (message.compare(chunk, 0, chunk.length, received, received + chunk.length) !== 0) {
        fail(`slot ${slot}: echoed bytes differ at offset ${received}`);
      }
      received += chunk.length;
      if (received === options.size) sock.end();
    });
    sock.on('error', (err) => fail(`slot ${slot}: ${err.message}`));
    sock.on('close', () => {
      if (received !== options.size) fail(`slot ${slot}: closed after ${received} of ${options.size} bytes`);
      if (startedAt >= countFrom) latencies.push((performance.now() - startedAt) / 1000);
      resolve();
    });
    sock.once('connect', () => sock.write(message));
  });
}

async function churn(slot: number): Promise<void> {
  const message = Buffer.alloc(options.size, 0x41 + (slot % 26));
  while (performance.now() < deadline) await cycle(slot, message);
}

await Promise.all(Array.from({ length: options.connections }, (_, slot) => churn(slot)));
latencies.sort((a, b) => a - b);
const p99 = latencies.length === 0 ? 0 : latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.99))]!;
console.log(JSON.stringify({ requests: latencies.length, seconds: options.seconds, p99 }));
