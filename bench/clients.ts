/**
 * Which load client a bench runs, and how to start it: the C client
 * (load-client.c, compiled here on first use into dist/bench) or the Node
 * ones (load-client.ts for steady echo, churn-client.ts for churn). All
 * take the same load description and print the same marks and result line.
 *
 * BENCH_CLIENT=node picks the Node clients (the figures of the sessions
 * before the C client); without a C compiler (`cc`) the Node clients run,
 * with a message saying so.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export type LoadMode = 'echo' | 'churn';

/** A closed-loop load: `connections` at once, `size`-byte messages, counted for `seconds` after `warmup` seconds. */
export interface LoadSpec {
  mode: LoadMode;
  connections: number;
  size: number;
  seconds: number;
  warmup: number;
}

const here = (file: string): string => fileURLToPath(new URL(file, import.meta.url));
// tsc copies no C: the source stays in bench/, the binary goes beside this module in dist/bench.
const SOURCE = here('../../bench/load-client.c');
const BINARY = here('./load-client');

/** The C client's path, compiled now if missing or older than its source; null when it cannot be built. */
function cClient(): string | null {
  if (existsSync(BINARY) && statSync(BINARY).mtimeMs >= statSync(SOURCE).mtimeMs) return BINARY;
  const cc = spawnSync('cc', ['-O2', '-Wall', '-o', BINARY, SOURCE], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (cc.error !== undefined || cc.status !== 0) {
    console.error(`bench: cannot compile ${SOURCE} (${cc.error?.message ?? `cc exited with ${cc.status}`}); the Node load clients run instead`);
    return null;
  }
  return BINARY;
}

/** Which client runs: 'c' or 'node' (see the top of this file). Compiles the C client if needed. */
export function loadClientKind(): 'c' | 'node' {
  if (process.env.BENCH_CLIENT === 'node') return 'node';
  return cClient() === null ? 'node' : 'c';
}

/** The command and arguments that run `load` against 127.0.0.1:`port`, printing marks when `marks`. */
export function loadClientCommand(kind: 'c' | 'node', load: LoadSpec, port: number, marks: boolean): [string, string[]] {
  const { mode, connections, size, seconds, warmup } = load;
  if (kind === 'c') return [BINARY, [mode, String(port), String(connections), String(size), String(seconds), String(warmup), marks ? '1' : '0']];
  const script = here(mode === 'echo' ? './load-client.js' : './churn-client.js');
  return [process.execPath, [script, JSON.stringify({ port, connections, size, seconds, warmup, marks })]];
}
