import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFaultyUpstream } from '../support/faulty-upstream.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import type { Listening } from '../support/loopback.js';
import { Mutator } from '../support/mutate.js';

// Seeded fuzzing of what targets answer: every outbound adapter (openai-compatible, fastllm, ollama, anthropic,
// gemini) gets bent, cut, mislabelled and dropped answers from test/support/faulty-upstream.ts, through every
// inbound dialect, streaming and not. However a target misbehaves, the client gets an answer, the target's error
// relayed, or a 502/503 naming it; never a 500, never a bug in the log.

const SEED = 7;
const REQUESTS = 600;
const MODELS = ['m-openai', 'm-fastllm', 'm-ollama', 'm-anthropic', 'm-gemini'];

let upstream: Listening;
let gateway: TestGateway;
const logged: { level: string; message: string; fields?: Record<string, unknown> }[] = [];

beforeAll(async () => {
  upstream = await startFaultyUpstream(SEED);
  const u = upstream.url;
  gateway = await startTestGateway(
    `
version: 1
targets:
  openai: { kind: openai-compatible, url: ${u}/oai/v1, clearance: restricted }
  fastllm: { kind: fastllm, url: ${u}/fastllm, clearance: restricted }
  ollama: { kind: ollama, url: ${u}/ollama, clearance: restricted }
  anthropic: { kind: anthropic, url: ${u}/anthropic, api_key: k, clearance: restricted }
  gemini: { kind: gemini, url: ${u}/gemini, api_key: k, clearance: restricted }
models:
${MODELS.map((m) => `  ${m}: { ${m.slice(2)}: m }`).join('\n')}
routes:
${MODELS.map((m) => `  - { match: { model: ${m} }, targets: [${m.slice(2)}] }`).join('\n')}
resilience:
  retries: 0
  breaker: { failures: 1000000, error_rate: 1, min_requests: 1000000 }
  health: { enabled: false }
  timeouts: { total: 5 }
`,
    {},
    'off',
    { log: (level, message, fields) => logged.push({ level, message, fields }) },
  );
});

afterAll(async () => {
  await gateway?.close();
  await upstream?.close();
});

const tools = [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: { a: { type: 'number' } } } } }];
const schema = { type: 'json_schema', json_schema: { name: 's', schema: { type: 'object', properties: { a: { type: 'number' } }, required: ['a'] } } };

/** One valid request through one inbound dialect. */
function request(fuzz: Mutator): { path: string; body: Record<string, unknown> } {
  const model = fuzz.pick(MODELS);
  const stream = fuzz.chance(0.5);
  const user = [{ role: 'user', content: 'hi' }];
  switch (fuzz.pick(['openai', 'openai', 'anthropic', 'ollama', 'embeddings', 'ollama-embed'] as const)) {
    case 'openai':
      return {
        path: '/v1/chat/completions',
        body: {
          model,
          messages: user,
          stream,
          ...(stream && fuzz.chance(0.5) ? { stream_options: { include_usage: true } } : {}),
          ...(fuzz.chance(0.3) ? { tools } : {}),
          ...(fuzz.chance(0.2) ? { response_format: schema } : {}),
        },
      };
    case 'anthropic':
      return {
        path: '/v1/messages',
        body: { model, max_tokens: 10, messages: user, stream, ...(fuzz.chance(0.3) ? { tools: [{ name: 'f', input_schema: { type: 'object' } }] } : {}) },
      };
    case 'ollama':
      return { path: '/api/chat', body: { model, messages: user, stream, ...(fuzz.chance(0.3) ? { tools } : {}), ...(fuzz.chance(0.2) ? { format: 'json' } : {}) } };
    case 'embeddings':
      return { path: '/v1/embeddings', body: { model, input: ['a', 'b'] } };
    case 'ollama-embed':
      return { path: '/api/embed', body: { model, input: ['a', 'b'] } };
  }
}

describe(`fuzzed target answers (seed ${SEED})`, () => {
  it('every answer is a success, the target error relayed, or a 502/503; never a 500 or a logged bug', { timeout: 120_000 }, async () => {
    const fuzz = new Mutator(SEED);
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    for (let n = 0; n < REQUESTS; n++) {
      const { path, body } = request(fuzz);
      const res = await fetch(`${gateway.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': 'k', 'anthropic-version': '2023-06-01' },
        body: JSON.stringify(body),
      });
      const text = await res.text();
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.status === 500 || text.includes('Internal error')) failures.push(`#${n} ${path} ${String(body.model)} -> ${res.status} ${text.slice(-300)}`);
    }

    expect(failures).toEqual([]);
    expect(logged.filter((l) => l.level === 'error')).toEqual([]);
    // The faults reached the client as failures, and the untouched answers as answers.
    expect(statuses.get(200) ?? 0).toBeGreaterThan(REQUESTS / 5);
    expect((statuses.get(502) ?? 0) + (statuses.get(503) ?? 0)).toBeGreaterThan(REQUESTS / 10);
  });
});
