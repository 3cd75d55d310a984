import { describe, expect, it } from 'vitest';
import { chatRequestSchema, type ChatRequest } from '../../../src/dialects/openai/schema.js';
import { HeddleError } from '../../../src/errors.js';
import { DEFAULT_MAX_TOKENS, JSON_OBJECT_INSTRUCTION, toAnthropicRequest } from '../../../src/providers/anthropic/request.js';

// Expected shapes follow https://docs.anthropic.com/en/api/messages (request body) and
// https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/implement-tool-use (tool_use / tool_result).

const request = (body: Record<string, unknown>): ChatRequest => chatRequestSchema.parse({ model: 'alias', ...body });

function rejects(body: Record<string, unknown>): HeddleError {
  try {
    toAnthropicRequest(request(body), 'claude-x');
  } catch (err) {
    if (err instanceof HeddleError) return err;
    throw err;
  }
  throw new Error('expected a HeddleError');
}

describe('toAnthropicRequest', () => {
  it('moves system and developer messages to the top-level system and defaults max_tokens', () => {
    const out = toAnthropicRequest(
      request({
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'developer', content: [{ type: 'text', text: 'Answer in French.' }] },
          { role: 'user', content: 'Hello' },
        ],
      }),
      'claude-sonnet-4-5',
    );
    expect(out).toEqual({
      model: 'claude-sonnet-4-5',
      max_tokens: DEFAULT_MAX_TOKENS,
      system: 'Be brief.\n\nAnswer in French.',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Hello' }] }],
    });
  });

  it('maps sampling parameters and prefers max_completion_tokens', () => {
    const out = toAnthropicRequest(
      request({
        messages: [{ role: 'user', content: 'Hi' }],
        max_tokens: 50,
        max_completion_tokens: 100,
        temperature: 0.7,
        top_p: 0.9,
        stop: 'END',
        user: 'u-1',
        stream: true,
        seed: 3,
      }),
      'claude-x',
    );
    expect(out).toMatchObject({ max_tokens: 100, temperature: 0.7, top_p: 0.9, stop_sequences: ['END'], metadata: { user_id: 'u-1' }, stream: true });
    expect(out).not.toHaveProperty('seed');
    expect(toAnthropicRequest(request({ messages: [{ role: 'user', content: 'Hi' }], stop: ['a', 'b'] }), 'm').stop_sequences).toEqual(['a', 'b']);
  });

  it('rejects temperature above 1 instead of clamping, naming the parameter', () => {
    const err = rejects({ messages: [{ role: 'user', content: 'Hi' }], temperature: 1.5 });
    expect(err.status).toBe(400);
    expect(err.param).toBe('temperature');
    expect(err.message).toContain('0 to 1');
    expect(toAnthropicRequest(request({ messages: [{ role: 'user', content: 'Hi' }], temperature: 1 }), 'm').temperature).toBe(1);
  });

  it('rejects n > 1 naming n', () => {
    const err = rejects({ messages: [{ role: 'user', content: 'Hi' }], n: 2 });
    expect([err.status, err.param]).toEqual([400, 'n']);
    expect(() => toAnthropicRequest(request({ messages: [{ role: 'user', content: 'Hi' }], n: 1 }), 'm')).not.toThrow();
  });

  it('translates images: data URLs to base64 sources, http URLs to url sources', () => {
    const out = toAnthropicRequest(
      request({
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'What is in these?' },
              { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
              { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg', detail: 'high' } },
            ],
          },
        ],
      }),
      'm',
    );
    expect(out.messages[0]?.content).toEqual([
      { type: 'text', text: 'What is in these?' },
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
      { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
    ]);
  });

  it('rejects unsupported content parts and image URLs with the path as param', () => {
    const audio = rejects({ messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } }] }] });
    expect(audio.param).toBe('messages[0].content[0].type');
    const ftp = rejects({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'ftp://x/y.png' } }] }] });
    expect(ftp.param).toBe('messages[0].content[0].image_url.url');
  });

  it('turns tool calls into tool_use blocks and merges consecutive tool results into one user turn', () => {
    const out = toAnthropicRequest(
      request({
        messages: [
          { role: 'user', content: 'Weather in Paris and Rome?' },
          {
            role: 'assistant',
            content: 'Checking.',
            tool_calls: [
              { id: 'toolu_01', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
              { id: 'toolu_02', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Rome"}' } },
            ],
          },
          { role: 'tool', tool_call_id: 'toolu_01', content: '18C' },
          { role: 'tool', tool_call_id: 'toolu_02', content: [{ type: 'text', text: '24C' }] },
          { role: 'user', content: 'Thanks, which is warmer?' },
        ],
      }),
      'm',
    );
    expect(out.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'Weather in Paris and Rome?' }] },
      {
        role: 'assistant',
        content: [
          { type: 'text', text: 'Checking.' },
          { type: 'tool_use', id: 'toolu_01', name: 'get_weather', input: { city: 'Paris' } },
          { type: 'tool_use', id: 'toolu_02', name: 'get_weather', input: { city: 'Rome' } },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'toolu_01', content: '18C' },
          { type: 'tool_result', tool_use_id: 'toolu_02', content: [{ type: 'text', text: '24C' }] },
          { type: 'text', text: 'Thanks, which is warmer?' },
        ],
      },
    ]);
  });

  it('merges consecutive same-role messages and drops empty assistant content', () => {
    const out = toAnthropicRequest(
      request({
        messages: [
          { role: 'user', content: 'one' },
          { role: 'user', content: 'two' },
          { role: 'assistant', content: null, tool_calls: [{ id: 't1', type: 'function', function: { name: 'f', arguments: '' } }] },
          { role: 'tool', tool_call_id: 't1', content: 'ok' },
        ],
      }),
      'm',
    );
    expect(out.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(out.messages[0]?.content).toHaveLength(2);
    expect(out.messages[1]?.content).toEqual([{ type: 'tool_use', id: 't1', name: 'f', input: {} }]);
  });

  it('puts tool_result blocks first in a merged user turn', () => {
    const out = toAnthropicRequest(
      request({
        messages: [
          { role: 'user', content: 'x' },
          { role: 'assistant', tool_calls: [{ id: 't1', type: 'function', function: { name: 'f', arguments: '{}' } }] },
          { role: 'user', content: 'also this' },
          { role: 'tool', tool_call_id: 't1', content: 'ok' },
        ],
      }),
      'm',
    );
    expect(out.messages[2]?.content.map((b) => b.type)).toEqual(['tool_result', 'text']);
  });

  it('rejects tool call arguments that are not a JSON object', () => {
    const err = rejects({
      messages: [
        { role: 'user', content: 'x' },
        { role: 'assistant', tool_calls: [{ id: 't', type: 'function', function: { name: 'f', arguments: '[1,2' } }] },
      ],
    });
    expect(err.param).toBe('messages[1].tool_calls[0].function.arguments');
  });

  it('translates tools and every tool_choice, with parallel_tool_calls false', () => {
    const tools = [
      { type: 'function', function: { name: 'get_weather', description: 'Weather by city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] }, strict: true } },
      { type: 'function', function: { name: 'now' } },
    ];
    const base = { messages: [{ role: 'user', content: 'x' }], tools };
    const out = toAnthropicRequest(request(base), 'm');
    expect(out.tools).toEqual([
      { name: 'get_weather', description: 'Weather by city', input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] }, strict: true },
      { name: 'now', input_schema: { type: 'object', properties: {} } },
    ]);
    expect(out.tool_choice).toBeUndefined();
    const choice = (extra: Record<string, unknown>) => toAnthropicRequest(request({ ...base, ...extra }), 'm').tool_choice;
    expect(choice({ tool_choice: 'auto' })).toBeUndefined();
    expect(choice({ tool_choice: 'none' })).toEqual({ type: 'none' });
    expect(choice({ tool_choice: 'required' })).toEqual({ type: 'any' });
    expect(choice({ tool_choice: { type: 'function', function: { name: 'now' } } })).toEqual({ type: 'tool', name: 'now' });
    expect(choice({ parallel_tool_calls: false })).toEqual({ type: 'auto', disable_parallel_tool_use: true });
    expect(choice({ tool_choice: 'required', parallel_tool_calls: false })).toEqual({ type: 'any', disable_parallel_tool_use: true });
    // No tools: no tool_choice, which Anthropic would reject.
    expect(toAnthropicRequest(request({ messages: [{ role: 'user', content: 'x' }], tool_choice: 'required' }), 'm').tool_choice).toBeUndefined();
  });

  it('maps json_schema to structured outputs and json_object to a system instruction', () => {
    const schema = { type: 'object', properties: { a: { type: 'string' } }, required: ['a'], additionalProperties: false };
    const withSchema = toAnthropicRequest(
      request({ messages: [{ role: 'user', content: 'x' }], response_format: { type: 'json_schema', json_schema: { name: 'thing', schema, strict: true } } }),
      'm',
    );
    expect(withSchema.output_config).toEqual({ format: { type: 'json_schema', schema } });
    expect(withSchema.system).toBeUndefined();

    const jsonObject = toAnthropicRequest(
      request({ messages: [{ role: 'system', content: 'Be terse.' }, { role: 'user', content: 'x' }], response_format: { type: 'json_object' } }),
      'm',
    );
    expect(jsonObject.output_config).toBeUndefined();
    expect(jsonObject.system).toBe(`Be terse.\n\n${JSON_OBJECT_INSTRUCTION}`);
  });
});
