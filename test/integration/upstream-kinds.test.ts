import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeAnthropic, type FakeAnthropic } from '../support/fake-anthropic.js';
import { startFakeGemini, type FakeGemini } from '../support/fake-gemini.js';
import { startFakeOpenAi, type FakeOpenAi } from '../support/fake-openai.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

// One OpenAI client, three upstream wires behind Heddle: Anthropic Messages, Gemini generateContent, and an
// upstream FastLLM server as it is (embeddings as {embedding}, streams without [DONE], one accepted model id).

let anthropic: FakeAnthropic;
let gemini: FakeGemini;
let fastllm: FakeOpenAi;
let gateway: TestGateway;
let client: OpenAI;

beforeAll(async () => {
  anthropic = await startFakeAnthropic({ apiKey: 'anthropic-key' });
  gemini = await startFakeGemini({ apiKey: 'gemini-key' });
  fastllm = await startFakeOpenAi({ flavor: 'fastllm', loadedModel: 'Qwen/Qwen2.5-0.5B-Instruct' });
  gateway = await startTestGateway(
    `
version: 1
targets:
  claude: { kind: anthropic, url: ${anthropic.url}, api_key: "\${ANTHROPIC_KEY}", clearance: internal }
  gemini: { kind: gemini, url: ${gemini.url}, api_key: "\${GEMINI_KEY}", clearance: internal }
  node: { kind: fastllm, url: ${fastllm.url}, clearance: restricted }
models:
  claude-echo: { claude: echo }
  claude-tool: { claude: tool }
  gemini-echo: { gemini: echo }
  gemini-tool: { gemini: tool }
  local: { node: whatever-the-client-calls-it }
routes:
  - { match: { model: "claude-*" }, targets: [claude] }
  - { match: { model: "gemini-*" }, targets: [gemini] }
  - { match: { model: local }, targets: [node] }
`,
    { ANTHROPIC_KEY: 'anthropic-key', GEMINI_KEY: 'gemini-key' },
  );
  client = new OpenAI({ baseURL: gateway.baseURL, apiKey: 'dummy', maxRetries: 0 });
});

afterAll(async () => {
  await gateway?.close();
  await Promise.all([anthropic?.close(), gemini?.close(), fastllm?.close()]);
});

const weather: OpenAI.ChatCompletionTool[] = [
  {
    type: 'function',
    function: { name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
  },
];

describe.each([
  ['Anthropic', 'claude'],
  ['Gemini', 'gemini'],
])('%s target', (_name, prefix) => {
  it('answers chat with the system prompt and usage', async () => {
    const out = await client.chat.completions.create({
      model: `${prefix}-echo`,
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'hello from heddle' },
      ],
      max_tokens: 50,
    });
    expect(out.choices).toHaveLength(1);
    expect(out.choices[0]?.message.content).toContain('hello from heddle');
    expect(out.choices[0]?.finish_reason).toBe('stop');
    expect(out.usage?.prompt_tokens).toBeGreaterThan(0);
  });

  it('streams text to the openai SDK', async () => {
    const stream = await client.chat.completions.create({
      model: `${prefix}-echo`,
      messages: [{ role: 'user', content: 'stream me please' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let finish: string | null | undefined;
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toContain('stream me please');
    expect(finish).toBe('stop');
    expect(usage?.completion_tokens).toBeGreaterThan(0);
  });

  it('runs a tool loop: tool call out, tool result back, final answer', async () => {
    const first = await client.chat.completions.create({
      model: `${prefix}-tool`,
      messages: [{ role: 'user', content: 'weather in Paris?' }],
      tools: weather,
    });
    const call = first.choices[0]?.message.tool_calls?.[0];
    expect(first.choices[0]?.finish_reason).toBe('tool_calls');
    if (call?.type !== 'function') throw new Error('expected a function tool call');
    expect(call.function.name).toBe('get_weather');
    expect(JSON.parse(call.function.arguments)).toEqual({ city: 'Paris' });

    const second = await client.chat.completions.create({
      model: `${prefix}-tool`,
      messages: [
        { role: 'user', content: 'weather in Paris?' },
        first.choices[0]!.message,
        { role: 'tool', tool_call_id: call.id, content: '{"temp_c": 21}' },
      ],
      tools: weather,
    });
    expect(second.choices[0]?.message.content).toContain('tool result');
    expect(second.choices[0]?.message.content).toContain('21');
  });
});

describe('upstream FastLLM server', () => {
  it('sends the loaded model id whatever the alias maps to', async () => {
    const out = await client.chat.completions.create({ model: 'local', messages: [{ role: 'user', content: 'hi node' }] });
    expect(out.choices[0]?.message.content).toBe('echo: hi node');
    const chat = fastllm.requests.filter((r) => r.path === '/v1/chat/completions').at(-1);
    expect(chat?.body?.model).toBe('Qwen/Qwen2.5-0.5B-Instruct');
  });

  it('accepts a stream that ends without [DONE] and ends the client stream with [DONE]', async () => {
    const res = await fetch(`${gateway.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'local', messages: [{ role: 'user', content: 'a b' }], stream: true }),
    });
    const text = await res.text();
    expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
    expect(text).not.toContain('event: error');
  });

  it('normalizes {embedding: [...]} to OpenAI embeddings, float and base64', async () => {
    const floats = await client.embeddings.create({ model: 'local', input: ['ab', 'c d e'], encoding_format: 'float' });
    expect(floats.data.map((d) => d.embedding)).toEqual([
      [2, 1, 1],
      [5, 3, 1],
    ]);
    // The SDK's default asks for base64 and decodes it.
    const decoded = await client.embeddings.create({ model: 'local', input: 'abc' });
    expect(decoded.data[0]?.embedding).toEqual([3, 1, 1]);
  });
});
