/**
 * The load client of bench:echo, run as its own process so that its CPU is
 * never counted as the server's.
 *
 * `node load-client.js '<json>'` with { port, connections, size, seconds,
 * warmup }: each of `connections` connections sends a `size`-byte message,
 * waits until all of it came back, checks every byte, and sends the next
 * (each message differs: its sequence number and a fill byte derived from
 * it). Requests during the first `warmup` seconds are not counted. With
 * `marks: true` it also prints { mark: 'counting' } when it starts counting
 * and { mark: 'done' } at the deadline, so that the caller can read the
 * server's CPU over the same window. Last, it prints one JSON line
 * { requests, seconds, p99 } (p99 latency in seconds). A wrong byte or a
 * connection error exits with status 1: a benchmark must not count failures
 * as work.
 */
import net from 'node:net';

interface LoadOptions {
  port: number;
  connections: number;
  size: number;
  seconds: number;
  warmup: number;
  marks?: boolean;
}

const options = JSON.parse(process.argv[2] ?? '{}') as LoadOptions;
if (options.size < 4) throw new RangeError('size must be at least 4 bytes (the sequence number)');

const latencies: number[] = [];
let requests = 0;
const start = performance.now();
const countFrom = start + options.warmup * 1000;
const deadline = countFrom + options.seconds * 1000;
if (options.marks === true) {
  setTimeout(() => console.log(JSON.stringify({ mark: 'counting' })), countFrom - start);
  setTimeout(() => console.log(JSON.stringify({ mark: 'done' })), deadline - start);
}

function fail(message: string): never {
  console.error(`load-client: ${message}`);
  process.exit(1);
}

/** One connection's request loop; settles when the deadline passed and its last echo came back. */
function drive(index: number): Promise<void> {
  return new Promise((resolve) => {
    const message = Buffer.alloc(options.size);
    const sock = net.connect({ port: options.port, host: '127.0.0.1', noDelay: true });
    let seq = index << 20;
    let received = 0;
    let sentAt = 0;
    const send = (): void => {
      seq++;
      message.writeUInt32BE(seq >>> 0, 0);
      message.fill(seq & 0xff, 4);
      received = 0;
      sentAt = performance.now();
      sock.write(message);
    };
    sock.on('data', (chunk: Buffer) => {
      if (received + chunk.length > options.size) fail(`connection ${index}: more bytes than sent`);
      if (message.compare(chunk, 0, chunk.length, received, received + chunk.length) !== 0) {
        fail(`connection ${index}: echoed bytes differ at offset ${received}`);
      }
      received += chunk.length;
      if (received < options.size) return;
      const now = performance.now();
      if (sentAt >= countFrom) {
        requests++;
        latencies.push((now - sentAt) / 1000);
      }
      if (now < deadline) send();
      else sock.end();
    });
    sock.on('error', (err) => fail(`connection ${index}: ${err.message}`));
    sock.on('close', () => resolve());
    sock.once('connect', send);
  });
}

await Promise.all(Array.from({ length: options.connections }, (_, i) => drive(i)));
latencies.sort((a, b) => a - b);
const p99 = latencies.length === 0 ? 0 : latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.99))]!;
console.log(JSON.stringify({ requests, seconds: options.seconds, p99 }));
