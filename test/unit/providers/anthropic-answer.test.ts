import { describe, expect, it } from 'vitest';
import type { ChatChunk } from '../../../src/dialects/openai/schema.js';
import { HeddleError } from '../../../src/errors.js';
import { finishReason, fromAnthropicAnswer } from '../../../src/providers/anthropic/answer.js';
import { AnthropicStreamTranslator } from '../../../src/providers/anthropic/stream.js';
import { anthropicAnswerSchema, anthropicStreamEventSchema } from '../../../src/providers/anthropic/wire.js';
import { sseBatches } from '../../../src/stream/sse.js';

// Answer fixture after the example response in https://docs.anthropic.com/en/api/messages, with a tool_use
// block as in https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/implement-tool-use.
const toolAnswer = {
  id: 'msg_01Aq9w938a90dw8q',
  type: 'message',
  role: 'assistant',
  model: 'claude-sonnet-4-5-20250929',
  content: [
    { type: 'text', text: "I'll check the current weather in San Francisco for you." },
    { type: 'tool_use', id: 'toolu_01A09q90qw90lq917835lq9', name: 'get_weather', input: { location: 'San Francisco, CA', unit: 'celsius' } },
  ],
  stop_reason: 'tool_use',
  stop_sequence: null,
  usage: { input_tokens: 472, output_tokens: 89, cache_creation_input_tokens: 10, cache_read_input_tokens: 100 },
};

// Streaming fixtures after the "Basic streaming request" and "Streaming request with tool use" examples in
// https://docs.anthropic.com/en/docs/build-with-claude/streaming.
const textStream = `event: message_start
data: {"type": "message_start", "message": {"id": "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY", "type": "message", "role": "assistant", "content": [], "model": "claude-opus-4-20250514", "stop_reason": null, "stop_sequence": null, "usage": {"input_tokens": 25, "output_tokens": 1}}}

event: content_block_start
data: {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}

event: ping
data: {"type": "ping"}

event: content_block_delta
data: {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello"}}

event: content_block_delta
data: {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "!"}}

event: content_block_stop
data: {"type": "content_block_stop", "index": 0}

event: message_delta
data: {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence":null}, "usage": {"output_tokens": 15}}

event: message_stop
data: {"type": "message_stop"}

`;

const toolStream = `event: message_start
data: {"type":"message_start","message":{"id":"msg_014p7gG3wDgGV9EUtLvnow3U","type":"message","role":"assistant","model":"claude-opus-4-20250514","stop_sequence":null,"usage":{"input_tokens":472,"output_tokens":2},"content":[],"stop_reason":null}}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

event: ping
data: {"type": "ping"}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Okay"}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":", let's check the weather."}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: content_block_start
data: {"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_01T1x1fJ34qAmk2tNTrN7Up6","name":"get_weather","input":{}}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\\"location\\":"}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":" \\"San Francisco, CA\\", \\"unit\\": \\"fahrenheit\\"}"}}

event: content_block_stop
data: {"type":"content_block_stop","index":1}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":89}}

event: message_stop
data: {"type":"message_stop"}

`;

/** Feeds SSE text in awkward pieces (7 bytes) through the real SSE parser, then the translator. */
async function translate(text: string, includeUsage: boolean): Promise<ChatChunk[]> {
  const bytes = new TextEncoder().encode(text);
  async function* pieces() {
    for (let i = 0; i < bytes.length; i += 7) yield bytes.subarray(i, i + 7);
  }
  const translator = new AnthropicStreamTranslator({ includeUsage, target: 'claude', created: 1700000000 });
  const out: ChatChunk[] = [];
  for await (const batch of sseBatches(pieces())) {
    for (const event of batch) out.push(...translator.push(anthropicStreamEventSchema.parse(JSON.parse(event.data))));
  }
  expect(translator.done).toBe(true);
  return out;
}

