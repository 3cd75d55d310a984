import OpenAI from 'openai';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../../src/node.js';
import type { AuditRecord } from '../../src/observability/audit.js';
import { startFakeOpenAi, type FakeOpenAi } from '../support/fake-openai.js';
import { CARDS, IBANS, NEAR_MISSES, SECRETS } from '../unit/privacy/fixtures.js';

// A corpus of sensitive requests sent through the real Node gateway with the openai SDK, with a "cloud" target
// cleared for internal data and "local" ones cleared for restricted data. The cloud fake records every request it
// receives: none of the sensitive requests may ever appear there, also when every local target fails and the
// fallbacks run. Ordinary text (the detectors' false-positive table) stays on the cloud route.

let cloud: FakeOpenAi;
let local: FakeOpenAi;
let gateway: RunningGateway;
let client: OpenAI;
const audit: AuditRecord[] = [];

beforeAll(async () => {
  cloud = await startFakeOpenAi();
  local = await startFakeOpenAi();
  const dir = mkdtempSync(join(tmpdir(), 'heddle-privacy-'));
  const policyFile = join(dir, 'policy.yaml');
  writeFileSync(
    policyFile,
    `version: 1
targets:
  cloud: { kind: openai-compatible, url: "${cloud.baseURL}", clearance: internal }
  local-dead: { kind: openai-compatible, url: "http://127.0.0.1:9/v1", clearance: restricted }
  local: { kind: openai-compatible, url: "${local.baseURL}", clearance: restricted }
  # The same server under another name, so its circuit breaker (opened by the failing route) is its own.
  local-failing: { kind: openai-compatible, url: "${local.baseURL}", clearance: restricted }
  dead-failing: { kind: openai-compatible, url: "http://127.0.0.1:9/v1", clearance: restricted }
models:
  chat: { cloud: echo, local-dead: echo, local: echo }
  failing: { cloud: echo, dead-failing: echo, local-failing: error-500 }
  embed: { cloud: echo, local: echo }
routes:
  # The cloud is listed FIRST everywhere: only the privacy filter keeps sensitive requests off it.
  - { name: chat, match: { model: chat }, targets: [cloud, local-dead, local] }
  - { name: failing, match: { model: failing }, targets: [cloud, dead-failing, local-failing] }
  - { name: embed, match: { model: embed }, targets: [cloud, local] }
privacy:
  default: internal
  classes: { email: confidential, phone: confidential }
  patterns:
    - { name: ticket, pattern: "TCK-[0-9]{6}", class: confidential }
  keywords:
    - { name: codename, words: ["Project Atlas"], class: restricted }
resilience:
  timeouts: { first_byte: 5s }
`,
  );
  gateway = await startGateway({ policyFile, host: '127.0.0.1', port: 0, audit: (r) => audit.push(r), env: {}, watchPolicy: false });
  client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'dummy', maxRetries: 0 });
});

afterAll(async () => {
  await gateway?.close();
  await cloud?.close();
  await local?.close();
});

type Msg = OpenAI.Chat.Completions.ChatCompletionMessageParam;
const user = (content: string): Msg => ({ role: 'user', content });

/** Each entry: a name, the messages, and the sensitive values that must never reach the cloud. */
const CORPUS: [string, Msg[], string[]][] = [
  ...Object.entries(SECRETS).map(([kind, value]): [string, Msg[], string[]] => [`${kind} in a user message`, [user(`use this: ${value}`)], [value]]),
  ...CARDS.slice(0, 4).map((c): [string, Msg[], string[]] => [`card ${c}`, [user(`charge ${c} please`)], [c]]),
  ...IBANS.slice(0, 3).map((i): [string, Msg[], string[]] => [`IBAN ${i}`, [user(`wire it to ${i}`)], [i]]),
  ['SSN', [user('Her number is 123-45-6789.')], ['123-45-6789']],
  ['email (confidential by policy)', [user('write to jane.doe@example.com')], ['jane.doe@example.com']],
  ['phone (confidential by policy)', [user('call +1 (415) 555-2671 tomorrow')], ['555-2671']],
  ['custom pattern', [user('see ticket TCK-123456')], ['TCK-123456']],
  ['keyword', [user('status of project atlas?')], ['project atlas']],
  ['secret in the system prompt', [{ role: 'system', content: `db: ${SECRETS['secret.connection_string']}` }, user('hi')], ['S3cr3t-Pa55']],
  [
    'card in content parts',
    [{ role: 'user', content: [{ type: 'text', text: 'my card is' }, { type: 'text', text: '5555 5555 5555 4444' }] }],
    ['5555 5555 5555 4444'],
  ],
  [
    'IBAN in tool arguments',
    [
      user('pay the invoice'),
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 'c1', type: 'function', function: { name: 'pay', arguments: '{"iban":"GB82WEST12345698765432"}' } }],
      },
      { role: 'tool', tool_call_id: 'c1', content: 'ok' },
    ],
    ['GB82WEST12345698765432'],
  ],
  [
    'SSN in a tool result',
    [
      user('look her up'),
      { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'lookup', arguments: '{}' } }] },
      { role: 'tool', tool_call_id: 'c1', content: '{"name":"Ann","ssn":"123-45-6789"}' },
    ],
    ['123-45-6789'],
  ],
  ['card split across two messages', [user('card 4111 1111'), user('1111 1111 thanks')], ['4111 1111']],
  ['AWS key split across two messages', [user(`key ${(SECRETS['secret.aws_access_key'] ?? '').slice(0, 10)}`), user((SECRETS['secret.aws_access_key'] ?? '').slice(10))], ['IOSFODNN7']],
];

