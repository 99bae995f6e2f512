import test from 'ava';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

function example(name: string): string {
  return fileURLToPath(new URL(`../examples/${name}.js`, import.meta.url));
}

test('hello_world prints Hello World and exits once the loop stops', async (t) => {
  const { stdout } = await run(process.execPath, [example('hello_world')], { timeout: 10_000 });
  t.is(stdout, 'Hello World\n');
});

test('display_date prints the date every second for five seconds, then exits', async (t) => {
  const start = Date.now();
  const { stdout } = await run(process.execPath, [example('display_date')], { timeout: 15_000 });
  const dates = stdout.trim().split('\n').map((line) => Date.parse(line));
  t.is(dates.length, 5);
  t.true(dates.every((d) => Number.isFinite(d) && d >= start - 1000));
  for (let i = 1; i < dates.length; i++) {
    const gap = dates[i]! - dates[i - 1]!;
    t.true(gap >= 990 && gap < 1500, `gap ${gap} ms`);
  }
});
