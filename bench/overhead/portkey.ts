// Installs Portkey's open-source gateway (npm @portkey-ai/gateway) into a folder under os.tmpdir(), never
// into the repo, and returns the path of its Node entry. A complete earlier install of the same version
// is reused unless `fresh` is set.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const PORTKEY_VERSION = '1.15.2';
// With the @hono/node-server npm resolves today (1.19.x), Portkey's streaming answers fail with a 500
// ("TypeError: immutable": its lightweight Response keeps fetch's immutable Headers, which Portkey then
// appends to). 1.13.5 is the version Portkey's own repository patches and ships with; we pin it.
export const PORTKEY_HONO_NODE_SERVER = '1.13.5';

export function ensurePortkey(fresh: boolean, log: (s: string) => void): string {
  const dir = path.join(os.tmpdir(), `heddle-bench-portkey-${PORTKEY_VERSION}-hns${PORTKEY_HONO_NODE_SERVER}`);
  const entry = path.join(dir, 'node_modules', '@portkey-ai', 'gateway', 'build', 'start-server.js');
  const marker = path.join(dir, '.complete');
  if (!fresh && existsSync(marker) && existsSync(entry)) return entry;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({
      name: 'portkey-bench',
      private: true,
      type: 'module',
      overrides: { '@hono/node-server': PORTKEY_HONO_NODE_SERVER },
    }),);
  log(`installing @portkey-ai/gateway@${PORTKEY_VERSION} into ${dir} ...`);
  execFileSync(
    'npm',
    ['install', '--no-audit', '--no-fund', '--no-package-lock', '--loglevel=error', `@portkey-ai/gateway@${PORTKEY_VERSION}`],
    { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'], timeout: 300_000 },
  );
  if (!existsSync(entry)) throw new Error(`Portkey install did not produce ${entry}`);
  writeFileSync(marker, new Date().toISOString());
  return entry;
}
