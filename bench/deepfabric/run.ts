/**
 * DeepFabric through Heddle vs directly against the FastLLM node, in one run (never part of `npm test`):
 *   1. the same small generation (tree, temperature 0) and the same evaluation (llm backend, tool calls,
 *      temperature 0), alternating direct and through Heddle, ROUNDS times each; reports medians and the
 *      wall time Heddle adds (target: <= 2%). Heddle's target is `structured_output: native` here, so both
 *      paths send the node identical requests.
 *   2. the evaluation twice through a Heddle with the response cache on (deterministic mode): the second run's
 *      time shows what the cache saves on a re-run.
 * Usage: npx tsx bench/deepfabric/run.ts [--rounds 3]   (needs the fastllm binary and scripts/deepfabric/setup.sh)
 * Writes bench/results/deepfabric.md and bench/results/deepfabric.json.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { countArg } from '../lib/args.js';
import { deepfabricEnv, ensureDeepFabric, FASTLLM, fastllmAvailable, REPO, runVenv, startFastllm, startHeddle } from '../../test/e2e/support/stack.js';

const rounds = countArg('rounds', 3);

interface Scenario { name: string; seconds: number; code: number; dataset?: { samples: number }; evaluation?: { metrics?: Record<string, number> } }

async function main(): Promise<void> {
  if (!fastllmAvailable()) throw new Error(`fastllm not found at ${FASTLLM}`);
  ensureDeepFabric();
  const node = await startFastllm();
  const nodeModel = ((await (await fetch(`${node.url}/v1/models`)).json()) as { data: Array<{ id: string }> }).data[0]?.id ?? 'default';
  const plain = await startHeddle(node.url, { structured: 'native', cache: 'off' });
  const cached = await startHeddle(node.url, { structured: 'native', cache: 'deterministic' });
  const work = mkdtempSync(join(tmpdir(), 'heddle-bench-deepfabric-'));
  const dataset = join(REPO, 'test/e2e/fixtures/eval-tools.jsonl');
  const scenarios: Array<Record<string, unknown>> = [];
  let n = 0;
  const dir = () => {
    const d = join(work, `s${n++}`);
    mkdirSync(d);
    return d;
  };
  const generation = (name: string, base: string, model: string) => {
    const cwd = dir();
    writeFileSync(
      join(cwd, 'config.yaml'),
      `llm: { provider: openai, model: "${model}", temperature: 0.0 }
topics: { prompt: "Household budgeting", mode: tree, depth: 1, degree: 2, max_tokens: 200, save_as: topics.jsonl }
generation: { system_prompt: "You write short Q&A.", conversation: { type: basic }, max_tokens: 200, max_retries: 1, sample_retries: 0 }
output: { system_prompt: "You are helpful.", num_samples: 2, batch_size: 1, save_as: dataset.jsonl }
`,
    );
    scenarios.push({ name, kind: 'cli', cwd, env: { OPENAI_API_KEY: 'bench', OPENAI_BASE_URL: base }, args: ['generate', 'config.yaml'], check: { dataset: 'dataset.jsonl' } });
  };
  const evaluation = (name: string, base: string, model: string) =>
    scenarios.push({ name, kind: 'evaluate-llm', cwd: dir(), env: { OPENAI_API_KEY: 'bench' }, provider: 'openai', model, base_url: base, dataset, output: 'results.json', max_tokens: 64, check: { evaluation: 'results.json' } });

  for (let i = 0; i < rounds; i++) {
    // Alternate which goes first so that warm-up and background load fall on both sides.
    const pair: Array<[string, string, string]> = [['direct', `${node.url}/v1`, nodeModel], ['heddle', `${plain.url}/v1`, 'heddle-demo']];
    if (i % 2 === 1) pair.reverse();
    for (const [side, base, model] of pair) generation(`gen-${side}-${i}`, base, model);
    for (const [side, base, model] of pair) evaluation(`eval-${side}-${i}`, base, model);
  }
  evaluation('eval-cache-1', `${cached.url}/v1`, 'heddle-demo');
  evaluation('eval-cache-2', `${cached.url}/v1`, 'heddle-demo');

  writeFileSync(join(work, 'scenarios.json'), JSON.stringify(scenarios));
  const run = await runVenv('python', [join(REPO, 'test/e2e/deepfabric_driver.py'), join(work, 'scenarios.json'), join(work, 'report.json')], {
    cwd: work,
    env: deepfabricEnv(),
    timeoutMs: 3_600_000,
  });
  await plain.close();
  await cached.close();
  await node.close();
  if (run.code !== 0) throw new Error(`driver failed:\n${run.stderr.slice(-3000)}`);
  const report = JSON.parse(readFileSync(join(work, 'report.json'), 'utf8')) as { scenarios: Scenario[] };

  const times = (prefix: string) => report.scenarios.filter((s) => s.name.startsWith(prefix)).map((s) => s.seconds);
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
  const rows = ['gen', 'eval'].map((kind) => {
    const direct = median(times(`${kind}-direct`));
    const heddle = median(times(`${kind}-heddle`));
    return { kind, direct, heddle, added: (heddle / direct - 1) * 100, directRuns: times(`${kind}-direct`), heddleRuns: times(`${kind}-heddle`) };
  });
  const cache = report.scenarios.filter((s) => s.name.startsWith('eval-cache'));
  const audit = cached.audit.filter((r) => r.endpoint === 'chat');
  const lines = [
    '# DeepFabric through Heddle vs direct (bench/deepfabric/run.ts)',
    '',
    `Node: fastllm on the bundled demo model (CPU). DeepFabric 4.13.0. Rounds: ${rounds}, alternating order. ${new Date().toISOString()}`,
    '',
    '| run | direct median (s) | through Heddle median (s) | added wall time | direct runs | Heddle runs |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows.map((r) => `| ${r.kind === 'gen' ? 'generate (tree 1x2, 2 samples)' : 'evaluate (llm backend, 3 samples)'} | ${r.direct.toFixed(2)} | ${r.heddle.toFixed(2)} | ${r.added.toFixed(1)}% | ${r.directRuns.join(', ')} | ${r.heddleRuns.join(', ')} |`),
    '',
    'Each run is a few seconds of DeepFabric work against a ~1M-parameter model on a shared 2-core CPU; when the',
    'added time is inside the run-to-run spread of either side it is noise, not a saving. Through Heddle the answers',
    'are also unwrapped to bare JSON (native targets), so failed samples can differ in kind between the two sides.',
    '',
    `Evaluation with the cache on: first run ${cache[0]?.seconds ?? '?'} s, second run ${cache[1]?.seconds ?? '?'} s ` +
      `(${audit.filter((r) => Object.entries(r).some(([k, v]) => k === 'cache' && v === 'hit')).length} of ${audit.length} chat requests answered from the cache).`,
    '',
  ];
  mkdirSync(join(REPO, 'bench/results'), { recursive: true });
  writeFileSync(join(REPO, 'bench/results/deepfabric.md'), lines.join('\n'));
  writeFileSync(join(REPO, 'bench/results/deepfabric.json'), JSON.stringify({ rounds, rows, cache, report }, null, 2));
  process.stdout.write(lines.join('\n'));
}

await main();
