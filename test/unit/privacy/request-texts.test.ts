import { describe, expect, it } from 'vitest';
import { collectRequestTexts } from '../../../src/privacy/request-texts.js';

describe('collectRequestTexts', () => {
  it('collects every text an upstream would see, in request order', () => {
    const texts = collectRequestTexts({
      messages: [
        { role: 'system', content: 'You are terse.' },
        {
          role: 'user',
          name: 'alice',
          content: [
            { type: 'text', text: 'Look at this:' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } },
            { type: 'text', text: 'and this.' },
          ],
        },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'lookup', arguments: '{"q":"x"}' } }],
        },
        { role: 'tool', tool_call_id: 'call_1', content: 'tool result text' },
        { role: 'assistant', content: [{ type: 'refusal', refusal: 'I cannot.' }] },
        { role: 'assistant', content: '', function_call: { name: 'legacy_fn', arguments: '{"a":1}' } },
      ],
      tools: [
        {
          type: 'function',
          function: {
            name: 'lookup',
            description: 'Look things up.',
            parameters: { type: 'object', properties: { q: { type: 'string' } } },
          },
        },
      ],
      functions: [{ name: 'legacy_fn', description: 'Old style.', parameters: { type: 'object' } }],
      response_format: { type: 'json_schema', json_schema: { name: 'out', schema: { type: 'object' } } },
    });
    expect(texts).toEqual([
      'You are terse.',
      'alice',
      'Look at this:',
      'and this.',
      'lookup',
      '{"q":"x"}',
      'tool result text',
      'I cannot.',
      'legacy_fn',
      '{"a":1}',
      'lookup',
      'Look things up.',
      '{"type":"object","properties":{"q":{"type":"string"}}}',
      'legacy_fn',
      'Old style.',
      '{"type":"object"}',
      '{"name":"out","schema":{"type":"object"}}',
    ]);
  });

  it('collects embeddings input as a string or a list, and skips token ids', () => {
    expect(collectRequestTexts({ input: 'one text' })).toEqual(['one text']);
    expect(collectRequestTexts({ input: ['a', 'b', ''] })).toEqual(['a', 'b']);
    expect(collectRequestTexts({ input: [1, 2, 3] })).toEqual([]);
    expect(collectRequestTexts({ input: [[1, 2], [3]] })).toEqual([]);
  });

  it('collects a legacy completions prompt', () => {
    expect(collectRequestTexts({ prompt: ['p1', 'p2'] })).toEqual(['p1', 'p2']);
  });

  it('tolerates odd shapes without throwing', () => {
    const odd = { messages: [null, 3, { content: { text: 'not a list' } }, { tool_calls: [null, { function: 5 }] }] };
    expect(collectRequestTexts(odd as never)).toEqual([]);
    expect(collectRequestTexts({})).toEqual([]);
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    expect(collectRequestTexts({ tools: [{ function: { name: 'f', parameters: cyclic } }] })).toEqual(['f']);
  });
});
