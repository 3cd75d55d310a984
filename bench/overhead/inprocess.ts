// In-process cost of Heddle's own request path (not a test): chatCompletions on a canned upstream answer, no
// sockets, so the figure is the JS the gateway adds per request (parse, validate, classify, route, cache stage,
// attempt loop, adapter, answer, metrics, audit line), free of the machine's noise around HTTP.
// Usage: npx tsx bench/overhead/inprocess.ts [--policy policies/default.yaml --model heddle-demo] [--n 20000]
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { cpuUsage } from 'node:process';
import { Aborter } from '../../src/abort.js';
import type { Deps } from '../../src/deps.js';
import { chatCompletions } from '../../src/dialects/openai/serve.js';
import { ResponseCache } from '../../src/cache/index.js';
import { hmacSigner } from '../../src/node/hmac.js';
import { Metrics } from '../../src/observability/metrics.js';
import { loadPolicy } from '../../src/policy/index.js';
import type { UpstreamResponse } from '../../src/providers/http.js';
import { Resilience } from '../../src/resilience/index.js';
import { arg, countArg } from '../lib/args.js';
import { chatBody, completionJson, getAnswers } from './answers.js';

const policyFile = arg('policy', 'bench/overhead/policy.yaml');
const model = arg('model', 'bench-model');
const n = countArg('n', 20000);

const canned: UpstreamResponse = {
  status: 200,
  header: (name) => (name === 'content-type' ? 'application/json' : null),
  text: () => Promise.resolve(completionJson),
  chunks: () => ({ async *[Symbol.asyncIterator]() {} }),
  discard: () => undefined,
};
let sent = 0;
const env = { ...process.env, BENCH_UPSTREAM_PORT: '9', HEDDLE_NODE_URL: 'http://127.0.0.1:9', OLLAMA_URL: 'http://127.0.0.1:9' };
const loaded = loadPolicy(readFileSync(policyFile, 'utf8'), policyFile, env);
const now = () => performance.now();
const http = (req: { url: string; method: string; body?: string }): Promise<UpstreamResponse> => {
  if (req.method === 'GET') {
    const text = getAnswers.get(new URL(req.url).pathname) ?? '{}';
    return Promise.resolve({ ...canned, text: () => Promise.resolve(text) });
  }
  sent += req.body?.length ?? 0;
  return Promise.resolve(canned);
};
let auditBytes = 0;
const deps: Deps = {
  policy: () => loaded,
  http,
  now,
  audit: (record) => {
    auditBytes += JSON.stringify(record).length;
  },
  log: () => undefined,
  metrics: new Metrics(),
  newId: () => randomUUID(),
  resilience: new Resilience({ http, now }),
  cache: new ResponseCache({ signer: hmacSigner }),
};
const body = chatBody(model, false);
const headers = { get: (name: string) => (name === 'authorization' ? 'Bearer bench-key' : null) };

async function round(count: number): Promise<number> {
  const start = cpuUsage();
  // 64 in flight, as the overhead benchmark's unthrottled load.
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next++;
      const signal = new Aborter();
      const out = await chatCompletions(deps, body, { headers, signal, controller: signal, remoteAddress: '127.0.0.1' });
      if (out.kind !== 'json' || out.status !== 200) throw new Error(`unexpected answer ${out.kind} ${out.kind === 'json' ? out.body : ''}`);
    }
  };
  await Promise.all(Array.from({ length: 64 }, worker));
  const used = cpuUsage(start);
  return (used.user + used.system) / count;
}

await round(n); // warm-up: JIT
const rounds: number[] = [];
for (let i = 0; i < 5; i++) rounds.push(await round(n));
rounds.sort((a, b) => a - b);
process.stdout.write(
  `${policyFile}: CPU us/request, 5 rounds of ${n}: min ${rounds[0]!.toFixed(1)} median ${rounds[2]!.toFixed(1)} (upstream bytes ${sent}, audit bytes ${auditBytes})\n`,
);
deps.resilience.stop();
