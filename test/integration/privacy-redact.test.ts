import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOpenAi, type FakeOpenAi } from '../support/fake-openai.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

// privacy.redact: a confidential request may go to a target cleared only for internal once its card numbers and
// emails are replaced by placeholders; the answer comes back with the values restored. Secrets never are.

const CARD = '4111 1111 1111 1111';
const EMAIL = 'ada@example.com';

let cloud: FakeOpenAi;
let gateway: TestGateway;
let client: OpenAI;

beforeAll(async () => {
  cloud = await startFakeOpenAi();
  gateway = await startTestGateway(`
version: 1
targets:
  cloud: { kind: openai-compatible, url: ${cloud.baseURL}, clearance: internal }
models:
  chat: { cloud: echo }
routes:
  - { name: main, match: { model: chat }, targets: [cloud] }
privacy:
  redact: [card, email]
`);
  client = new OpenAI({ baseURL: gateway.baseURL, apiKey: 'k', maxRetries: 0 });
});

afterAll(async () => {
  await gateway?.close();
  await cloud?.close();
});

const sentText = () => JSON.stringify(cloud.requests.at(-1)?.body ?? {});

describe('redaction for a less-cleared target', () => {
  it('sends placeholders upstream and restores the values in the answer', async () => {
    const { data, response } = await client.chat.completions
      .create({ model: 'chat', messages: [{ role: 'user', content: `charge ${CARD} and mail ${EMAIL}` }] })
      .withResponse();
    expect(response.headers.get('x-heddle-class')).toBe('confidential');
    expect(sentText()).not.toContain('4111');
    expect(sentText()).not.toContain(EMAIL);
    expect(sentText()).toMatch(/\[REDACTED_CARD_1\].*\[REDACTED_EMAIL_1\]/);
    // The fake echoes what it received: the client gets its own values back.
    expect(data.choices[0]?.message.content).toBe(`echo: charge ${CARD} and mail ${EMAIL}`);
  });

  it('restores placeholders split across stream chunks', async () => {
    const stream = await client.chat.completions.create({
      model: 'chat',
      messages: [{ role: 'user', content: `card ${CARD} please` }],
      stream: true,
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(sentText()).not.toContain('4111');
    expect(text).toBe(`echo: card ${CARD} please`);
  });

  it('never redacts secrets: a request with an API key still finds no cleared target', async () => {
    const before = cloud.requests.length;
    const key = ['AKIA', 'IOSFODNN7', 'EXAMPLE'].join('');
    const err = await client.chat.completions
      .create({ model: 'chat', messages: [{ role: 'user', content: `card ${CARD}, aws key ${key}` }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect((err as InstanceType<typeof OpenAI.PermissionDeniedError>).code).toBe('privacy_no_cleared_target');
    expect(cloud.requests.length).toBe(before);
  });

  it('explain marks the candidate as redacted', async () => {
    const res = await fetch(`${gateway.url}/v1/heddle/explain`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: `card ${CARD}` }] }),
    });
    const body = (await res.json()) as { class: string; candidates: Array<{ target: string; redacted: boolean }> };
    expect(body.class).toBe('confidential');
    expect(body.candidates).toEqual([expect.objectContaining({ target: 'cloud', redacted: true })]);
  });
});
