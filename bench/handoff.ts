/**
 * bench:handoff — what handing an accepted connection to a worker thread
 * costs the coordinator (main) thread, per connection, by two designs:
 *
 * - fd: the runtime's (runtime_server.ts, handoff.ts): raw accept4 on the
 *   coordinator's loop, the fd's number through the worker loop's ring;
 * - transfer: libuv accepts into a paused `net.Socket`, which is moved to a
 *   worker thread with `postMessage({ socket }, [socket])` (Node >= 26 only;
 *   skipped with a message where sockets cannot be transferred).
 *
 * Both serve an echo with 2 worker threads under connection churn from
 * bench/churn-client.ts in its own process; the figure is the main
 * thread's CPU time (process.threadCpuUsage) per connection.
 */
import { execFile } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { Runtime } from '../runtime/index.js';
import { createReporter } from './report.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const report = createReporter('handoff');
const threadCpu = (process as { threadCpuUsage?: (previous?: NodeJS.CpuUsage) => NodeJS.CpuUsage }).threadCpuUsage?.bind(process);

function churn(port: number): Promise<number> {
  const client = fileURLToPath(new URL('./churn-client.js', import.meta.url));
  const options = JSON.stringify({ port, connections: 16, size: 64, seconds: SECONDS });
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [client, options], (error, stdout) => {
      if (error !== null) reject(error);
      else resolve((JSON.parse(stdout) as { requests: number }).requests);
    });
  });
}

/** Main-thread CPU microseconds per connection while `port` serves a churn run. */
async function mainThreadCost(port: number): Promise<number> {
  const before = threadCpu!();
  const connections = await churn(port);
  const used = threadCpu!(before);
  return (used.user + used.system) / connections;
}

async function viaFd(): Promise<number> {
  const runtime = await Runtime.start({ workers: 2, module: new URL('./echo_worker.js', import.meta.url), handleSignals: false });
  try {
    const server = await runtime.createServer('echo', '127.0.0.1', 0);
    return await mainThreadCost((server.sockets![0]!.getsockname() as [string, number])[1]);
  } finally {
    await runtime.close();
  }
}

const TRANSFER_WORKER = `
const { workerData } = require('node:worker_threads');
workerData.port.on('message', ({ socket }) => {
  socket.on('data', (data) => socket.write(data));
  socket.on('end', () => socket.end());
  socket.resume();
});`;

async function viaTransfer(): Promise<number> {
  const workers = [0, 1].map(() => {
    const { port1, port2 } = new MessageChannel();
    const worker = new Worker(TRANSFER_WORKER, { eval: true, workerData: { port: port2 }, transferList: [port2] });
    return { worker, port: port1 };
  });
  let next = 0;
  const server = net.createServer({ pauseOnConnect: true, noDelay: true }, (socket) => {
    const { port } = workers[next]!;
    next = (next + 1) % workers.length;
    port.postMessage({ socket }, [socket as unknown as MessagePort]);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    return await mainThreadCost((server.address() as net.AddressInfo).port);
  } finally {
    server.close();
    for (const { worker, port } of workers) {
      port.close();
      await worker.terminate();
    }
  }
}

/**
 * Whether this Node can move a net.Socket to another thread. A socket with
 * no connection cannot be moved even there, but the error then says so.
 */
function canTransferSockets(): boolean {
  const { port1, port2 } = new MessageChannel();
  const socket = new net.Socket();
  try {
    port1.postMessage({ socket }, [socket as unknown as MessagePort]);
    return true;
  } catch (exc) {
    return (exc as NodeJS.ErrnoException).code === 'ERR_WORKER_HANDLE_NOT_TRANSFERABLE';
  } finally {
    socket.destroy();
    port1.close();
    port2.close();
  }
}

if (threadCpu === undefined || !canTransferSockets()) {
  console.error(`bench:handoff: Node ${process.version} cannot transfer sockets between threads (or lacks process.threadCpuUsage); run it on Node >= 26`);
} else {
  const fd = await viaFd();
  const transfer = await viaTransfer();
  report.figure('fd_main_thread_cpu_per_conn', fd, 'us');
  report.figure('transfer_main_thread_cpu_per_conn', transfer, 'us');
  report.figure('transfer_cost_vs_fd', transfer / fd, 'x');
  report.table();
}