describe('fromAnthropicAnswer', () => {
  it('translates text, tool_use, stop_reason and usage (cache tokens counted in prompt_tokens)', () => {
    const completion = fromAnthropicAnswer(anthropicAnswerSchema.parse(toolAnswer), 1700000000);
    expect(completion).toEqual({
      id: 'msg_01Aq9w938a90dw8q',
      object: 'chat.completion',
      created: 1700000000,
      model: 'claude-sonnet-4-5-20250929',
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: "I'll check the current weather in San Francisco for you.",
            tool_calls: [
              { id: 'toolu_01A09q90qw90lq917835lq9', type: 'function', function: { name: 'get_weather', arguments: '{"location":"San Francisco, CA","unit":"celsius"}' } },
            ],
          },
          finish_reason: 'tool_calls',
        },
      ],
      usage: { prompt_tokens: 582, completion_tokens: 89, total_tokens: 671, prompt_tokens_details: { cached_tokens: 100 } },
    });
  });

  it('joins text blocks, skips thinking blocks, and gives null content when there is no text', () => {
    const answer = anthropicAnswerSchema.parse({
      ...toolAnswer,
      content: [{ type: 'thinking', thinking: 'hmm', signature: 'sig' }, { type: 'text', text: 'a' }, { type: 'text', text: 'b' }],
      stop_reason: 'end_turn',
    });
    expect(fromAnthropicAnswer(answer).choices[0]?.message).toEqual({ role: 'assistant', content: 'ab' });
    const empty = anthropicAnswerSchema.parse({ ...toolAnswer, content: [], stop_reason: 'end_turn' });
    expect(fromAnthropicAnswer(empty).choices[0]?.message.content).toBeNull();
  });

  it('maps every stop_reason', () => {
    expect(finishReason('end_turn')).toBe('stop');
    expect(finishReason('stop_sequence')).toBe('stop');
    expect(finishReason('max_tokens')).toBe('length');
    expect(finishReason('tool_use')).toBe('tool_calls');
    expect(finishReason('refusal')).toBe('content_filter');
    expect(finishReason('pause_turn')).toBe('stop');
    expect(finishReason(null)).toBeNull();
  });
});

describe('AnthropicStreamTranslator', () => {
  it('turns a text stream into role, content and finish chunks, plus usage when asked', async () => {
    const chunks = await translate(textStream, true);
    expect(chunks.every((c) => c.id === 'msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY' && c.model === 'claude-opus-4-20250514' && c.object === 'chat.completion.chunk')).toBe(true);
    expect(chunks.map((c) => c.choices[0]?.delta ?? null)).toEqual([
      { role: 'assistant', content: '' },
      { content: 'Hello' },
      { content: '!' },
      {},
      null,
    ]);
    expect(chunks[3]?.choices[0]?.finish_reason).toBe('stop');
    expect(chunks[4]).toMatchObject({ choices: [], usage: { prompt_tokens: 25, completion_tokens: 15, total_tokens: 40 } });
    expect(await translate(textStream, false)).toHaveLength(4);
  });

  it('streams a tool call as id/name first, then argument fragments that join into the JSON input', async () => {
    const chunks = await translate(toolStream, false);
    const calls = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    expect(calls[0]).toEqual({ index: 0, id: 'toolu_01T1x1fJ34qAmk2tNTrN7Up6', type: 'function', function: { name: 'get_weather', arguments: '' } });
    expect(calls.slice(1).every((c) => c.index === 0 && c.id === undefined)).toBe(true);
    const args = calls.map((c) => c.function?.arguments ?? '').join('');
    expect(JSON.parse(args)).toEqual({ location: 'San Francisco, CA', unit: 'fahrenheit' });
    expect(chunks.map((c) => c.choices[0]?.delta.content).filter(Boolean).join('')).toBe("Okay, let's check the weather.");
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('tool_calls');
  });

  it('gives a tool called without arguments an empty JSON object', () => {
    const t = new AnthropicStreamTranslator({ includeUsage: false, target: 'claude' });
    t.push({ type: 'message_start', message: { id: 'm', model: 'c' } });
    t.push({ type: 'content_block_start', index: 0, content_block: { type: 'tool_use', id: 'toolu_1', name: 'now', input: {} } });
    expect(t.push({ type: 'content_block_stop', index: 0 })[0]?.choices[0]?.delta.tool_calls).toEqual([{ index: 0, function: { arguments: '{}' } }]);
  });

  it('numbers several tool calls from 0 whatever their block index', () => {
    const t = new AnthropicStreamTranslator({ includeUsage: false, target: 'claude' });
    t.push({ type: 'message_start', message: { id: 'm', model: 'c' } });
    t.push({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
    const a = t.push({ type: 'content_block_start', index: 1, content_block: { type: 'tool_use', id: 'a', name: 'f' } });
    const b = t.push({ type: 'content_block_start', index: 2, content_block: { type: 'tool_use', id: 'b', name: 'f' } });
    const frag = t.push({ type: 'content_block_delta', index: 2, delta: { type: 'input_json_delta', partial_json: '{}' } });
    expect(a[0]?.choices[0]?.delta.tool_calls?.[0]?.index).toBe(0);
    expect(b[0]?.choices[0]?.delta.tool_calls?.[0]?.index).toBe(1);
    expect(frag[0]?.choices[0]?.delta.tool_calls?.[0]).toEqual({ index: 1, function: { arguments: '{}' } });
  });

  it('throws a HeddleError on an error event (https://docs.anthropic.com/en/docs/build-with-claude/streaming#error-events)', () => {
    const t = new AnthropicStreamTranslator({ includeUsage: false, target: 'claude' });
    t.push({ type: 'message_start', message: { id: 'm', model: 'c' } });
    let caught: unknown;
    try {
      t.push({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(HeddleError);
    expect(caught).toMatchObject({ status: 503, retryable: true, target: 'claude' });
    expect((caught as HeddleError).message).toContain('Overloaded');
  });
});