function cloudSaw(values: string[]): string[] {
  const bodies = cloud.requests.map((r) => JSON.stringify(r.body ?? '').toLowerCase());
  return values.filter((v) => bodies.some((b) => b.includes(v.toLowerCase()) || b.includes(JSON.stringify(v).slice(1, -1).toLowerCase())));
}

beforeEach(() => {
  cloud.requests.length = 0;
  local.requests.length = 0;
});

describe('sensitive requests never reach a target below their class', () => {
  it.each(CORPUS)('%s: served by local, cloud sees nothing', async (_name, messages, values) => {
    const { data, response } = await client.chat.completions.create({ model: 'chat', messages }).withResponse();
    expect(data.choices[0]?.message).toBeDefined();
    expect(response.headers.get('x-heddle-target')).toBe('local');
    expect(['confidential', 'restricted']).toContain(response.headers.get('x-heddle-class'));
    expect(cloud.requests).toHaveLength(0);
    expect(cloudSaw(values)).toEqual([]);
    expect(local.requests).toHaveLength(1);
  });

  it.each(CORPUS)('%s, streamed, with every local target failing: 5xx, and the cloud still sees nothing', async (_name, messages, values) => {
    const err = await client.chat.completions
      .create({ model: 'failing', messages, stream: true })
      .then(async (s) => {
        for await (const _ of s) void _;
        return undefined;
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBeGreaterThanOrEqual(500);
    // (local-failing may have been skipped: its breaker opens after a few failures; the answer is still a 5xx)
    expect(cloud.requests).toHaveLength(0);
    expect(cloudSaw(values)).toEqual([]);
  });

  it('the failing runs tried only cleared targets (audit), the local ones included', () => {
    const failing = audit.filter((r) => r.route === 'failing');
    expect(failing).toHaveLength(CORPUS.length);
    const tried = new Set(failing.flatMap((r) => r.attempts.map((a) => a.target)));
    expect(tried.has('local-failing')).toBe(true);
    expect(tried.has('cloud')).toBe(false);
    for (const r of failing) expect(r.target).toBeNull();
  });

  it('embeddings input with an email stays local', async () => {
    const res = await client.embeddings.create({ model: 'embed', input: ['hello', 'mail jane.doe@example.com'] }).withResponse();
    expect(res.response.headers.get('x-heddle-target')).toBe('local');
    expect(cloud.requests).toHaveLength(0);
  });

  it('a client header raises the class (and cannot lower it)', async () => {
    const raised = await client.chat.completions
      .create({ model: 'chat', messages: [user('plain text')] }, { headers: { 'x-heddle-privacy': 'confidential' } })
      .withResponse();
    expect(raised.response.headers.get('x-heddle-target')).toBe('local');
    const lowered = await client.chat.completions
      .create({ model: 'chat', messages: [user('charge 4111 1111 1111 1111')] }, { headers: { 'x-heddle-privacy': 'public' } })
      .withResponse();
    expect(lowered.response.headers.get('x-heddle-target')).toBe('local');
    expect(cloud.requests).toHaveLength(0);
  });
});

describe('ordinary text stays on the cloud route (false-positive table)', () => {
  it.each(NEAR_MISSES)('%s', async (text) => {
    const { response } = await client.chat.completions.create({ model: 'chat', messages: [user(text)] }).withResponse();
    expect(response.headers.get('x-heddle-target')).toBe('cloud');
    expect(response.headers.get('x-heddle-class')).toBe('internal');
    expect(cloud.requests).toHaveLength(1);
  });
});

describe('the audit line', () => {
  it('carries class, detector kinds and counts, route, target and purpose, never the values', async () => {
    audit.length = 0;
    const card = '4111 1111 1111 1111';
    await client.chat.completions.create({ model: 'chat', messages: [user(`charge ${card} and ${card}`)] });
    await new Promise((r) => setTimeout(r, 20));
    const line = audit.at(-1);
    expect(line).toMatchObject({
      class: 'confidential',
      class_signals: ['detectors'],
      findings: { card: 2 },
      route: 'chat',
      target: 'local',
      tenant: 'anonymous',
      purpose: 'generation',
      status: 200,
    });
    expect(line?.attempts.map((a) => a.target)).toEqual(['local-dead', 'local']);
    const text = JSON.stringify(line);
    expect(text).not.toContain('4111');
    expect(text).not.toContain('charge');
  });
});
