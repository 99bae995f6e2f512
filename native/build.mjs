// Builds the native addon with the node-gyp bundled in npm, against the
// headers of the Node that runs this script. It runs from `npm ci` (the
// package's install script) and from `npm run build:native`.
//
// The headers are passed explicitly (--nodedir) so that the build never
// depends on the user's npm config and never downloads headers when some
// Node on the machine ships them (system packages: /usr/include/node; nvm and
// official tarballs: <prefix>/include/node). The addon uses only Node-API and
// long-stable libuv calls, so the headers of any Node >= 20 build a binary
// that loads in all of them: the running Node's are preferred, then those of
// the Node that runs npm (the `node` npm package, when a project depends on
// it, puts a Node without headers first on the scripts' PATH), then the
// system's.
import { spawnSync } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const prefixOf = (execPath) => resolve(dirname(realpathSync(execPath)), '..');

const prefixes = [process.execPath, process.env.npm_node_execpath]
  .filter((execPath) => execPath && existsSync(execPath))
  .map(prefixOf)
  .concat(['/usr/local', '/usr']);

function findNodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    ...prefixes.map((prefix) => join(prefix, 'lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js')),
  ];
  const found = candidates.find((p) => p && existsSync(p));
  if (!found) {
    throw new Error(`multiloop: node-gyp not found (looked in ${candidates.filter(Boolean).join(', ')}); install npm with its bundled node-gyp`);
  }
  return found;
}

const args = [findNodeGyp(), 'rebuild', `--directory=${here}`];
const nodedir = prefixes.find((prefix) => existsSync(join(prefix, 'include/node/node_api.h')));
if (nodedir !== undefined) {
  args.push(`--nodedir=${nodedir}`);
} else {
  console.warn(`multiloop: no Node headers in ${prefixes.map((p) => `${p}/include/node`).join(', ')}; node-gyp will fetch them`);
}
const result = spawnSync(process.execPath, args, { stdio: 'inherit' });
if (result.error) throw result.error;
process.exit(result.status ?? 1);
