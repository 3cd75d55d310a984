import { describe, expect, it } from 'vitest';
import { chatFromCompletion, chatToCanonical, generateToCanonical, OllamaStreamTranslator } from '../../../src/dialects/ollama/translate.js';
import { ollamaChatRequestSchema, ollamaGenerateRequestSchema } from '../../../src/dialects/ollama/wire.js';
import type { ChatChunk, ChatCompletion } from '../../../src/dialects/openai/schema.js';

// Ollama native wire <-> canonical, both ways, on fixtures shaped like what the `ollama` Python client sends.

const parseChat = (body: unknown) => ollamaChatRequestSchema.parse(body);

describe('Ollama request -> canonical', () => {
  it('maps options, format, tools and streams by default', () => {
    const req = chatToCanonical(
      parseChat({
        model: 'heddle-demo',
        messages: [{ role: 'user', content: 'hi' }],
        tools: [{ type: 'function', function: { name: 'get_weather', description: 'w', parameters: { type: 'object', properties: {} } } }],
        format: { type: 'object', properties: { a: { type: 'string' } } },
        options: { temperature: 0.7, num_predict: 2048, top_p: 0.9, seed: 3, stop: ['\n\n'], num_ctx: 4096 },
      }),
      'heddle-demo',
    );
    expect(req).toMatchObject({
      model: 'heddle-demo',
      temperature: 0.7,
      max_tokens: 2048,
      top_p: 0.9,
      seed: 3,
      stop: ['\n\n'],
      stream: true,
      stream_options: { include_usage: true },
      response_format: { type: 'json_schema', json_schema: { name: 'ollama_format', strict: true, schema: { type: 'object', properties: { a: { type: 'string' } } } } },
      tools: [{ type: 'function', function: { name: 'get_weather', description: 'w', parameters: { type: 'object', properties: {} } } }],
    });
  });

  it('treats num_predict -1 as no limit, "json" as json_object and stream:false as a JSON answer', () => {
    const req = chatToCanonical(parseChat({ model: 'm', messages: [{ role: 'user', content: 'x' }], format: 'json', options: { num_predict: -1 }, stream: false }), 'm');
    expect(req.max_tokens).toBeUndefined();
    expect(req.response_format).toEqual({ type: 'json_object' });
    expect(req.stream).toBe(false);
    expect(req.stream_options).toBeUndefined();
  });

  it('gives tool calls ids and pairs tool results by tool name', () => {
    const req = chatToCanonical(
      parseChat({
        model: 'm',
        stream: false,
        messages: [
          { role: 'user', content: 'time and weather' },
          { role: 'assistant', content: '', tool_calls: [{ function: { name: 'get_time', arguments: { tz: 'UTC' } } }, { function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }] },
          { role: 'tool', content: 'sunny', tool_name: 'get_weather' },
          { role: 'tool', content: '12:00', tool_name: 'get_time' },
        ],
      }),
      'm',
    );
    expect(req.messages).toEqual([
      { role: 'user', content: 'time and weather' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          { id: 'call_0', type: 'function', function: { name: 'get_time', arguments: '{"tz":"UTC"}' } },
          { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
      { role: 'tool', tool_call_id: 'call_0', content: '12:00' },
    ]);
  });

  it('turns images into data URLs and /api/generate into system + user messages', () => {
    const req = chatToCanonical(parseChat({ model: 'm', messages: [{ role: 'user', content: 'what is this', images: ['iVBORw0KGgo='] }] }), 'm');
    expect(req.messages[0]).toEqual({
      role: 'user',
      content: [{ type: 'text', text: 'what is this' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } }],
    });
    const gen = generateToCanonical(ollamaGenerateRequestSchema.parse({ model: 'm', prompt: 'p', system: 's', stream: false }), 'm');
    expect(gen.messages).toEqual([{ role: 'system', content: 's' }, { role: 'user', content: 'p' }]);
  });
});

describe('canonical answer -> Ollama', () => {
  const completion: ChatCompletion = {
    id: 'chatcmpl-1',
    object: 'chat.completion',
    created: 1,
    model: 'upstream-id',
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: null, tool_calls: [{ id: 'call_9', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
        finish_reason: 'tool_calls',
      },
    ],
    usage: { prompt_tokens: 12, completion_tokens: 7, total_tokens: 19 },
  };

  it('answers with the client model name, object arguments, done_reason and counts', () => {
    expect(chatFromCompletion(completion, 'heddle-demo:latest', '2026-01-01T00:00:00Z', 2)).toEqual({
      model: 'heddle-demo:latest',
      created_at: '2026-01-01T00:00:00Z',
      message: { role: 'assistant', content: '', tool_calls: [{ id: 'call_9', function: { index: 0, name: 'get_weather', arguments: { city: 'Paris' } } }] },
      done: true,
      done_reason: 'stop',
      total_duration: 2_000_000,
      load_duration: 0,
      prompt_eval_count: 12,
      prompt_eval_duration: 0,
      eval_count: 7,
      eval_duration: 2_000_000,
    });
  });

  it('streams text as it comes and assembles tool-call fragments into one object before done', () => {
    const t = new OllamaStreamTranslator('m', () => 'T', 'chat');
    const base = { id: 'c', object: 'chat.completion.chunk' as const, created: 1, model: 'u' };
    const chunks: ChatChunk[] = [
      { ...base, choices: [{ index: 0, delta: { role: 'assistant', content: 'Hel' }, finish_reason: null }] },
      { ...base, choices: [{ index: 0, delta: { content: 'lo' }, finish_reason: null }] },
      { ...base, choices: [{ index: 0, delta: { tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'f', arguments: '{"a":' } }] }, finish_reason: null }] },
      { ...base, choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '1}' } }] }, finish_reason: null }] },
      { ...base, choices: [{ index: 0, delta: {}, finish_reason: 'length' }] },
      { ...base, choices: [], usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 } },
    ];
    const out = chunks.flatMap((c) => t.push(c));
    expect(out).toEqual([
      { model: 'm', created_at: 'T', done: false, message: { role: 'assistant', content: 'Hel' } },
      { model: 'm', created_at: 'T', done: false, message: { role: 'assistant', content: 'lo' } },
    ]);
    expect(t.end(1)).toEqual([
      { model: 'm', created_at: 'T', done: false, message: { role: 'assistant', content: '', tool_calls: [{ id: 'call_1', function: { index: 0, name: 'f', arguments: { a: 1 } } }] } },
      expect.objectContaining({ done: true, done_reason: 'length', prompt_eval_count: 3, eval_count: 4, message: { role: 'assistant', content: '' } }),
    ]);
  });
});
