// Response cache benchmark (not a test). Three measurements, each against a baseline in the same run:
//   1. latency, one connection, sequential: a direct upstream answer (no generation delay) vs Heddle passing
//      the request through (temperature 0.7: bypass) vs Heddle answering from the cache (JSON and SSE);
//      plus the in-process cost of the cache stage on a hit (key HMAC + lookup);
//   2. throughput with 16 connections, same three;
//   3. a 200-sample temperature-0 evaluation (8 in flight, as DeepFabric runs it) twice through Heddle against
//      an upstream that takes SLOW_MS per answer, then once more after a restart with the disk store.
//   4. the same twice against an upstream at SLOW_REAL_MS (500) per answer, nearer a small model on a CPU.
// Usage: npx tsx bench/cache/run.ts [--slow-ms 50] [--slow-real-ms 500] [--n 3000] [--out bench/results/cache.md]
import { mkdtempSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ResponseCache } from '../../src/cache/cache.js';
import { cacheSchema, compileCache } from '../../src/cache/config.js';
import { cachedChat } from '../../src/cache/stage.js';
import type { ChatRequest } from '../../src/dialects/openai/schema.js';
import { hmacSigner } from '../../src/node/hmac.js';
import { arg, countArg } from '../lib/args.js';
import { spawnProc, stopAll, stopProc, type SpawnResult } from '../lib/procs.js';
import { percentile, sortedCopy } from '../lib/stats.js';
import { closeClient, evaluation, fixed as f, NICE, post, REPLAYS, replayLine, replays, startHeddle } from './harness.js';

const SLOW_MS = countArg('slow-ms', 50);
const N = countArg('n', 3000);
const SLOW_REAL_MS = countArg('slow-real-ms', 500);
const OUT = arg('out', 'bench/results/cache.md');
const logDir = mkdtempSync(join(tmpdir(), 'heddle-bench-cache-'));

async function startUpstream(slowMs = SLOW_MS): Promise<{ proc: SpawnResult; url: string }> {
  const proc = spawnProc({
    name: 'upstream',
    cmd: process.execPath,
    args: ['--import', 'tsx', 'bench/cache/upstream.ts'],
    env: { SLOW_MS: String(slowMs) },
    logPath: join(logDir, 'upstream.log'),
    captureStdout: true,
    nice: NICE,
  });
  const until = Date.now() + 30_000;
  while (!proc.stdout().includes('\n')) {
    if (Date.now() > until) throw new Error('upstream did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  return { proc, url: proc.stdout().trim() };
}

/** Heddle in front of the upstream: `fast` is its instant model, `student` its slow one. */
function startHeddleFor(upstreamUrl: string, env: Record<string, string> = {}): Promise<{ proc: SpawnResult; url: string }> {
  const policy = [
    'version: 1',
    'targets:',
    `  up: { kind: openai-compatible, url: "${upstreamUrl}/v1", clearance: restricted }`,
    'models:',
    '  fast: { up: echo }',
    '  student: { up: slow }',
    'routes:',
    '  - { name: main, match: { model: [fast, student] }, targets: [up] }',
    'cache: { mode: deterministic, ttl: 1h, max_bytes: 256MB }',
    '',
  ].join('\n');
  return startHeddle(logDir, policy, env);
}

interface Lat {
  p50: number;
  p99: number;
  mean: number;
}

async function latency(url: string, body: (i: number) => unknown, n: number, expectCache?: string): Promise<Lat> {
  for (let i = 0; i < Math.min(300, n); i++) await post(url, body(i));
  const ms = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const r = await post(url, body(i));
    ms[i] = performance.now() - t;
    if (r.status !== 200) throw new Error(`status ${r.status}: ${r.text.slice(0, 200)}`);
    if (expectCache !== undefined && r.cache !== expectCache) throw new Error(`expected cache ${expectCache}, got ${r.cache}`);
  }
  const s = sortedCopy(ms);
  return { p50: percentile(s, 50), p99: percentile(s, 99), mean: ms.reduce((a, b) => a + b, 0) / n };
}

async function throughput(url: string, body: unknown, connections = 16, seconds = 3): Promise<number> {
  let done = 0;
  const until = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < until) {
        const r = await post(url, body);
        if (r.status !== 200) throw new Error(`status ${r.status}`);
        done++;
      }
    }),
  );
  return done / seconds;
}

/** The evaluation's i-th item: a short arithmetic question to the slow model, at temperature 0. */
const evalItem = (i: number) => ({
  model: 'student',
  temperature: 0,
  max_tokens: 256,
  messages: [
    { role: 'system', content: 'Answer with the final number only.' },
    { role: 'user', content: `Evaluation item ${i}: what is ${i} + ${i * 7}?` },
  ],
});

