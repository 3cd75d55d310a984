import OpenAI from 'openai';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashKey } from '../../src/auth/index.js';
import { startGateway, type RunningGateway } from '../../src/node.js';
import { startFakeOpenAi, type FakeOpenAi } from '../support/fake-openai.js';

// POST /v1/heddle/explain and API-key tenants on the real Node gateway.

const TEAM_KEY = 'hk-team-7f3a9c21';
let upstream: FakeOpenAi;
let open: RunningGateway;
let keyed: RunningGateway;

async function gatewayWith(yaml: string): Promise<RunningGateway> {
  const policyFile = join(mkdtempSync(join(tmpdir(), 'heddle-explain-')), 'policy.yaml');
  writeFileSync(policyFile, yaml);
  return startGateway({ policyFile, host: '127.0.0.1', port: 0, audit: 'off', env: {}, watchPolicy: false });
}

beforeAll(async () => {
  upstream = await startFakeOpenAi();
  const targets = `targets:
  cloud: { kind: openai-compatible, url: "${upstream.baseURL}", clearance: internal, region: us-east }
  local: { kind: openai-compatible, url: "${upstream.baseURL}", clearance: restricted, region: lab }
  pub: { kind: openai-compatible, url: "${upstream.baseURL}", clearance: public }
models:
  chat: { cloud: echo, local: echo }
  embed: { cloud: echo, local: echo }
`;
  open = await gatewayWith(`version: 1
${targets}routes:
  - { name: chat, match: { model: chat }, targets: [cloud, local] }
  - { name: embed, match: { model: embed }, targets: [cloud, local] }
  - { name: cloud-only, match: { model: "cloud-*" }, targets: [pub, cloud] }
`);
  keyed = await gatewayWith(`version: 1
${targets}routes:
  - { name: chat, match: { model: chat }, targets: [cloud, local] }
tenants:
  team: { keys: ["${await hashKey(TEAM_KEY)}"], floor: confidential }
auth: { anonymous: none }
`);
});

afterAll(async () => {
  await open?.close();
  await keyed?.close();
  await upstream?.close();
});

async function explain(gw: RunningGateway, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${gw.url}/v1/heddle/explain`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, text: '' };
}

describe('POST /v1/heddle/explain', () => {
  it('shows class, signals, finding kinds and counts, kept and removed candidates, and calls no target', async () => {
    const before = upstream.requests.length;
    const card = '4111 1111 1111 1111';
    const { status, body } = await explain(open, { model: 'chat', messages: [{ role: 'user', content: `card ${card}, mail a@example.com` }] });
    expect(status).toBe(200);
    expect(body).toEqual({
      object: 'heddle.explain',
      endpoint: 'chat',
      model: 'chat',
      policy: expect.stringContaining('policy.yaml'),
      tenant: 'anonymous',
      purpose: 'generation',
      class: 'confidential',
      signals: ['detectors'],
      sources: { tenant: 'internal', header: null, route: null, detectors: 'confidential' },
      findings: { card: 1, email: 1 },
      route: { name: 'chat', strategy: 'fallback', match: 'chat', privacy: null },
      candidates: [
        {
          target: 'local',
          model: 'echo',
          kind: 'openai-compatible',
          clearance: 'restricted',
          region: 'lab',
          redacted: false,
          state: expect.objectContaining({ target: 'local', breaker: expect.objectContaining({ state: 'closed' }), outstanding: 0 }),
        },
      ],
      removed: [{ target: 'cloud', reason: 'clearance internal is below class confidential' }],
      outcome: { status: 200, code: null, message: null },
      // Sampled generation (no temperature 0, no seed) is never answered from the cache by default.
      cache: expect.objectContaining({ eligible: false, mode: 'deterministic' }),
    });
    expect(JSON.stringify(body)).not.toContain('4111');
    expect(upstream.requests.length).toBe(before);
  });

  it('explains embeddings bodies and the x-heddle-* headers', async () => {
    const { body } = await explain(open, { model: 'embed', input: 'hello' }, { 'x-heddle-privacy': 'internal', 'x-heddle-purpose': 'evaluation' });
    expect(body).toMatchObject({ endpoint: 'embeddings', class: 'internal', signals: ['tenant', 'header'], purpose: 'evaluation' });
    expect(body.cache).toMatchObject({ eligible: true, reason: 'embeddings are deterministic' });
    expect((body.candidates as { target: string }[]).map((c) => c.target)).toEqual(['cloud', 'local']);
  });

  it('explains a refusal with its machine-readable reason', async () => {
    const { status, body } = await explain(open, { model: 'cloud-x', messages: [{ role: 'user', content: 'ssn 123-45-6789' }] });
    expect(status).toBe(200);
    expect(body.outcome).toMatchObject({ status: 403, code: 'privacy_no_cleared_target' });
    expect(body.candidates).toEqual([]);
  });

  it('validates the body like the endpoint it explains', async () => {
    const { status, body } = await explain(open, { model: 'chat' });
    expect(status).toBe(400);
    expect(body).toMatchObject({ error: { param: 'messages' } });
  });
});

describe('API keys and tenants', () => {
  it('refuses unknown keys with 401 when anonymous use is off, on explain and on requests', async () => {
    expect((await explain(keyed, { model: 'chat', messages: [{ role: 'user', content: 'x' }] }, { authorization: 'Bearer nope' })).status).toBe(401);
    const client = new OpenAI({ baseURL: `${keyed.url}/v1`, apiKey: 'nope', maxRetries: 0 });
    const err = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((err as InstanceType<typeof OpenAI.AuthenticationError>).code).toBe('invalid_api_key');
  });

  it('serves a known key as its tenant, with its privacy floor', async () => {
    const client = new OpenAI({ baseURL: `${keyed.url}/v1`, apiKey: TEAM_KEY, maxRetries: 0 });
    const { response } = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'x' }] }).withResponse();
    expect(response.headers.get('x-heddle-class')).toBe('confidential');
    expect(response.headers.get('x-heddle-target')).toBe('local');
    const { body } = await explain(keyed, { model: 'chat', messages: [{ role: 'user', content: 'x' }] }, { authorization: `Bearer ${TEAM_KEY}` });
    expect(body).toMatchObject({ tenant: 'team', class: 'confidential', signals: ['tenant'] });
  });

  it('lets loopback clients with dummy keys in by default once keys exist (DeepFabric locally)', async () => {
    const gw = await gatewayWith(`version: 1
targets:
  local: { kind: openai-compatible, url: "${upstream.baseURL}", clearance: restricted }
models:
  chat: { local: echo }
routes:
  - { match: { model: chat }, targets: [local] }
tenants:
  team: { keys: ["${await hashKey(TEAM_KEY)}"] }
`);
    try {
      const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'ollama', maxRetries: 0 });
      const data = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'x' }] });
      expect(data.choices[0]?.message.content).toBe('echo: x');
    } finally {
      await gw.close();
    }
  });
});
