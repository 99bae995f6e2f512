// Builds the native addon with the node-gyp bundled in npm, against the
// headers of the Node that runs this script. It runs from `npm ci` (the
// package's install script) and from `npm run build:native`.
//
// The headers are passed explicitly (--nodedir) so that the build never
// depends on the user's npm config and never tries to download headers when
// the running Node ships its own (system packages: /usr/include/node; nvm and
// official tarballs: <prefix>/include/node).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const prefix = resolve(dirname(process.execPath), '..');

function findNodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    join(prefix, 'lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
    join(dirname(process.execPath), 'node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
  ];
  const found = candidates.find((p) => p && existsSync(p));
  if (!found) {
    throw new Error(`multiloop: node-gyp not found (looked in ${candidates.filter(Boolean).join(', ')}); install npm with its bundled node-gyp`);
  }
  return found;
}

const args = [findNodeGyp(), 'rebuild', `--directory=${here}`];
if (existsSync(join(prefix, 'include/node/node_api.h'))) {
  args.push(`--nodedir=${prefix}`);
} else {
  console.warn(`multiloop: no Node headers under ${prefix}/include/node; node-gyp will fetch them`);
}
const result = spawnSync(process.execPath, args, { stdio: 'inherit' });
if (result.error) throw result.error;
process.exit(result.status ?? 1);
