/**
 * The demo (`npm start`): a multi-core echo server and an HTTP server,
 * their listening sockets in this (coordinator) thread and their
 * connections served by one event loop per core, with each loop's
 * statistics refreshed every second. Ctrl-C stops it cleanly: listening
 * stops, open connections get a few seconds to finish, every thread ends.
 *
 * Ports: MULTILOOP_ECHO_PORT (default 8888) and MULTILOOP_HTTP_PORT
 * (default 8080); 0 picks free ones. Try `nc 127.0.0.1 8888` and
 * `curl http://127.0.0.1:8080/`.
 */
import { Runtime, type LoopStatsSnapshot } from 'multiloop';

const ECHO_PORT = Number(process.env.MULTILOOP_ECHO_PORT ?? 8888);
const HTTP_PORT = Number(process.env.MULTILOOP_HTTP_PORT ?? 8080);

function table(rows: LoopStatsSnapshot[]): string {
  const head = ['loop', 'open', 'total', 'callbacks', 'lag p50 ms', 'lag p99 ms', 'ring B', 'executor'];
  const lines = rows.map((r) => [
    String(r.index),
    String(r.connections),
    String(r.connectionsTotal),
    String(r.callbacks),
    (r.lagP50 * 1000).toFixed(2),
    (r.lagP99 * 1000).toFixed(2),
    String(r.ringDepth),
    String(r.executorTasks),
  ]);
  return [head, ...lines].map((cells) => cells.map((c) => c.padStart(11)).join('')).join('\n');
}

const runtime = await Runtime.start({ module: new URL('./demo_worker.js', import.meta.url) });
const echo = await runtime.createServer('echo', '127.0.0.1', ECHO_PORT);
const web = await runtime.serveHttp('hello', '127.0.0.1', HTTP_PORT);
const [, echoPort] = echo.sockets![0]!.getsockname() as [string, number];
const [, httpPort] = web.sockets![0]!.getsockname() as [string, number];
console.log(`multiloop demo: ${runtime.loops.length} worker loops`);
console.log(`echo server on 127.0.0.1:${echoPort}  (nc 127.0.0.1 ${echoPort})`);
console.log(`http server on 127.0.0.1:${httpPort}  (curl http://127.0.0.1:${httpPort}/)`);
console.log('Ctrl-C stops it.');

// On a terminal the table is redrawn in place; piped, each refresh is appended.
const redraw = process.stdout.isTTY ? (lines: number): string => `\x1b[${lines}A\x1b[J` : (): string => '';
let drawn = 0;
const refresh = (): void => {
  void runtime.stats().then((rows) => {
    // A Ctrl-C may have closed the runtime meanwhile: nothing left to show.
    if (runtime.loop.isClosed()) return;
    const text = `${table(rows)}\n`;
    process.stdout.write(redraw(drawn) + text);
    drawn = text.split('\n').length - 1;
    runtime.loop.callLater(1, refresh);
  });
};
runtime.loop.callSoon(refresh);
process.on('exit', (code) => console.log(`multiloop demo: stopped (exit status ${code})`));
