// How the Node gateway runs in production: src/node.ts bundled by esbuild into one ES module (npm packages stay
// external, resolved from node_modules) and run on plain node with the V8 flags below. tsx is for development
// only: its loader thread (a second V8 isolate) costs ~35 MB of RSS and it transpiles src/ on every start.
//
//   npm run build      writes dist/heddle-node.mjs (+ .map)
//   npm run gateway    builds, then runs it (policy, host and port from HEDDLE_* variables, see src/node.ts)
//   npm run gateway:dev  runs src/node.ts under tsx instead
//
// `npm start` (scripts/start.mjs) and bench/overhead run the gateway through gatewayCommand(), so what is measured
// is what users run.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { build } from 'esbuild';
import { repoRoot } from './native.mjs';

export const gatewayEntry = join(repoRoot, 'src', 'node.ts');
export const gatewayBundle = join(repoRoot, 'dist', 'heddle-node.mjs');

/**
 * V8 flags for the gateway. A request allocates ~50 KB that dies young, and V8 grows the young generation up to
 * 16 MB semi-spaces under that churn. Capped at 8 MB, RSS under load is ~8 MB lower (bench/overhead: ~140 against
 * ~148 MB peak with 64 connections) with no measurable loss of throughput; 32 MB cut scavenge time by a quarter
 * (under 1% of CPU) for ~20 MB more RSS, above the 150 MB target.
 *
 * No allocation-site pretenuring: V8 saw some of the request path's allocation sites survive (requests in flight
 * across a scavenge, at warm-up) and moved them to old space for good. At 1000 RPS that put ~8 KB of garbage per
 * request in old space (1.2 MB per scavenge), made each scavenge 3-7 ms instead of 0.4-0.7 (old-to-new pointers)
 * and forced a mark-compact every second with 10-16 ms steps, worst after an idle spell shrank the heap; the p99
 * in 4 s slices after 16 s idle read 4-19 ms against 1.2-3.1 ms without it (the minimal proxy: 1.3-4.4).
 */
export const gatewayNodeFlags = ['--max-semi-space-size=8', '--no-allocation-site-pretenuring'];

/** Bundles `entry` (default src/node.ts) into `outfile` (default dist/heddle-node.mjs). About 0.1 s. */
export async function buildGateway({ entry = gatewayEntry, outfile = gatewayBundle } = {}) {
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    sourcemap: 'linked',
    logLevel: 'warning',
  });
  return outfile;
}

/** The command that runs a built bundle: [executable, args]. */
export function gatewayCommand(bundle = gatewayBundle) {
  return [process.execPath, [...gatewayNodeFlags, bundle]];
}

/** Builds and runs the gateway in the foreground; resolves with the child process. */
export async function runGateway({ env = process.env, stdio = 'inherit' } = {}) {
  await buildGateway();
  const [cmd, args] = gatewayCommand();
  return spawn(cmd, args, { stdio, cwd: repoRoot, env });
}

const isMain = process.argv[1] !== undefined && new URL(import.meta.url).pathname === process.argv[1];
if (isMain) {
  if (process.argv[2] === 'build') {
    await buildGateway();
  } else {
    const child = await runGateway();
    // The gateway stops on SIGINT and SIGTERM itself; pass them on and leave with its exit code.
    for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
    child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
  }
}
