import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeOpenAi } from '../support/fake-openai.js';
import { startGatewayOverFakeOpenAi, type TestGateway } from '../support/gateway.js';

// Every malformed request gets the documented status and an OpenAI-shaped error naming the field; none is a 500
// and none reaches the upstream.

let upstream: FakeOpenAi;
let gateway: TestGateway;
let stop: (() => Promise<void>) | undefined;

beforeAll(async () => {
  ({ upstream, gateway, close: stop } = await startGatewayOverFakeOpenAi(
    (up) => `
version: 1
targets:
  up: { kind: openai-compatible, url: ${up.baseURL}, clearance: restricted }
models:
  chat: { up: echo }
routes:
  - { match: { model: chat }, targets: [up] }
limits: { max_body_bytes: 2048 }
`,
  ));
});

afterAll(() => stop?.());

const user = [{ role: 'user', content: 'hi' }];
/** `levels` arrays, one inside the other. */
const deep = (levels: number): unknown => (levels === 0 ? 0 : [deep(levels - 1)]);

interface Case {
  name: string;
  path?: string;
  body: string | Record<string, unknown>;
  headers?: Record<string, string>;
  status: number;
  param: string | null;
  message: RegExp;
  code?: string;
}

const cases: Case[] = [
  { name: 'invalid JSON', body: '{"model": "chat", ', status: 400, param: null, message: /not valid JSON/, code: 'invalid_json' },
  { name: 'empty body', body: '', status: 400, param: null, message: /empty/, code: 'invalid_json' },
  { name: 'a JSON array', body: '[1,2]', status: 400, param: null, message: /must be a JSON object/ },
  { name: 'missing messages', body: { model: 'chat' }, status: 400, param: 'messages', message: /'messages' is required/ },
  { name: 'empty messages', body: { model: 'chat', messages: [] }, status: 400, param: 'messages', message: /at least 1/ },
  { name: 'missing model', body: { messages: user }, status: 400, param: 'model', message: /'model' is required/ },
  { name: 'model of the wrong type', body: { model: 42, messages: user }, status: 400, param: 'model', message: /must be a string/ },
  { name: 'unknown role', body: { model: 'chat', messages: [{ role: 'wizard', content: 'x' }] }, status: 400, param: 'messages[0].role', message: /not one of the supported values/ },
  { name: 'message content of the wrong type', body: { model: 'chat', messages: [{ role: 'user', content: 5 }] }, status: 400, param: 'messages[0].content', message: /invalid value/ },
  { name: 'tool message without tool_call_id', body: { model: 'chat', messages: [{ role: 'tool', content: 'x' }] }, status: 400, param: 'messages[0].tool_call_id', message: /required/ },
  { name: 'temperature out of range', body: { model: 'chat', messages: user, temperature: 3 }, status: 400, param: 'temperature', message: /too large/ },
  { name: 'max_tokens zero', body: { model: 'chat', messages: user, max_tokens: 0 }, status: 400, param: 'max_tokens', message: /too small/ },
  { name: 'stream not a boolean', body: { model: 'chat', messages: user, stream: 'yes' }, status: 400, param: 'stream', message: /must be a boolean/ },
  { name: 'bad tool_choice', body: { model: 'chat', messages: user, tool_choice: 'sometimes' }, status: 400, param: 'tool_choice', message: /invalid value/ },
  { name: 'bad response_format type', body: { model: 'chat', messages: user, response_format: { type: 'yaml' } }, status: 400, param: 'response_format.type', message: /not one of the supported values/ },
  { name: 'json_schema without a name', body: { model: 'chat', messages: user, response_format: { type: 'json_schema', json_schema: { schema: {} } } }, status: 400, param: 'response_format.json_schema.name', message: /required/ },
  {
    name: 'JSON nested past 128 levels',
    body: { model: 'chat', messages: user, response_format: { type: 'json_schema', json_schema: { name: 's', schema: { items: deep(200) } } } },
    status: 400,
    param: 'response_format.json_schema.schema',
    message: /'response_format\.json_schema\.schema' nests deeper than 128 levels of JSON/,
    code: 'json_too_deep',
  },
  { name: 'unknown model alias', body: { model: 'nope', messages: user }, status: 404, param: 'model', message: /does not exist.*Available: chat/, code: 'model_not_found' },
  { name: 'oversized body', body: { model: 'chat', messages: [{ role: 'user', content: 'x'.repeat(4096) }] }, status: 413, param: null, message: /larger than this gateway's limit of 2048 bytes/, code: 'request_too_large' },
  { name: 'bad privacy header', body: { model: 'chat', messages: user }, headers: { 'x-heddle-privacy': 'secret' }, status: 400, param: 'x-heddle-privacy', message: /must be one of public/ },
  { name: 'embeddings without input', path: '/v1/embeddings', body: { model: 'chat' }, status: 400, param: 'input', message: /'input' is required/ },
  { name: 'embeddings with an empty array', path: '/v1/embeddings', body: { model: 'chat', input: [] }, status: 400, param: 'input', message: /invalid value/ },
  { name: 'unknown path', path: '/v1/completions/nope', body: {}, status: 404, param: null, message: /Unknown path/ },
];

describe('bad input', () => {
  it.each(cases)('$name -> $status', async (c) => {
    const before = upstream.requests.length;
    const res = await fetch(`${gateway.url}${c.path ?? '/v1/chat/completions'}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...c.headers },
      body: typeof c.body === 'string' ? c.body : JSON.stringify(c.body),
    });
    expect(res.status).toBe(c.status);
    const body = (await res.json()) as { error: { message: string; type: string; param: string | null; code: string | null } };
    expect(body.error.message).toMatch(c.message);
    expect(body.error.param).toBe(c.param);
    expect(typeof body.error.type).toBe('string');
    if (c.code) expect(body.error.code).toBe(c.code);
    expect(upstream.requests.length).toBe(before);
  });

  it('keeps serving after every bad request', async () => {
    const res = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'chat', messages: user }),
    });
    expect(res.status).toBe(200);
  });
});
