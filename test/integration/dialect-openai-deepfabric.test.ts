import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeOpenAi } from '../support/fake-openai.js';
import { startGatewayOverFakeOpenAi, type TestGateway } from '../support/gateway.js';

// What DeepFabric (through outlines and its llm evaluation backend) sends on the OpenAI dialect, with the openai
// SDK as the client: strict json_schema with $defs/$ref and anyOf null, emulated or native, and multi-turn
// evaluation with assistant tool_calls and tool messages.

let upstream: FakeOpenAi;
let gateway: TestGateway;
let stop: (() => Promise<void>) | undefined;
let client: OpenAI;

beforeAll(async () => {
  ({ upstream, gateway, close: stop } = await startGatewayOverFakeOpenAi(
    (up) => `
version: 1
targets:
  up: { kind: openai-compatible, url: ${up.baseURL}, clearance: restricted }
  emu: { kind: openai-compatible, url: ${up.baseURL}, clearance: restricted, structured_output: emulate }
models:
  teacher-emu: { emu: json }
  teacher-echo: { up: echo }
  student: { up: tool }
routes:
  - { name: emulated, match: { model: teacher-emu }, targets: [emu] }
  - { name: rest, match: { model: "*" }, targets: [up] }
`,
  ));
  client = new OpenAI({ baseURL: gateway.baseURL, apiKey: 'dummy', maxRetries: 0 });
});

afterAll(() => stop?.());

const strictSchema = {
  $defs: { Flag: { type: 'boolean' } },
  type: 'object',
  properties: { ok: { $ref: '#/$defs/Flag' }, n: { anyOf: [{ type: 'integer' }, { type: 'null' }] } },
  required: ['ok', 'n'],
  additionalProperties: false,
};

describe('DeepFabric on the OpenAI dialect', () => {
  it('emulated json_schema: one choice, bare JSON, refusal null', async () => {
    const res = await client.chat.completions.create({
      model: 'teacher-emu',
      messages: [{ role: 'user', content: 'Generate subtopics.' }],
      response_format: { type: 'json_schema', json_schema: { name: 'default', strict: true, schema: strictSchema } },
    });
    expect(res.choices).toHaveLength(1);
    expect(res.choices[0]?.message.content).toBe('{"ok":true,"n":1}');
    expect(res.choices[0]?.message.refusal).toBeNull();
  });

  it('native json_schema answers are unwrapped from code fences', async () => {
    const res = await client.chat.completions.create({
      model: 'teacher-echo',
      messages: [{ role: 'user', content: '```json\n{"a": [1, 2]}\n```' }],
      response_format: { type: 'json_schema', json_schema: { name: 'default', strict: true, schema: { type: 'object' } } },
    });
    expect(res.choices[0]?.message.content).toBe('{"a":[1,2]}');
    expect(upstream.requests.at(-1)?.body?.response_format).toMatchObject({ type: 'json_schema' });
  });

  it('multi-turn evaluation: assistant tool_calls and tool messages relayed; arguments stay a JSON string', async () => {
    const tools = [{ type: 'function' as const, function: { name: 'get_weather', description: 'w', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }];
    const res = await client.chat.completions.create({
      model: 'student',
      temperature: 0.7,
      max_tokens: 128,
      top_p: 0.9,
      tools,
      tool_choice: 'auto',
      messages: [
        { role: 'system', content: 'You are a helpful assistant with tools.' },
        { role: 'user', content: 'Weather in Paris and Oslo?' },
        { role: 'assistant', content: '', tool_calls: [{ id: 'abcDEF123', type: 'function', function: { name: 'get_weather', arguments: '{"city": "Paris"}' } }] },
        { role: 'tool', tool_call_id: 'abcDEF123', content: '{"temp": 21}' },
      ],
    });
    const call = res.choices[0]?.message.tool_calls?.[0];
    expect(call?.type === 'function' ? call.function : undefined).toEqual({ name: 'get_weather', arguments: '{"city":"Paris"}' });
    expect(res.choices[0]?.finish_reason).toBe('tool_calls');
    const sent = upstream.requests.at(-1)?.body as { messages: unknown[]; tool_choice: string };
    expect(sent.tool_choice).toBe('auto');
    expect(sent.messages.slice(2)).toEqual([
      { role: 'assistant', content: '', tool_calls: [{ id: 'abcDEF123', type: 'function', function: { name: 'get_weather', arguments: '{"city": "Paris"}' } }] },
      { role: 'tool', tool_call_id: 'abcDEF123', content: '{"temp": 21}' },
    ]);
  });
});
