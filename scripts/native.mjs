// Shared by `npm start` and `npm test`: where the FastLLM node is built and how to build it.
// The cargo target dir lives outside the clone so CI and fresh clones on this machine reuse the build.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export const repoRoot = resolve(new URL('..', import.meta.url).pathname);
export const cargoTargetDir = process.env.CARGO_TARGET_DIR ?? join(homedir(), '.cache', 'heddle', 'cargo-target');
export const nativeDir = join(repoRoot, 'native-server');
export const manifest = join(nativeDir, 'Cargo.toml');
export const fastllmBinary = join(cargoTargetDir, 'release', process.platform === 'win32' ? 'fastllm.exe' : 'fastllm');
export const demoModel = join(repoRoot, 'native-server', 'demo-model', 'heddle-demo');

/**
 * `fastllm serve` as `npm start` runs it, on loopback: the model (any folder) is served as `heddle-demo`, the id
 * policies/default.yaml routes to the local node, so answers carry that id rather than the folder's path.
 */
export function localServeArgs(model, port) {
  return ['serve', '--model', model, '--served-model-name', 'heddle-demo', '--host', '127.0.0.1', '--port', String(port)];
}

export function run(command, args, options = {}) {
  return new Promise((resolvePromise) => {
    const child = spawn(command, args, {
      stdio: 'inherit',
      cwd: options.cwd ?? repoRoot,
      env: { ...process.env, CARGO_TARGET_DIR: cargoTargetDir, ...options.env },
    });
    child.on('exit', (code, signal) => resolvePromise(code ?? (signal ? 1 : 0)));
    child.on('error', () => resolvePromise(127));
  });
}

/**
 * cargo in native-server/, so its .cargo/config.toml (the CPU's vector units) applies: cargo reads that file
 * from the working directory, not from the manifest's folder.
 */
export function cargo(args, env = {}) {
  return run('cargo', args, { cwd: nativeDir, env });
}

/**
 * cargo build --release of the node, with the cargo features FASTLLM_FEATURES names (`cuda` on a machine with
 * NVIDIA's toolkit, `metal` on a Mac); incremental, so a second call is quick. Returns the exit code.
 */
export function buildFastllm() {
  if (!existsSync(manifest)) return Promise.resolve(0);
  const features = process.env.FASTLLM_FEATURES;
  return cargo(['build', '--release', ...(features ? ['--features', features] : [])]);
}

/**
 * Polls a FastLLM node's /health until it answers 200 (it listens while the model loads, answering 503), for at
 * most `seconds`. False if it never does or `child` (the node's process) exits first.
 */
export async function waitHealthy(url, child, seconds) {
  for (let i = 0; i < seconds * 4; i++) {
    if (child.exitCode !== null) return false;
    try {
      if ((await fetch(`${url}/health`)).ok) return true;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}
