import test from 'ava';
import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

function example(name: string): string {
  return fileURLToPath(new URL(`../examples/${name}.js`, import.meta.url));
}

/** Runs the signals example, sends `signal` once it has printed its pid, and collects the outcome. */
function signalsExample(signal: NodeJS.Signals): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [example('signals')], { stdio: ['ignore', 'pipe', 'inherit'], timeout: 10_000 });
    let stdout = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      const before = stdout;
      stdout += chunk;
      if (!before.includes(`pid ${child.pid}:`) && stdout.includes(`pid ${child.pid}:`)) child.kill(signal);
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout }));
  });
}

test('watch_fd prints the bytes its reader received from the socketpair and exits', async (t) => {
  const { stdout } = await promisify(execFile)(process.execPath, [example('watch_fd')], { timeout: 10_000 });
  t.is(stdout, 'Received: abc\n');
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  test(`signals runs until ${signal}, which its handler reports before the loop stops and the process exits 0`, async (t) => {
    const { code, stdout } = await signalsExample(signal);
    const lines = stdout.trim().split('\n');
    t.is(lines[0], 'Event loop running forever, press CTRL+c to interrupt.');
    t.regex(lines[1]!, /^pid \d+: send SIGINT or SIGTERM to exit\.$/);
    t.is(lines[2], `got signal ${signal}: exit`);
    t.is(code, 0);
  });
}