/** The cache stage alone on a hit: the HMAC key of a realistic request (signed as the Node entry signs) and the L1 lookup. */
async function stageCost(n: number): Promise<Lat> {
  const cache = new ResponseCache({ secret: 'bench', signer: hmacSigner });
  const settings = compileCache(cacheSchema.parse({}));
  const req: ChatRequest = {
    model: 'student',
    temperature: 0,
    messages: [
      { role: 'system', content: 'You are a careful grader. '.repeat(20) },
      { role: 'user', content: 'Evaluate this answer for correctness and style. '.repeat(30) },
    ],
  };
  const candidates = [{ target: { name: 'up', kind: 'openai-compatible', url: 'http://127.0.0.1:1/v1', clearance: 'restricted', weight: 1 }, model: 'slow' }];
  const ctx = {
    cache, settings, tenant: 'anonymous', privacyClass: 'internal' as const, route: 'main',
    candidates: candidates as never, headers: new Headers(), signal: new AbortController().signal,
  };
  const completion = {
    id: 'c', object: 'chat.completion' as const, created: 1, model: 'slow',
    choices: [{ index: 0, message: { role: 'assistant' as const, content: 'x'.repeat(800), refusal: null }, finish_reason: 'stop' as const, logprobs: null }],
  };
  await cachedChat(req, ctx, async () => ({ kind: 'json', completion, target: 'up' }));
  const ms = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const out = await cachedChat(req, ctx, () => Promise.reject(new Error('not a hit')));
    ms[i] = performance.now() - t;
    if (out.cache !== 'hit') throw new Error('expected a hit');
  }
  const s = sortedCopy(ms);
  return { p50: percentile(s, 50), p99: percentile(s, 99), mean: ms.reduce((a, b) => a + b, 0) / n };
}


