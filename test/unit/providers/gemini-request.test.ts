import { describe, expect, it } from 'vitest';
import { chatRequestSchema, embeddingsRequestSchema, type ChatRequest } from '../../../src/dialects/openai/schema.js';
import { HeddleError } from '../../../src/errors.js';
import { toGeminiEmbedRequest } from '../../../src/providers/gemini/embeddings.js';
import { DUMMY_THOUGHT_SIGNATURE, toGeminiRequest } from '../../../src/providers/gemini/request.js';

// Expected shapes follow https://ai.google.dev/api/generate-content (GenerateContentRequest, GenerationConfig),
// https://ai.google.dev/api/caching#Tool (FunctionDeclaration.parametersJsonSchema, ToolConfig) and
// https://ai.google.dev/api/embeddings#method:-models.batchembedcontents.

const request = (body: Record<string, unknown>): ChatRequest => chatRequestSchema.parse({ model: 'alias', ...body });

function rejects(fn: () => unknown): HeddleError {
  try {
    fn();
  } catch (err) {
    if (err instanceof HeddleError) return err;
    throw err;
  }
  throw new Error('expected a HeddleError');
}

describe('toGeminiRequest', () => {
  it('maps system to systemInstruction and messages to user/model contents', () => {
    const out = toGeminiRequest(
      request({
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'Hi' },
          { role: 'assistant', content: 'Hello!' },
          { role: 'user', content: [{ type: 'text', text: 'Look:' }, { type: 'image_url', image_url: { url: 'data:image/jpeg;base64,/9j/4AAQ' } }] },
        ],
      }),
    );
    expect(out).toEqual({
      systemInstruction: { parts: [{ text: 'Be brief.' }] },
      contents: [
        { role: 'user', parts: [{ text: 'Hi' }] },
        { role: 'model', parts: [{ text: 'Hello!' }] },
        { role: 'user', parts: [{ text: 'Look:' }, { inlineData: { mimeType: 'image/jpeg', data: '/9j/4AAQ' } }] },
      ],
    });
  });

  it('maps generation parameters', () => {
    const out = toGeminiRequest(
      request({
        messages: [{ role: 'user', content: 'Hi' }],
        temperature: 1.5,
        top_p: 0.8,
        max_tokens: 64,
        stop: ['END'],
        n: 2,
        seed: 42,
        presence_penalty: 0.5,
        frequency_penalty: 0.25,
      }),
    );
    expect(out.generationConfig).toEqual({
      temperature: 1.5,
      topP: 0.8,
      maxOutputTokens: 64,
      stopSequences: ['END'],
      candidateCount: 2,
      seed: 42,
      presencePenalty: 0.5,
      frequencyPenalty: 0.25,
    });
    expect(toGeminiRequest(request({ messages: [{ role: 'user', content: 'Hi' }], max_tokens: 5, max_completion_tokens: 9 })).generationConfig).toEqual({ maxOutputTokens: 9 });
    expect(toGeminiRequest(request({ messages: [{ role: 'user', content: 'Hi' }] }))).not.toHaveProperty('generationConfig');
  });

  it('maps response_format to responseMimeType and responseJsonSchema', () => {
    const schema = { type: 'object', properties: { a: { type: 'integer' } } };
    expect(toGeminiRequest(request({ messages: [{ role: 'user', content: 'x' }], response_format: { type: 'json_object' } })).generationConfig).toEqual({
      responseMimeType: 'application/json',
    });
    expect(
      toGeminiRequest(request({ messages: [{ role: 'user', content: 'x' }], response_format: { type: 'json_schema', json_schema: { name: 'n', schema } } })).generationConfig,
    ).toEqual({ responseMimeType: 'application/json', responseJsonSchema: schema });
  });

  it('maps tool calls to functionCall parts and tool results to functionResponse parts named from the call', () => {
    const out = toGeminiRequest(
      request({
        messages: [
          { role: 'user', content: 'Weather in Paris and Rome?' },
          {
            role: 'assistant',
            content: null,
            tool_calls: [
              { id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' }, extra_content: { google: { thought_signature: 'SIG==' } } },
              { id: 'call_b', type: 'function', function: { name: 'get_time', arguments: '{"city":"Rome"}' } },
            ],
          },
          { role: 'tool', tool_call_id: 'call_a', content: '{"temp":18}' },
          { role: 'tool', tool_call_id: 'call_b', content: '10:00' },
        ],
      }),
    );
    expect(out.contents).toEqual([
      { role: 'user', parts: [{ text: 'Weather in Paris and Rome?' }] },
      {
        role: 'model',
        parts: [
          { functionCall: { name: 'get_weather', args: { city: 'Paris' } }, thoughtSignature: 'SIG==' },
          { functionCall: { name: 'get_time', args: { city: 'Rome' } } },
        ],
      },
      {
        role: 'user',
        parts: [
          { functionResponse: { name: 'get_weather', response: { temp: 18 } } },
          { functionResponse: { name: 'get_time', response: { output: '10:00' } } },
        ],
      },
    ]);
  });

  it('gives the first replayed function call the documented dummy signature when the client dropped it', () => {
    const out = toGeminiRequest(
      request({
        messages: [
          { role: 'user', content: 'x' },
          { role: 'assistant', tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{}' } }] },
          { role: 'tool', tool_call_id: 'c', content: 'done' },
        ],
      }),
    );
    expect(out.contents[1]?.parts[0]).toEqual({ functionCall: { name: 'f', args: {} }, thoughtSignature: DUMMY_THOUGHT_SIGNATURE });
  });

  it('rejects a tool result whose call id is unknown, naming the message', () => {
    const err = rejects(() => toGeminiRequest(request({ messages: [{ role: 'user', content: 'x' }, { role: 'tool', tool_call_id: 'nope', content: 'r' }] })));
    expect([err.status, err.param]).toEqual([400, 'messages[1].tool_call_id']);
  });

  it('rejects http image URLs (Gemini takes inline data) naming the part', () => {
    const err = rejects(() =>
      toGeminiRequest(request({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/a.png' } }] }] })),
    );
    expect(err.param).toBe('messages[0].content[0].image_url.url');
  });

  it('maps tools and tool_choice to functionDeclarations and functionCallingConfig', () => {
    const tools = [
      { type: 'function', function: { name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } },
      { type: 'function', function: { name: 'now' } },
    ];
    const base = { messages: [{ role: 'user', content: 'x' }], tools };
    const out = toGeminiRequest(request(base));
    expect(out.tools).toEqual([
      {
        functionDeclarations: [
          { name: 'get_weather', description: 'Weather', parametersJsonSchema: { type: 'object', properties: { city: { type: 'string' } } } },
          { name: 'now' },
        ],
      },
    ]);
    expect(out.toolConfig).toBeUndefined();
    const config = (tool_choice: unknown) => toGeminiRequest(request({ ...base, tool_choice })).toolConfig;
    expect(config('auto')).toEqual({ functionCallingConfig: { mode: 'AUTO' } });
    expect(config('none')).toEqual({ functionCallingConfig: { mode: 'NONE' } });
    expect(config('required')).toEqual({ functionCallingConfig: { mode: 'ANY' } });
    expect(config({ type: 'function', function: { name: 'now' } })).toEqual({ functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['now'] } });
  });
});

describe('toGeminiEmbedRequest', () => {
  it('builds one request per input with the model path and outputDimensionality', () => {
    const req = embeddingsRequestSchema.parse({ model: 'alias', input: ['a', 'b'], dimensions: 256 });
    expect(toGeminiEmbedRequest(req, 'gemini-embedding-001')).toEqual({
      requests: [
        { model: 'models/gemini-embedding-001', content: { parts: [{ text: 'a' }] }, outputDimensionality: 256 },
        { model: 'models/gemini-embedding-001', content: { parts: [{ text: 'b' }] }, outputDimensionality: 256 },
      ],
    });
  });

  it('rejects token-id input', () => {
    const err = rejects(() => toGeminiEmbedRequest(embeddingsRequestSchema.parse({ model: 'm', input: [[1, 2]] }), 'm'));
    expect([err.status, err.param]).toEqual([400, 'input[0]']);
  });
});
