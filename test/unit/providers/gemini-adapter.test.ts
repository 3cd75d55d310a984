import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatCompletionSchema, type ChatChunk } from '../../../src/dialects/openai/schema.js';
import { geminiAdapter } from '../../../src/providers/gemini/index.js';
import { fetchHttpSend, type HttpSend } from '../../../src/providers/http.js';
import type { CallContext } from '../../../src/providers/types.js';
import { chat, collect, failure } from '../../support/adapter-calls.js';
import { startFakeGemini, type FakeGemini } from '../../support/fake-gemini.js';

let fake: FakeGemini;
beforeAll(async () => {
  fake = await startFakeGemini({ apiKey: 'AIza-test' });
});
afterAll(() => fake.close());

function ctx(model: string, http: HttpSend = fetchHttpSend()): CallContext {
  return {
    http,
    target: { name: 'gemini', kind: 'gemini', url: fake.url, apiKey: 'AIza-test', headers: {} },
    model,
    signal: new AbortController().signal,
  };
}

describe('geminiAdapter over loopback HTTP', () => {
  it('posts generateContent with the API key header and translates the answer', async () => {
    const before = fake.requests.length;
    const completion = await geminiAdapter.chat(
      chat({ messages: [{ role: 'system', content: 'Be kind.' }, { role: 'user', content: 'Hello there' }], temperature: 0.3 }),
      ctx('echo'),
    );
    expect(chatCompletionSchema.parse(completion)).toEqual(completion);
    expect(completion.choices[0]?.message.content).toBe('Hello there');
    expect(completion.choices[0]?.finish_reason).toBe('stop');
    expect(completion.usage).toMatchObject({ completion_tokens: 2 });
    const recorded = fake.requests[before];
    expect(recorded?.path).toBe('/v1beta/models/echo:generateContent');
    expect(recorded?.headers).toMatchObject({ 'x-goog-api-key': 'AIza-test', 'content-type': 'application/json' });
    expect(recorded?.body).toEqual({
      contents: [{ role: 'user', parts: [{ text: 'Hello there' }] }],
      systemInstruction: { parts: [{ text: 'Be kind.' }] },
      generationConfig: { temperature: 0.3 },
    });
  });

  it('accepts model ids written as models/<id>', async () => {
    const before = fake.requests.length;
    await geminiAdapter.chat(chat({}), ctx('models/echo'));
    expect(fake.requests[before]?.path).toBe('/v1beta/models/echo:generateContent');
  });

  it('completes a tool loop, carrying the thought signature back', async () => {
    const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
    const first = await geminiAdapter.chat(chat({ tools, tool_choice: { type: 'function', function: { name: 'get_weather' } } }), ctx('tool'));
    chatCompletionSchema.parse(first);
    const call = first.choices[0]?.message.tool_calls?.[0];
    expect(first.choices[0]?.finish_reason).toBe('tool_calls');
    expect(call?.function).toEqual({ name: 'get_weather', arguments: '{"city":"Paris"}' });
    const before = fake.requests.length;
    const second = await geminiAdapter.chat(
      chat({
        tools,
        messages: [
          { role: 'user', content: 'Weather?' },
          { role: 'assistant', content: null, tool_calls: [call] },
          { role: 'tool', tool_call_id: call?.id, content: '{"temp":21}' },
        ],
      }),
      ctx('tool'),
    );
    expect(second.choices[0]?.message.content).toBe('tool result: {"temp":21}');
    const sent = fake.requests[before]?.body as { contents: Array<{ parts: Array<Record<string, unknown>> }> };
    expect(sent.contents[1]?.parts[0]?.thoughtSignature).toMatch(/^sig-/);
  });

  it('returns n candidates as n choices', async () => {
    const completion = await geminiAdapter.chat(chat({ n: 2 }), ctx('echo'));
    expect(completion.choices.map((c) => [c.index, c.message.content])).toEqual([[0, 'Hello there'], [1, 'Hello there']]);
  });

  it('sends json_schema as responseJsonSchema', async () => {
    const before = fake.requests.length;
    const schema = { type: 'object', properties: { echo: { type: 'string' } } };
    const completion = await geminiAdapter.chat(chat({ response_format: { type: 'json_schema', json_schema: { name: 'e', schema } } }), ctx('json'));
    expect(JSON.parse(completion.choices[0]?.message.content ?? '')).toEqual({ echo: 'Hello there' });
    expect(fake.requests[before]?.body).toMatchObject({ generationConfig: { responseMimeType: 'application/json', responseJsonSchema: schema } });
  });

  it('streams over alt=sse with a usage chunk when include_usage is set', async () => {
    const before = fake.requests.length;
    const chunks = await collect(await geminiAdapter.chatStream(chat({ stream: true, stream_options: { include_usage: true } }), ctx('echo')));
    expect(fake.requests[before]?.path).toBe('/v1beta/models/echo:streamGenerateContent?alt=sse');
    expect(fake.requests[before]?.body).not.toHaveProperty('stream');
    expect(chunks[0]?.choices[0]?.delta.role).toBe('assistant');
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('Hello there');
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe('stop');
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { completion_tokens: 2 } });
  });

  it('streams a function call as one complete tool call delta', async () => {
    const tools = [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object', properties: { q: { type: 'string' } } } } }];
    const chunks = await collect(await geminiAdapter.chatStream(chat({ stream: true, tools }), ctx('tool')));
    const calls = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ index: 0, type: 'function', function: { name: 'lookup', arguments: '{"q":"Paris"}' } });
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('tool_calls');
  });

  it('relays a 429 with Google\'s message and Retry-After', async () => {
    const err = await failure(geminiAdapter.chat(chat({}), ctx('error-429')));
    expect(err).toMatchObject({ status: 429, type: 'rate_limit_error', retryAfter: 1, retryable: true, target: 'gemini' });
    expect(err.message).toContain('Resource has been exhausted');
  });

  it('relays 4xx and 5xx statuses, including before a stream starts', async () => {
    expect(await failure(geminiAdapter.chat(chat({}), ctx('error-400')))).toMatchObject({ status: 400, retryable: false });
    expect(await failure(geminiAdapter.chat(chat({}), ctx('error-503')))).toMatchObject({ status: 503, retryable: true });
    const notFound = await failure(geminiAdapter.chatStream(chat({ stream: true }), ctx('no-such-model')));
    expect(notFound.status).toBe(404);
    expect(notFound.message).toContain('models/no-such-model is not found');
  });

  it('reports a blocked prompt as a clear 400', async () => {
    const err = await failure(geminiAdapter.chat(chat({}), ctx('blocked')));
    expect(err).toMatchObject({ status: 400, code: 'content_filter' });
    const streamed = await failure(collect(await geminiAdapter.chatStream(chat({ stream: true }), ctx('blocked'))));
    expect(streamed).toMatchObject({ status: 400, code: 'content_filter' });
  });

  it('throws on an error sent mid-stream, after the chunks before it', async () => {
    const seen: ChatChunk[] = [];
    const err = await failure(
      (async () => {
        for await (const chunk of await geminiAdapter.chatStream(chat({ stream: true }), ctx('stream-error'))) seen.push(chunk);
      })(),
    );
    expect(seen.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('partial ');
    expect(err).toMatchObject({ status: 503, retryable: true });
    expect(err.message).toContain('overloaded');
  });

  it('throws when the connection drops mid-stream', async () => {
    const err = await failure(collect(await geminiAdapter.chatStream(chat({ stream: true }), ctx('stream-break'))));
    expect(err).toMatchObject({ status: 502, code: 'upstream_invalid_response', target: 'gemini' });
  });

  it('embeds through batchEmbedContents with dimensions', async () => {
    const before = fake.requests.length;
    const res = await geminiAdapter.embeddings({ model: 'alias', input: ['alpha', 'beta'], dimensions: 4 }, ctx('gemini-embedding-001'));
    expect(fake.requests[before]?.path).toBe('/v1beta/models/gemini-embedding-001:batchEmbedContents');
    expect(res.object).toBe('list');
    expect(res.model).toBe('gemini-embedding-001');
    expect(res.data.map((d) => [d.index, (d.embedding as number[]).length])).toEqual([[0, 4], [1, 4]]);
    const again = await geminiAdapter.embeddings({ model: 'alias', input: 'alpha', dimensions: 4 }, ctx('gemini-embedding-001'));
    expect(again.data[0]?.embedding).toEqual(res.data[0]?.embedding);
  });

  it('relays a wrong API key as the provider\'s 400', async () => {
    const wrong: CallContext = { ...ctx('echo'), target: { ...ctx('echo').target, apiKey: 'bad' } };
    const err = await failure(geminiAdapter.chat(chat({}), wrong));
    expect(err.status).toBe(400);
    expect(err.message).toContain('API key not valid');
  });

  it('turns a malformed answer into a 502', async () => {
    const malformed: HttpSend = async () => ({
      status: 200,
      header: () => null,
      text: async () => JSON.stringify({ candidates: 'nope' }),
      chunks: async function* () {},
      discard: () => undefined,
    });
    expect(await failure(geminiAdapter.chat(chat({}), ctx('echo', malformed)))).toMatchObject({ status: 502, code: 'upstream_invalid_response' });
  });
});
