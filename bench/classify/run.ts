// Cost of the privacy classifier per request, per KB of prompt text, against the same work with no detectors
// (text collection and iteration only) and against JSON.parse of the same body, all measured in this run.
// Run: npx tsx bench/classify/run.ts   Writes bench/results/classify.md.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { classifyTexts, collectRequestTexts, DEFAULT_CLASSIFIER_CONFIG, resolveClassifierConfig } from '../../src/privacy/index';
import { makeRequest, type BenchRequest } from './corpus';

const BUDGET_US_PER_KB = 20;
const NO_DETECTORS = resolveClassifierConfig({ detectors: [] });
let sink = 0;

/**
 * Median CPU microseconds per call over several batches, each long enough to swamp timer resolution. CPU time
 * (process.cpuUsage) rather than wall time, so that other processes on a shared machine inflate it less.
 */
function measure(fn: () => void, minBatchMs = 60, batches = 9): number {
  for (let i = 0; i < 50; i++) fn();
  let perBatch = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < perBatch; i++) fn();
    if (performance.now() - t0 >= minBatchMs) break;
    perBatch *= 2;
  }
  const samples: number[] = [];
  for (let b = 0; b < batches; b++) {
    const c0 = process.cpuUsage();
    for (let i = 0; i < perBatch; i++) fn();
    const c = process.cpuUsage(c0);
    samples.push((c.user + c.system) / perBatch);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)] ?? Number.NaN;
}

function textBytes(req: BenchRequest): number {
  return collectRequestTexts(req).reduce((n, t) => n + t.length, 0);
}

const rows: string[] = [];
const console_rows: string[] = [];
for (const kb of [1, 32, 256]) {
  const req = makeRequest(kb * 1024);
  const body = JSON.stringify(req);
  const bytes = textBytes(req);
  const check = classifyTexts(collectRequestTexts(req));
  const full = measure(() => {
    sink += classifyTexts(collectRequestTexts(req), DEFAULT_CLASSIFIER_CONFIG).class.length;
  });
  const off = measure(() => {
    sink += classifyTexts(collectRequestTexts(req), NO_DETECTORS).class.length;
  });
  const parse = measure(() => {
    sink += (JSON.parse(body) as BenchRequest).messages.length;
  });
  const perKb = ((full - off) / bytes) * 1024;
  const kinds = Object.entries(check.findings).map(([k, n]) => `${k}:${n}`).join(' ');
  rows.push(
    `| ${kb} KB | ${bytes} | ${full.toFixed(1)} | ${off.toFixed(2)} | ${perKb.toFixed(2)} | ${(full / off).toFixed(0)}x | ${(full / parse).toFixed(2)}x | ${check.class} (${kinds}) |`,
  );
  console_rows.push(`${kb} KB: ${full.toFixed(1)} us/request, ${perKb.toFixed(2)} us/KB (budget ${BUDGET_US_PER_KB}), off ${off.toFixed(2)} us, JSON.parse ${parse.toFixed(1)} us, ${check.class}`);
}

const cpu = cpus()[0]?.model ?? 'unknown CPU';
const md = `# Privacy classifier benchmark

\`npx tsx bench/classify/run.ts\` — ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${cpu}.

Each request is a chat request (system prompt, user turns with content parts, an assistant tool call and its
tool result, one tool definition) of mixed prose, code and logs, with three sensitive sentences (email + phone,
a card, an AWS key) and many near-misses (versions, dates, UUIDs, order ids, SHAs, IPs, timestamps).

- **all detectors**: \`classifyTexts(collectRequestTexts(req))\` with the default config (secrets, card, iban,
  ssn, email, phone, cross-message junctions).
- **detectors off**: the same call with no detectors enabled (collection and iteration only), same run.
- **us/KB**: (all detectors - detectors off) per 1024 characters of text. Budget: ${BUDGET_US_PER_KB} us/KB.
- **vs JSON.parse**: all detectors against \`JSON.parse\` of the same request body, which the gateway does anyway.

| size | text chars | all detectors (us) | detectors off (us) | us/KB | ratio to off | vs JSON.parse | result |
|---|---|---|---|---|---|---|---|
${rows.join('\n')}
`;

const out = join(dirname(fileURLToPath(import.meta.url)), '..', 'results', 'classify.md');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, md);
console.log(console_rows.join('\n'));
console.log(`wrote ${out}${sink < 0 ? '' : ''}`);
