import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatCompletionSchema, type ChatChunk } from '../../../src/dialects/openai/schema.js';
import { anthropicAdapter } from '../../../src/providers/anthropic/index.js';
import { fetchHttpSend, type HttpSend } from '../../../src/providers/http.js';
import type { CallContext } from '../../../src/providers/types.js';
import { chat, collect, failure } from '../../support/adapter-calls.js';
import { startFakeAnthropic, type FakeAnthropic } from '../../support/fake-anthropic.js';

let fake: FakeAnthropic;
beforeAll(async () => {
  fake = await startFakeAnthropic({ apiKey: 'sk-ant-test' });
});
afterAll(() => fake.close());

function ctx(model: string, http: HttpSend = fetchHttpSend()): CallContext {
  return {
    http,
    target: { name: 'claude', kind: 'anthropic', url: fake.url, apiKey: 'sk-ant-test', headers: {} },
    model,
    signal: new AbortController().signal,
  };
}

describe('anthropicAdapter over loopback HTTP', () => {
  it('sends the documented headers and body, and translates the answer', async () => {
    const before = fake.requests.length;
    const completion = await anthropicAdapter.chat(
      chat({ messages: [{ role: 'system', content: 'Be kind.' }, { role: 'user', content: 'Hello there' }] }),
      ctx('echo'),
    );
    expect(chatCompletionSchema.parse(completion)).toEqual(completion);
    expect(completion.choices[0]?.message.content).toBe('Hello there');
    expect(completion.choices[0]?.finish_reason).toBe('stop');
    expect(completion.usage?.completion_tokens).toBe(2);
    const recorded = fake.requests[before];
    expect(recorded?.path).toBe('/v1/messages');
    expect(recorded?.headers).toMatchObject({ 'x-api-key': 'sk-ant-test', 'anthropic-version': '2023-06-01', 'content-type': 'application/json' });
    expect(recorded?.body).toEqual({
      model: 'echo',
      max_tokens: 4096,
      system: 'Be kind.',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Hello there' }] }],
    });
  });

  it('completes a tool loop: tool_use out, tool_result back', async () => {
    const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
    const first = await anthropicAdapter.chat(chat({ tools, tool_choice: 'required' }), ctx('tool'));
    chatCompletionSchema.parse(first);
    const call = first.choices[0]?.message.tool_calls?.[0];
    expect(first.choices[0]?.finish_reason).toBe('tool_calls');
    expect(call?.function).toEqual({ name: 'get_weather', arguments: '{"city":"Paris"}' });
    const second = await anthropicAdapter.chat(
      chat({
        tools,
        messages: [
          { role: 'user', content: 'Weather?' },
          { role: 'assistant', content: null, tool_calls: [call] },
          { role: 'tool', tool_call_id: call?.id, content: '21C and sunny' },
        ],
      }),
      ctx('tool'),
    );
    expect(second.choices[0]?.message.content).toBe('tool result: 21C and sunny');
  });

  it('sends json_schema as structured outputs and reads the JSON text back', async () => {
    const before = fake.requests.length;
    const schema = { type: 'object', properties: { echo: { type: 'string' } }, required: ['echo'], additionalProperties: false };
    const completion = await anthropicAdapter.chat(chat({ response_format: { type: 'json_schema', json_schema: { name: 'e', schema } } }), ctx('json'));
    expect(JSON.parse(completion.choices[0]?.message.content ?? '')).toEqual({ echo: 'Hello there' });
    expect(fake.requests[before]?.body).toMatchObject({ output_config: { format: { type: 'json_schema', schema } } });
  });

  it('streams text with a usage chunk when include_usage is set', async () => {
    const stream = await anthropicAdapter.chatStream(chat({ stream: true, stream_options: { include_usage: true } }), ctx('echo'));
    const chunks = await collect(stream);
    expect(chunks[0]?.choices[0]?.delta.role).toBe('assistant');
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('Hello there');
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe('stop');
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { completion_tokens: 2 } });
  });

  it('streams a tool call whose argument fragments join into JSON', async () => {
    const tools = [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object', properties: { q: { type: 'string' }, n: { type: 'integer' } } } } }];
    const chunks = await collect(await anthropicAdapter.chatStream(chat({ stream: true, tools }), ctx('tool')));
    const calls = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    expect(calls[0]).toMatchObject({ index: 0, type: 'function', function: { name: 'lookup' } });
    expect(JSON.parse(calls.map((c) => c.function?.arguments ?? '').join(''))).toEqual({ q: 'Paris', n: 1 });
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('tool_calls');
  });

  it('relays a 429 with its message, Retry-After and retryability', async () => {
    const err = await failure(anthropicAdapter.chat(chat({}), ctx('error-429')));
    expect(err).toMatchObject({ status: 429, type: 'rate_limit_error', retryAfter: 1, retryable: true, target: 'claude' });
    expect(err.message).toContain('fake rate_limit_error');
  });

  it('relays 4xx and 5xx statuses, including before a stream starts', async () => {
    expect(await failure(anthropicAdapter.chat(chat({}), ctx('error-400')))).toMatchObject({ status: 400, retryable: false });
    expect(await failure(anthropicAdapter.chat(chat({}), ctx('error-529')))).toMatchObject({ status: 529 });
    const notFound = await failure(anthropicAdapter.chatStream(chat({ stream: true }), ctx('no-such-model')));
    expect(notFound.status).toBe(404);
    expect(notFound.message).toContain('model: no-such-model');
  });

  it('throws mid-stream on an error event, after the chunks before it', async () => {
    const seen: ChatChunk[] = [];
    const err = await failure(
      (async () => {
        for await (const chunk of await anthropicAdapter.chatStream(chat({ stream: true }), ctx('stream-error'))) seen.push(chunk);
      })(),
    );
    expect(seen.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('partial ');
    expect(err).toMatchObject({ status: 503, retryable: true });
    expect(err.message).toContain('overloaded_error');
  });

  it('throws when the connection drops mid-stream', async () => {
    const stream = await anthropicAdapter.chatStream(chat({ stream: true }), ctx('stream-break'));
    const err = await failure(collect(stream));
    expect(err).toMatchObject({ status: 502, code: 'upstream_invalid_response', target: 'claude' });
  });

  it('rejects temperature > 1 and n > 1 before calling upstream', async () => {
    const before = fake.requests.length;
    expect(await failure(anthropicAdapter.chat(chat({ temperature: 1.2 }), ctx('echo')))).toMatchObject({ status: 400, param: 'temperature' });
    expect(await failure(anthropicAdapter.chat(chat({ n: 3 }), ctx('echo')))).toMatchObject({ status: 400, param: 'n' });
    expect(fake.requests.length).toBe(before);
  });

  it('answers embeddings with a clear 400', async () => {
    const err = await failure(anthropicAdapter.embeddings({ model: 'x', input: 'hi' }, ctx('echo')));
    expect(err).toMatchObject({ status: 400, code: 'unsupported_operation' });
    expect(err.message).toContain('no embeddings API');
  });

  it('turns a malformed answer into a 502', async () => {
    const malformed: HttpSend = async () => ({
      status: 200,
      header: () => null,
      text: async () => JSON.stringify({ id: 'msg_1', type: 'message', role: 'assistant', content: 'not a list' }),
      chunks: async function* () {},
      discard: () => undefined,
    });
    expect(await failure(anthropicAdapter.chat(chat({}), ctx('echo', malformed)))).toMatchObject({ status: 502, code: 'upstream_invalid_response' });
  });
});
