import { describe, expect, it } from 'vitest';
import type { ChatChunk } from '../../../src/dialects/openai/schema.js';
import { HeddleError } from '../../../src/errors.js';
import { finishReason, fromGeminiAnswer } from '../../../src/providers/gemini/answer.js';
import { fromGeminiEmbeddings, toBase64Floats } from '../../../src/providers/gemini/embeddings.js';
import { GeminiStreamTranslator } from '../../../src/providers/gemini/stream.js';
import { geminiAnswerSchema, geminiEmbeddingsAnswerSchema } from '../../../src/providers/gemini/wire.js';
import { sseBatches } from '../../../src/stream/sse.js';

// Fixtures written after the response examples in https://ai.google.dev/api/generate-content
// (GenerateContentResponse, Candidate, UsageMetadata) and the function calling guide
// https://ai.google.dev/gemini-api/docs/function-calling.

const ids = () => {
  let n = 0;
  return (prefix: string) => `${prefix}${++n}`;
};

const textAnswer = {
  candidates: [
    {
      content: { parts: [{ text: 'The quick brown fox jumps over the lazy dog.' }], role: 'model' },
      finishReason: 'STOP',
      avgLogprobs: -0.0234,
    },
  ],
  usageMetadata: {
    promptTokenCount: 8,
    candidatesTokenCount: 10,
    totalTokenCount: 40,
    thoughtsTokenCount: 22,
    promptTokensDetails: [{ modality: 'TEXT', tokenCount: 8 }],
  },
  modelVersion: 'gemini-2.5-flash',
  responseId: 'mAitaLmkHPPlz7IPvtfUqQ4',
};

const functionAnswer = {
  candidates: [
    {
      content: {
        role: 'model',
        parts: [
          { functionCall: { name: 'set_light_values', args: { brightness: 25, color_temp: 'warm' } }, thoughtSignature: 'CiQB0e2Kb1' },
          { functionCall: { name: 'get_time', args: {} } },
        ],
      },
      finishReason: 'STOP',
      index: 0,
    },
  ],
  usageMetadata: { promptTokenCount: 90, candidatesTokenCount: 12, totalTokenCount: 102 },
  modelVersion: 'gemini-2.5-flash',
};

