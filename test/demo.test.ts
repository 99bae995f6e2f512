/**
 * The demo (`npm start`, examples/demo.ts) as a person would use it, in a
 * child process on free ports: its echo and HTTP servers answer, its stats
 * table shows every worker loop, and Ctrl-C (SIGINT) stops it cleanly.
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import test from 'ava';

const DEMO = fileURLToPath(new URL('../examples/demo.js', import.meta.url));

test('the demo serves echo and HTTP on all worker loops, shows their stats, and stops on SIGINT', async (t) => {
  const child = spawn(process.execPath, [DEMO], {
    env: { ...process.env, MULTILOOP_ECHO_PORT: '0', MULTILOOP_HTTP_PORT: '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let stdout = '';
  const waiters: (() => void)[] = [];
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
    for (const wake of waiters.splice(0)) wake();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const until = async (pattern: RegExp): Promise<RegExpExecArray> => {
    for (;;) {
      const match = pattern.exec(stdout);
      if (match !== null) return match;
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  };
  const workers = Number((await until(/(\d+) worker loops/))[1]);
  const echoPort = Number((await until(/echo server on 127\.0\.0\.1:(\d+)/))[1]);
  const httpPort = Number((await until(/http server on 127\.0\.0\.1:(\d+)/))[1]);

  const echoed = await new Promise<string>((resolve, reject) => {
    const sock = net.connect(echoPort, '127.0.0.1', () => sock.end('echo me'));
    let text = '';
    sock.on('data', (chunk) => (text += chunk));
    sock.on('close', () => resolve(text));
    sock.on('error', reject);
  });
  t.is(echoed, 'echo me');

  const body = await new Promise<string>((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port: httpPort, path: '/hi', agent: false }, (res) => {
        let text = '';
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => resolve(text));
      })
      .on('error', reject);
  });
  t.like(JSON.parse(body), { hello: '/hi', of: workers });

  await until(/lag p99 ms/);
  // One row per worker loop, under the header.
  const table = stdout.slice(stdout.lastIndexOf('loop'));
  await until(new RegExp(`(\\n\\s+${workers - 1}\\s+\\d+)`));
  t.true(table.includes('open'));

  child.kill('SIGINT');
  t.is(await exited, 0);
  t.regex(stdout, /multiloop demo: stopped \(exit status 0\)/);
});