async function main(): Promise<void> {
  const load = loadavg()[0] ?? 0;
  const upstream = await startUpstream();
  let heddle = await startHeddleFor(upstream.url);
  const direct = `${upstream.url}/v1/chat/completions`;
  const via = `${heddle.url}/v1/chat/completions`;
  const messages = [{ role: 'user', content: 'What is the capital of France? Answer in one word.' }];

  const stage = await stageCost(N * 3);
  const directLat = await latency(direct, () => ({ model: 'echo', temperature: 0, messages }), N);
  const bypassLat = await latency(via, () => ({ model: 'fast', temperature: 0.7, messages }), N, 'bypass');
  await post(via, { model: 'fast', temperature: 0, messages });
  const hitLat = await latency(via, () => ({ model: 'fast', temperature: 0, messages }), N, 'hit');
  await post(via, { model: 'fast', temperature: 0, messages, stream: true });
  const hitSseLat = await latency(via, () => ({ model: 'fast', temperature: 0, messages, stream: true }), N, 'hit');

  const directRps = await throughput(direct, { model: 'echo', temperature: 0, messages });
  const bypassRps = await throughput(via, { model: 'fast', temperature: 0.7, messages });
  const hitRps = await throughput(via, { model: 'fast', temperature: 0, messages });

  const run1 = await evaluation(heddle.url, heddle.proc.pid, evalItem);
  const run2 = await replays(heddle.url, heddle.proc.pid, evalItem);
  await stopProc(heddle.proc);

  // The same evaluation with the disk store: filled by one gateway, replayed by a fresh one.
  const dir = mkdtempSync(join(tmpdir(), 'heddle-bench-disk-'));
  heddle = await startHeddleFor(upstream.url, { HEDDLE_CACHE_DIR: dir });
  const diskFill = await evaluation(heddle.url, heddle.proc.pid, evalItem);
  await new Promise((r) => setTimeout(r, 500));
  await stopProc(heddle.proc);
  heddle = await startHeddleFor(upstream.url, { HEDDLE_CACHE_DIR: dir });
  const diskReplay = await evaluation(heddle.url, heddle.proc.pid, evalItem);
  await stopProc(heddle.proc);

  // The same evaluation against an upstream closer to a small model on a CPU (SLOW_REAL_MS per answer).
  const real = await startUpstream(SLOW_REAL_MS);
  heddle = await startHeddleFor(real.url);
  const realCold = await evaluation(heddle.url, heddle.proc.pid, evalItem);
  const realWarm = await replays(heddle.url, heddle.proc.pid, evalItem);
  await stopAll();
  await closeClient();

  const lines = [
    '# Response cache benchmark',
    '',
    `Generated by \`npx tsx bench/cache/run.ts\` on ${new Date().toISOString().slice(0, 10)}; ${N} sequential requests per latency row`,
    '(after 300 warm-up requests), 16 connections for 3 s per throughput row. Client, Heddle (as `npm run gateway` runs it: the esbuild bundle on plain node) and',
    'the upstream are three processes on one machine (2 vCPUs, shared with other work: compare rows of one run, not runs).',
    `The upstream is the test suite's fake OpenAI server (test/support/fake-openai.ts): \`echo\` answers at once, \`slow\` after ${SLOW_MS} ms,`,
    'a stand-in for generation time (the real fastllm node: bench/cache/eval-fastllm.ts, results in cache-fastllm*.md).',
    `Load average when the run started: ${f(load, 1)} (every process of the benchmark at nice ${NICE}).`,
    '',
    '## Latency of one answer (ms, one connection)',
    '',
    '| path | p50 | p99 | mean |',
    '|---|---|---|---|',
    `| direct to the upstream (no generation delay) | ${f(directLat.p50)} | ${f(directLat.p99)} | ${f(directLat.mean)} |`,
    `| Heddle, not cacheable (temperature 0.7 -> bypass) | ${f(bypassLat.p50)} | ${f(bypassLat.p99)} | ${f(bypassLat.mean)} |`,
    `| Heddle, cache hit (JSON) | ${f(hitLat.p50)} | ${f(hitLat.p99)} | ${f(hitLat.mean)} |`,
    `| Heddle, cache hit (SSE replay) | ${f(hitSseLat.p50)} | ${f(hitSseLat.p99)} | ${f(hitSseLat.mean)} |`,
    `| cache stage alone on a hit (in process: HMAC key of a ~2 KB request with node:crypto, as the Node entry, + lookup) | ${f(stage.p50, 4)} | ${f(stage.p99, 4)} | ${f(stage.mean, 4)} |`,
    '',
    `A hit is ${f(Math.abs(directLat.p50 - hitLat.p50))} ms ${hitLat.p50 <= directLat.p50 ? 'faster' : 'slower'} at p50 than the direct answer of an upstream that does no work`,
    `at all (the gateway's own parse, classify and route run before the lookup), ${f(bypassLat.p50 - hitLat.p50)} ms faster than the same request passed`,
    `through, and ~${f(SLOW_MS / hitLat.p50, 0)}x faster than one answer of the ${SLOW_MS} ms upstream.`,
    `The cache stage itself adds ${f(stage.p50 * 1000, 1)} µs at p50 (target: <= 300 µs).`,
    '',
    '## Throughput (answers/s, 16 connections)',
    '',
    '| path | answers/s | vs direct |',
    '|---|---|---|',
    `| direct to the upstream | ${Math.round(directRps)} | 1.00x |`,
    `| Heddle, bypass | ${Math.round(bypassRps)} | ${f(bypassRps / directRps, 2)}x |`,
    `| Heddle, cache hit | ${Math.round(hitRps)} | ${f(hitRps / directRps, 2)}x |`,
    '',
    `## A 200-sample temperature-0 evaluation, run twice (8 in flight, upstream ${SLOW_MS} ms per answer)`,
    '',
    '| run | wall time (s) | Heddle CPU (s) | cache statuses | speed-up |',
    '|---|---|---|---|---|',
    `| first (cold) | ${f(run1.ms / 1000)} | ${f(run1.heddleCpu, 2)} | ${JSON.stringify(run1.statuses)} | 1x |`,
    `| second (memory; median of ${REPLAYS} replays) | ${f(run2.ms / 1000)} | ${f(run2.heddleCpu, 2)} | ${JSON.stringify(run2.statuses)} | ${f(run1.ms / run2.ms, 1)}x |`,
    `| disk store: fill | ${f(diskFill.ms / 1000)} | ${f(diskFill.heddleCpu, 2)} | ${JSON.stringify(diskFill.statuses)} | 1x |`,
    `| disk store: after a gateway restart | ${f(diskReplay.ms / 1000)} | ${f(diskReplay.heddleCpu, 2)} | ${JSON.stringify(diskReplay.statuses)} | ${f(diskFill.ms / diskReplay.ms, 1)}x |`,
    `| upstream at ${SLOW_REAL_MS} ms per answer: first | ${f(realCold.ms / 1000)} | ${f(realCold.heddleCpu, 2)} | ${JSON.stringify(realCold.statuses)} | 1x |`,
    `| upstream at ${SLOW_REAL_MS} ms per answer: second (median of ${REPLAYS}) | ${f(realWarm.ms / 1000)} | ${f(realWarm.heddleCpu, 2)} | ${JSON.stringify(realWarm.statuses)} | ${f(realCold.ms / realWarm.ms, 1)}x |`,
    '',
    `Replays from memory in order, wall time / Heddle CPU / client CPU (s): ${run2.all.map(replayLine).join('; ')} (${SLOW_MS} ms upstream); ` +
      `${realWarm.all.map(replayLine).join('; ')} (${SLOW_REAL_MS} ms upstream). The first run's client CPU: ${f(run1.clientCpu)} s.`,
    '',
    `Target: the second run >= 20x faster than the first. The first run cannot be faster than 200 / 8 x ${SLOW_MS} ms =`,
    `${f((200 / 8) * SLOW_MS / 1000, 2)} s; the second is bounded by Heddle's CPU per answer (${f((run2.heddleCpu / 200) * 1000, 2)} ms here, CPU time at 10 ms`,
    'resolution, inflated by the machine\'s contention), so with a real model (seconds per answer) the ratio is far larger.',
    '',
  ];
  writeFileSync(OUT, lines.join('\n'));
  process.stdout.write(lines.join('\n'));
}

main().catch(async (err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  await stopAll();
  process.exit(1);
});
