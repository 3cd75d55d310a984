import { describe, expect, it } from 'vitest';
import { estimateTokens, fromCompletion, MessagesStreamTranslator, toCanonical } from '../../../src/dialects/anthropic/translate.js';
import { countTokensRequestSchema, messagesRequestSchema } from '../../../src/dialects/anthropic/wire.js';
import type { ChatChunk } from '../../../src/dialects/openai/schema.js';

// Anthropic Messages (inbound) <-> canonical, both ways, on fixtures shaped like what DeepFabric's anthropic
// provider and evaluation backend send.

const parse = (body: unknown) => messagesRequestSchema.parse(body);

describe('Messages request -> canonical', () => {
  it('DeepFabric generation: one user message, max_tokens, temperature, output_format', () => {
    const schema = { type: 'object', properties: { subtopics: { type: 'array', items: { type: 'string' } } }, required: ['subtopics'], additionalProperties: false };
    const req = toCanonical(parse({ model: 'claude', max_tokens: 16384, temperature: 0.7, messages: [{ role: 'user', content: 'topics' }], output_format: { type: 'json_schema', schema } }), 'claude');
    expect(req).toEqual({
      model: 'claude',
      max_tokens: 16384,
      temperature: 0.7,
      messages: [{ role: 'user', content: 'topics' }],
      response_format: { type: 'json_schema', json_schema: { name: 'output', schema, strict: true } },
    });
  });

  it('prefers the GA output_config.format, and maps tool_choice and stop_sequences', () => {
    const schema = { type: 'object' };
    const req = toCanonical(
      parse({
        model: 'c',
        max_tokens: 5,
        messages: [{ role: 'user', content: 'x' }],
        output_config: { format: { type: 'json_schema', schema } },
        tools: [{ name: 't', input_schema: { type: 'object' } }],
        tool_choice: { type: 'tool', name: 't', disable_parallel_tool_use: true },
        stop_sequences: ['END'],
        stream: true,
        metadata: { user_id: 'u1' },
      }),
      'c',
    );
    expect(req).toMatchObject({
      response_format: { type: 'json_schema', json_schema: { schema } },
      tool_choice: { type: 'function', function: { name: 't' } },
      parallel_tool_calls: false,
      stop: ['END'],
      stream: true,
      stream_options: { include_usage: true },
      user: 'u1',
    });
  });

  it('turns tool_result blocks into tool messages first, marking errors, and keeps images', () => {
    const req = toCanonical(
      parse({
        model: 'c',
        max_tokens: 5,
        system: 'sys',
        messages: [
          { role: 'assistant', content: [{ type: 'thinking', thinking: 'hm', signature: 's' }, { type: 'tool_use', id: 'toolu_1', name: 'f', input: {} }] },
          {
            role: 'user',
            content: [
              { type: 'text', text: 'look' },
              { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAA' } },
              { type: 'tool_result', tool_use_id: 'toolu_1', content: [{ type: 'text', text: 'boom' }], is_error: true },
            ],
          },
        ],
      }),
      'c',
    );
    expect(req.messages).toEqual([
      { role: 'system', content: 'sys' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'toolu_1', type: 'function', function: { name: 'f', arguments: '{}' } }] },
      { role: 'tool', tool_call_id: 'toolu_1', content: 'Error: boom' },
      { role: 'user', content: [{ type: 'text', text: 'look' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AAA' } }] },
    ]);
  });

  it('rejects what Anthropic itself rejects: no max_tokens, temperature over 1', () => {
    expect(messagesRequestSchema.safeParse({ model: 'c', messages: [{ role: 'user', content: 'x' }] }).success).toBe(false);
    expect(messagesRequestSchema.safeParse({ model: 'c', max_tokens: 1, temperature: 1.5, messages: [{ role: 'user', content: 'x' }] }).success).toBe(false);
  });
});

describe('canonical answer -> Messages', () => {
  it('text and tool_use blocks, stop reasons and usage', () => {
    const answer = fromCompletion(
      {
        id: 'chatcmpl-abc',
        object: 'chat.completion',
        created: 1,
        model: 'u',
        choices: [{ index: 0, message: { role: 'assistant', content: 'ok', tool_calls: [{ id: 'call_x', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }] }, finish_reason: 'tool_calls' }],
        usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
      },
      'claude',
    );
    expect(answer).toEqual({
      id: 'msg_abc',
      type: 'message',
      role: 'assistant',
      model: 'claude',
      content: [{ type: 'text', text: 'ok' }, { type: 'tool_use', id: 'toolu_x', name: 'f', input: { a: 1 } }],
      stop_reason: 'tool_use',
      stop_sequence: null,
      usage: { input_tokens: 3, output_tokens: 2, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
    });
  });

  it('streams message_start, ping, blocks, message_delta and message_stop in order', () => {
    const t = new MessagesStreamTranslator('claude');
    const base = { id: 'chatcmpl-1', object: 'chat.completion.chunk' as const, created: 1, model: 'u' };
    const chunks: ChatChunk[] = [
      { ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] },
      { ...base, choices: [{ index: 0, delta: { content: 'Hi' }, finish_reason: null }] },
      { ...base, choices: [{ index: 0, delta: { tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'f', arguments: '' } }] }, finish_reason: null }] },
      { ...base, choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '{}' } }] }, finish_reason: null }] },
      { ...base, choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] },
      { ...base, choices: [], usage: { prompt_tokens: 5, completion_tokens: 6, total_tokens: 11 } },
    ];
    const events = [...chunks.flatMap((c) => t.push(c)), ...t.end()];
    expect(events.map((e) => e.type)).toEqual([
      'message_start',
      'ping',
      'content_block_start',
      'content_block_delta',
      'content_block_stop',
      'content_block_start',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    expect(events[2]).toEqual({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
    expect(events[5]).toEqual({ type: 'content_block_start', index: 1, content_block: { type: 'tool_use', id: 'toolu_1', name: 'f', input: {} } });
    expect(events[6]).toEqual({ type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '{}' } });
    expect(events[8]).toEqual({ type: 'message_delta', delta: { stop_reason: 'tool_use', stop_sequence: null }, usage: { input_tokens: 5, output_tokens: 6 } });
  });

  it('estimates tokens for count_tokens', () => {
    expect(estimateTokens(countTokensRequestSchema.parse({ model: 'claude-3-haiku-20240307', messages: [{ role: 'user', content: 'test' }] }))).toBe(2);
  });
});
