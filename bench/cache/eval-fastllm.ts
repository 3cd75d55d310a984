// A 200-sample temperature-0 evaluation run twice through Heddle to the real FastLLM node on the bundled demo
// model (cache on, deterministic mode): the second run is answered from the cache. The node, the gateway (as
// production runs it) and this client are three processes, as bench/cache/run.ts runs them.
// With --shape qwen2.5-0.5b the node serves random weights with that model's transformer shapes
// (bench/native/<shape>/config.json) and the demo model's tokenizer: a model as costly per token as a small real
// one, which no download brings here.
// Usage: npx tsx bench/cache/eval-fastllm.ts [--n 200] [--concurrency 8] [--max-tokens 32] [--shape qwen2.5-0.5b]
//                                             [--out bench/results/cache-fastllm[-<shape>].md]
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, homedir, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { cargo, demoModel, fastllmBinary, waitHealthy } from '../../scripts/native.mjs';
import { arg, countArg } from '../lib/args.js';
import { freePort, spawnProc, stopAll, treeCpuSeconds } from '../lib/procs.js';
import { closeClient, evaluation, fixed as f, NICE, REPLAYS, replayLine, replays, startHeddle } from './harness.js';

const N = countArg('n', 200);
const CONCURRENCY = countArg('concurrency', 8);
const MAX_TOKENS = countArg('max-tokens', 32);
const SHAPE = arg('shape', '');
const OUT = arg('out', SHAPE === '' ? 'bench/results/cache-fastllm.md' : `bench/results/cache-fastllm-${SHAPE}.md`);

/** The transformer fields taken from the shaped model's config; vocabulary and special tokens stay the demo's. */
const SHAPE_FIELDS = ['hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'num_key_value_heads', 'rope_theta', 'rms_norm_eps', 'tie_word_embeddings'];

/** A model folder of `shape`'s transformer with the demo tokenizer and seeded random weights, made once and kept. */
async function shapedModel(shape: string): Promise<string> {
  const dir = join(homedir(), '.cache', 'heddle', 'bench-models', `${shape}-demo-vocab`);
  if (existsSync(join(dir, 'model.safetensors'))) return dir;
  mkdirSync(dir, { recursive: true });
  for (const f of ['tokenizer.json', 'tokenizer_config.json', 'generation_config.json']) copyFileSync(join(demoModel, f), join(dir, f));
  const demo = JSON.parse(readFileSync(join(demoModel, 'config.json'), 'utf8')) as Record<string, unknown>;
  const real = JSON.parse(readFileSync(join('bench', 'native', shape, 'config.json'), 'utf8')) as Record<string, unknown>;
  for (const field of SHAPE_FIELDS) if (field in real) demo[field] = real[field];
  writeFileSync(join(dir, 'config.json'), JSON.stringify(demo, null, 2));
  if ((await cargo(['run', '--release', '--example', 'random_model', '--', dir])) !== 0) throw new Error('could not write the random weights');
  return dir;
}

const itemOf = (set: string) => (i: number) => ({
  model: 'student',
  temperature: 0,
  max_tokens: MAX_TOKENS,
  messages: [{ role: 'user', content: `${set} ${i}: what is ${i} plus ${i * 3}?` }],
});
const item = itemOf('Question');
/** Another, smaller evaluation run before the measured one: the gateway and the client start warm (JIT), as a
 * gateway that has been serving for a while is; its first pass misses, the next ones hit. */
const WARMUP_ITEMS = 48;
const WARMUP_PASSES = 60;

async function main(): Promise<void> {
  const logDir = mkdtempSync(join(tmpdir(), 'heddle-eval-bench-'));
  const model = SHAPE === '' ? demoModel : await shapedModel(SHAPE);
  const nodePort = await freePort();
  const node = spawnProc({
    name: 'fastllm',
    cmd: fastllmBinary,
    // bf16 for the shaped model, as the native benchmarks run it.
    args: ['serve', '--model', model, '--host', '127.0.0.1', '--port', String(nodePort), ...(SHAPE === '' ? [] : ['--dtype', 'bf16'])],
    logPath: join(logDir, 'fastllm.log'),
    nice: NICE,
  });
  if (!(await waitHealthy(`http://127.0.0.1:${nodePort}`, node.child, 300))) throw new Error(`the node did not become healthy; see ${node.logPath}`);
  const policy = `version: 1
targets:
  node: { kind: fastllm, url: "http://127.0.0.1:${nodePort}", clearance: restricted }
routes:
  - { name: eval, match: { model: "*" }, targets: [node] }
cache: { mode: deterministic, ttl: 1h }
`;
  const heddle = await startHeddle(logDir, policy);
  const warm = itemOf('Warm-up question');
  for (let pass = 0; pass < WARMUP_PASSES; pass++) await evaluation(heddle.url, heddle.proc.pid, warm, WARMUP_ITEMS, CONCURRENCY);
  const load = loadavg().map((l) => l.toFixed(1)).join(' / ');

  const node0 = treeCpuSeconds(node.pid);
  const first = await evaluation(heddle.url, heddle.proc.pid, item, N, CONCURRENCY);
  const nodeCpu = treeCpuSeconds(node.pid) - node0;
  const node1 = treeCpuSeconds(node.pid);
  const second = await replays(heddle.url, heddle.proc.pid, item, N, CONCURRENCY);
  const nodeIdleCpu = treeCpuSeconds(node.pid) - node1;
  await stopAll();
  await closeClient();

  const md = `# Evaluation re-run through the cache, real FastLLM node

Generated by \`npx tsx bench/cache/eval-fastllm.ts\` on ${new Date().toISOString().slice(0, 10)}: ${N} temperature-0 chat
requests (max_tokens ${MAX_TOKENS}, ${CONCURRENCY} in flight) through Heddle (cache in deterministic mode) to the real \`fastllm\`
binary serving ${SHAPE === '' ? 'the bundled demo model' : `random weights with ${SHAPE}'s transformer shapes and the demo tokenizer (bf16)`} on CPU; then the same ${N} again, ${REPLAYS} times. Before them, a ${WARMUP_ITEMS}-item warm-up evaluation ran ${WARMUP_PASSES} times (one miss, then hits per item), so that
gateway and client are warm. The node, Heddle (as
\`npm run gateway\` runs it: the esbuild bundle on plain node) and the client (undici) are three processes, every
one at nice -20 when root. ${cpus().length} CPUs, load average at start ${load}.

| run | wall time (s) | Heddle CPU (s) | node CPU (s) | cache statuses | speed-up |
|---|---|---|---|---|---|
| first (nothing cached) | ${f(first.ms / 1000)} | ${f(first.heddleCpu, 2)} | ${f(nodeCpu, 2)} | ${JSON.stringify(first.statuses)} | 1x |
| second (median of ${REPLAYS} replays) | ${f(second.ms / 1000)} | ${f(second.heddleCpu, 2)} | ${f(nodeIdleCpu, 2)} (all replays) | ${JSON.stringify(second.statuses)} | **${f(first.ms / second.ms, 1)}x** |

Target: the second run >= 20x faster than the first. Replays in order, wall time / Heddle CPU / client CPU (s):
${second.all.map(replayLine).join('; ')}. The first run's client CPU: ${f(first.clientCpu)} s.
`;
  writeFileSync(OUT, md);
  process.stdout.write(md);
}

main().catch(async (err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  await stopAll();
  process.exit(1);
});
