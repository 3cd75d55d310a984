import { describe, expect, it } from 'vitest';
import { ChunkAssembler, isComplete, replayChunks } from '../../../src/cache/answer.js';
import type { ChatChunk, ChatCompletion } from '../../../src/dialects/openai/schema.js';

const head = { id: 'chatcmpl-9', object: 'chat.completion.chunk' as const, created: 5, model: 'm', system_fingerprint: 'fp1' };
const c = (choices: ChatChunk['choices'], extra: Partial<ChatChunk> = {}): ChatChunk => ({ ...head, choices, ...extra });

describe('assembling and replaying an answer', () => {
  it('assembles content, tool calls, finish reason and usage, and replays them in OpenAI order', () => {
    const a = new ChunkAssembler();
    const chunks = [
      c([{ index: 0, delta: { role: 'assistant', content: null }, finish_reason: null }]),
      c([{ index: 0, delta: { tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'get', arguments: '' } }] }, finish_reason: null }]),
      c([{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '{"a":' } }] }, finish_reason: null }]),
      c([{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '1}' } }] }, finish_reason: null }]),
      c([{ index: 0, delta: {}, finish_reason: 'tool_calls' }]),
      c([], { usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 } }),
    ];
    for (const chunk of chunks) a.add(chunk);
    const completion = a.completion() as ChatCompletion;
    expect(isComplete(completion)).toBe(true);
    expect(completion).toMatchObject({
      id: 'chatcmpl-9',
      object: 'chat.completion',
      system_fingerprint: 'fp1',
      choices: [{ message: { content: null, tool_calls: [{ id: 'call_1', function: { name: 'get', arguments: '{"a":1}' } }] }, finish_reason: 'tool_calls' }],
      usage: { total_tokens: 7 },
    });
    // Replaying and assembling again gives the same completion.
    const again = new ChunkAssembler();
    for (const chunk of replayChunks(completion)) again.add(chunk);
    expect(again.completion()).toEqual(completion);
    const replay = replayChunks(completion);
    expect(replay[0]?.choices[0]?.delta).toEqual({ role: 'assistant', content: null });
    expect(replay.at(-1)).toMatchObject({ choices: [], usage: { total_tokens: 7 } });
  });

  it('replays text as role, content and finish chunks; several choices in order', () => {
    const completion: ChatCompletion = {
      id: 'x', object: 'chat.completion', created: 1, model: 'm',
      choices: [0, 1].map((index) => ({ index, message: { role: 'assistant' as const, content: `answer ${index}`, refusal: null }, finish_reason: 'stop' as const, logprobs: null })),
    };
    const replay = replayChunks(completion);
    expect(replay.map((r) => [r.choices[0]?.index, r.choices[0]?.delta.content, r.choices[0]?.finish_reason])).toEqual([
      [0, '', null], [0, 'answer 0', null], [0, undefined, 'stop'],
      [1, '', null], [1, 'answer 1', null], [1, undefined, 'stop'],
    ]);
    const a = new ChunkAssembler();
    for (const chunk of replay) a.add(chunk);
    expect(a.completion()).toEqual(completion);
  });

  it('marks a stream without finish_reason incomplete, and streamed logprobs unstorable', () => {
    const a = new ChunkAssembler();
    a.add(c([{ index: 0, delta: { role: 'assistant', content: 'Hel' }, finish_reason: null }]));
    a.add(c([{ index: 0, delta: { content: 'lo' }, finish_reason: null }]));
    expect(a.completion()?.choices[0]?.message.content).toBe('Hello');
    expect(isComplete(a.completion() as ChatCompletion)).toBe(false);
    const b = new ChunkAssembler();
    b.add(c([{ index: 0, delta: { content: 'x' }, finish_reason: 'stop', logprobs: { content: [] } }]));
    expect(b.storable).toBe(false);
  });
});