describe('fromGeminiAnswer', () => {
  it('translates text, finishReason and usage (thinking tokens counted as completion)', () => {
    expect(fromGeminiAnswer(geminiAnswerSchema.parse(textAnswer), { model: 'g', target: 'gemini', created: 1700000000, newId: ids() })).toEqual({
      id: 'mAitaLmkHPPlz7IPvtfUqQ4',
      object: 'chat.completion',
      created: 1700000000,
      model: 'gemini-2.5-flash',
      choices: [{ index: 0, message: { role: 'assistant', content: 'The quick brown fox jumps over the lazy dog.' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 8, completion_tokens: 32, total_tokens: 40, completion_tokens_details: { reasoning_tokens: 22 } },
    });
  });

  it('turns functionCall parts into tool calls with generated ids and the thought signature', () => {
    const completion = fromGeminiAnswer(geminiAnswerSchema.parse(functionAnswer), { model: 'g', target: 'gemini', newId: ids() });
    expect(completion.choices[0]).toEqual({
      index: 0,
      message: {
        role: 'assistant',
        content: null,
        tool_calls: [
          { id: 'call_1', type: 'function', function: { name: 'set_light_values', arguments: '{"brightness":25,"color_temp":"warm"}' }, extra_content: { google: { thought_signature: 'CiQB0e2Kb1' } } },
          { id: 'call_2', type: 'function', function: { name: 'get_time', arguments: '{}' } },
        ],
      },
      finish_reason: 'tool_calls',
    });
    expect(completion.id).toBe('chatcmpl-3');
  });

  it('maps several candidates to choices and skips thought parts', () => {
    const answer = geminiAnswerSchema.parse({
      candidates: [
        { content: { role: 'model', parts: [{ text: 'plan...', thought: true }, { text: 'A' }] }, finishReason: 'STOP', index: 0 },
        { content: { role: 'model', parts: [{ text: 'B' }] }, finishReason: 'MAX_TOKENS', index: 1 },
        { finishReason: 'SAFETY', index: 2 },
      ],
    });
    const choices = fromGeminiAnswer(answer, { model: 'g', target: 'gemini' }).choices;
    expect(choices.map((c) => [c.index, c.message.content, c.finish_reason])).toEqual([
      [0, 'A', 'stop'],
      [1, 'B', 'length'],
      [2, null, 'content_filter'],
    ]);
  });

  it('maps finish reasons', () => {
    expect(['STOP', 'MAX_TOKENS', 'SAFETY', 'RECITATION', 'BLOCKLIST', 'PROHIBITED_CONTENT', 'SPII', 'OTHER'].map((r) => finishReason(r, false))).toEqual([
      'stop', 'length', 'content_filter', 'content_filter', 'content_filter', 'content_filter', 'content_filter', 'stop',
    ]);
    expect(finishReason('STOP', true)).toBe('tool_calls');
    expect(finishReason(undefined, false)).toBeNull();
  });

  it('throws a clear error when the prompt was blocked', () => {
    const blocked = geminiAnswerSchema.parse({ promptFeedback: { blockReason: 'SAFETY', safetyRatings: [] }, usageMetadata: { promptTokenCount: 5, totalTokenCount: 5 } });
    let caught: unknown;
    try {
      fromGeminiAnswer(blocked, { model: 'g', target: 'gemini' });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(HeddleError);
    expect(caught).toMatchObject({ status: 400, code: 'content_filter', target: 'gemini' });
    expect((caught as HeddleError).message).toContain('SAFETY');
  });
});

// The alt=sse stream example: each event a whole GenerateContentResponse, CRLF line ends
// (https://ai.google.dev/api/generate-content#method:-models.streamgeneratecontent).
const textStream = [
  { candidates: [{ content: { parts: [{ text: 'The' }], role: 'model' }, index: 0 }], usageMetadata: { promptTokenCount: 8, totalTokenCount: 8 }, modelVersion: 'gemini-2.5-flash', responseId: 'r1' },
  { candidates: [{ content: { parts: [{ text: ' quick brown fox' }], role: 'model' }, index: 0 }], usageMetadata: { promptTokenCount: 8, totalTokenCount: 8 }, modelVersion: 'gemini-2.5-flash', responseId: 'r1' },
  { candidates: [{ content: { parts: [{ text: ' jumps.' }], role: 'model' }, finishReason: 'STOP', index: 0 }], usageMetadata: { promptTokenCount: 8, candidatesTokenCount: 6, totalTokenCount: 14 }, modelVersion: 'gemini-2.5-flash', responseId: 'r1' },
]
  .map((e) => `data: ${JSON.stringify(e)}\r\n\r\n`)
  .join('');

async function translate(text: string, includeUsage: boolean): Promise<ChatChunk[]> {
  const bytes = new TextEncoder().encode(text);
  async function* pieces() {
    for (let i = 0; i < bytes.length; i += 5) yield bytes.subarray(i, i + 5);
  }
  const t = new GeminiStreamTranslator({ includeUsage, model: 'g', target: 'gemini', created: 1, newId: ids() });
  const out: ChatChunk[] = [];
  for await (const batch of sseBatches(pieces())) {
    for (const event of batch) out.push(...t.push(geminiAnswerSchema.parse(JSON.parse(event.data))));
  }
  out.push(...t.end());
  return out;
}

describe('GeminiStreamTranslator', () => {
  it('turns text events into role, content, finish and usage chunks', async () => {
    const chunks = await translate(textStream, true);
    expect(chunks.every((c) => c.id === 'r1' && c.model === 'gemini-2.5-flash')).toBe(true);
    expect(chunks.map((c) => [c.choices[0]?.delta ?? null, c.choices[0]?.finish_reason ?? null])).toEqual([
      [{ role: 'assistant', content: '' }, null],
      [{ content: 'The' }, null],
      [{ content: ' quick brown fox' }, null],
      [{ content: ' jumps.' }, null],
      [{}, 'stop'],
      [null, null],
    ]);
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 8, completion_tokens: 6, total_tokens: 14 } });
    expect(await translate(textStream, false)).toHaveLength(5);
  });

  it('emits each function call as one complete tool call delta and finishes with tool_calls', async () => {
    const chunks = await translate(`data: ${JSON.stringify(functionAnswer)}\r\n\r\n`, false);
    const calls = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    expect(calls).toEqual([
      { index: 0, id: 'call_2', type: 'function', function: { name: 'set_light_values', arguments: '{"brightness":25,"color_temp":"warm"}' }, extra_content: { google: { thought_signature: 'CiQB0e2Kb1' } } },
      { index: 1, id: 'call_3', type: 'function', function: { name: 'get_time', arguments: '{}' } },
    ]);
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('tool_calls');
  });

  it('streams several candidates by index', async () => {
    const event = { candidates: [0, 1].map((index) => ({ content: { role: 'model', parts: [{ text: `c${index}` }] }, finishReason: 'STOP', index })) };
    const chunks = await translate(`data: ${JSON.stringify(event)}\r\n\r\n`, false);
    expect(chunks.filter((c) => c.choices[0]?.finish_reason === 'stop').map((c) => c.choices[0]?.index)).toEqual([0, 1]);
    expect(chunks.filter((c) => c.choices[0]?.delta.content).map((c) => [c.choices[0]?.index, c.choices[0]?.delta.content])).toEqual([[0, 'c0'], [1, 'c1']]);
  });

  it('throws when the stream ends before a finishReason', async () => {
    const cut = textStream.slice(0, textStream.lastIndexOf('data:'));
    await expect(translate(cut, false)).rejects.toMatchObject({ status: 502, code: 'upstream_invalid_response' });
  });
});

describe('fromGeminiEmbeddings', () => {
  const answer = geminiEmbeddingsAnswerSchema.parse({ embeddings: [{ values: [0.5, -1] }, { values: [0.25, 2] }] });

  it('returns an OpenAI embeddings list', () => {
    expect(fromGeminiEmbeddings(answer, 'gemini-embedding-001')).toEqual({
      object: 'list',
      data: [
        { object: 'embedding', index: 0, embedding: [0.5, -1] },
        { object: 'embedding', index: 1, embedding: [0.25, 2] },
      ],
      model: 'gemini-embedding-001',
      usage: { prompt_tokens: 0, total_tokens: 0 },
    });
  });

  it('encodes base64 as little-endian float32, as OpenAI does', () => {
    const b64 = toBase64Floats([0.5, -1]);
    const floats = new Float32Array(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)).buffer);
    expect([...floats]).toEqual([0.5, -1]);
    expect(fromGeminiEmbeddings(answer, 'm', 'base64').data[0]?.embedding).toBe(b64);
  });
});
