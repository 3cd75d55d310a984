import { describe, expect, it } from 'vitest';
import { checkAnswer, compactSchema, instructedRequest, jsonWanted } from '../../../src/structured/emulate.js';
import { extractJson } from '../../../src/structured/extract.js';
import { validateJson } from '../../../src/structured/validate.js';

// The schema subset DeepFabric sends (pydantic's JSON schema after its OpenAI strict-mode pass), the JSON
// extraction from model text, and the emulation's instruction and checks.

const topicList = {
  type: 'object',
  properties: { subtopics: { type: 'array', items: { type: 'string' }, minItems: 1, description: 'List of subtopic names', title: 'Subtopics' } },
  required: ['subtopics'],
  additionalProperties: false,
  title: 'TopicList',
};

const graph = {
  $defs: {
    GraphSubtopic: {
      type: 'object',
      properties: { topic: { type: 'string' }, connections: { type: 'array', items: { type: 'integer' } } },
      required: ['topic', 'connections'],
      additionalProperties: false,
    },
  },
  type: 'object',
  properties: { subtopics: { type: 'array', items: { $ref: '#/$defs/GraphSubtopic' }, minItems: 1 } },
  required: ['subtopics'],
  additionalProperties: false,
};

describe('validateJson', () => {
  it('accepts valid instances and names the path of the first problems', () => {
    expect(validateJson(topicList, { subtopics: ['a', 'b'] })).toEqual([]);
    expect(validateJson(topicList, { subtopics: [] })).toEqual([{ path: '/subtopics', message: 'must have at least 1 item(s)' }]);
    expect(validateJson(topicList, { subtopics: [1] })).toEqual([{ path: '/subtopics/0', message: 'expected string, got integer' }]);
    expect(validateJson(topicList, {})).toEqual([{ path: '', message: "is missing the required property 'subtopics'" }]);
    expect(validateJson(topicList, { subtopics: ['a'], extra: 1 })).toEqual([{ path: '', message: "has a property 'extra' the schema does not allow" }]);
  });

  it('follows $ref into $defs', () => {
    expect(validateJson(graph, { subtopics: [{ topic: 't', connections: [1, 2] }] })).toEqual([]);
    expect(validateJson(graph, { subtopics: [{ topic: 't', connections: [1.5] }] })).toEqual([
      { path: '/subtopics/0/connections/0', message: 'expected integer, got number' },
    ]);
  });

  it('handles anyOf with null, enum, const, lengths and numeric bounds', () => {
    const schema = {
      type: 'object',
      properties: {
        role: { enum: ['user', 'assistant'] },
        kind: { const: 'function' },
        note: { anyOf: [{ type: 'string', maxLength: 3 }, { type: 'null' }] },
        id: { type: 'string', minLength: 9, maxLength: 9, pattern: '^[A-Za-z0-9]+$' },
        n: { type: 'number', minimum: 0, exclusiveMaximum: 10 },
        tags: { type: 'array', maxItems: 2, uniqueItems: true },
      },
    };
    expect(validateJson(schema, { role: 'user', kind: 'function', note: null, id: 'abcDEF123', n: 9.5, tags: [1, 2] })).toEqual([]);
    const bad = validateJson(schema, { role: 'tool', kind: 'x', note: 'long', id: 'abc-', n: 10, tags: [1, 1, 2] });
    expect(bad.map((v) => v.path)).toEqual(['/role', '/kind', '/note', '/id', '/id', '/n', '/tags', '/tags']);
  });

  it('treats type lists, oneOf, allOf and boolean schemas as JSON Schema does', () => {
    expect(validateJson({ type: ['string', 'null'] }, null)).toEqual([]);
    expect(validateJson({ oneOf: [{ type: 'integer' }, { type: 'number' }] }, 1)).toHaveLength(1);
    expect(validateJson({ allOf: [{ minimum: 1 }, { maximum: 3 }] }, 4)).toHaveLength(1);
    expect(validateJson(false, 1)).toHaveLength(1);
    expect(validateJson({ $ref: '#/$defs/missing' }, 1)[0]?.message).toContain('does not resolve');
  });
});

describe('extractJson', () => {
  it('takes bare JSON, fenced JSON, JSON after a think block, and JSON inside prose', () => {
    expect(extractJson('{"a":1}')).toMatchObject({ ok: true, value: { a: 1 } });
    expect(extractJson('```json\n{"a":1}\n```')).toMatchObject({ ok: true, value: { a: 1 } });
    expect(extractJson('<think>{"no":0} hmm</think>\n{"a":1}')).toMatchObject({ ok: true, value: { a: 1 } });
    expect(extractJson('Sure! Here it is: {"a":{"b":"}"}} Hope it helps.')).toMatchObject({ ok: true, value: { a: { b: '}' } } });
    expect(extractJson('first {broken then [1,2]')).toMatchObject({ ok: true, value: [1, 2] });
  });

  it('finds the first span that parses, as a scan from each bracket sees it', () => {
    // A bracket inside prose quotes starts a span of its own; one inside a JSON string does not end the object.
    expect(extractJson('He typed "{" and then {"a":"x\\"}"} ok')).toMatchObject({ ok: true, value: { a: 'x"}' } });
    // A mismatched close ends the outer span unbalanced; the inner one still parses.
    expect(extractJson('{ oops [{"a":1}} ]')).toMatchObject({ ok: true, value: { a: 1 } });
    expect(extractJson('not {"a" json} but {"b":2} and {"c":3}')).toMatchObject({ ok: true, value: { b: 2 } });
    // Nested past MAX_JSON_DEPTH: the outer levels are passed over, the deepest 128 parse.
    const deep = extractJson(`${'['.repeat(1000)}1${']'.repeat(1000)}`);
    expect(deep.ok).toBe(true);
    expect(JSON.stringify(deep.ok && deep.value)).toBe(`${'['.repeat(128)}1${']'.repeat(128)}`);
  });

  it('says why when there is no JSON', () => {
    expect(extractJson('')).toEqual({ ok: false, reason: 'the answer is empty' });
    expect(extractJson('no json here {')).toEqual({ ok: false, reason: 'the answer contains no parseable JSON' });
    // A small model looping on one character.
    expect(extractJson('{'.repeat(50_000))).toEqual({ ok: false, reason: 'the answer contains no parseable JSON' });
  });
});

describe('emulation', () => {
  it('puts the schema in the one system message and drops response_format', () => {
    const req = {
      model: 'm',
      messages: [{ role: 'system' as const, content: 'Be brief.' }, { role: 'user' as const, content: 'topics?' }],
      response_format: { type: 'json_schema' as const, json_schema: { name: 'TopicList', schema: topicList, strict: true } },
    };
    const wanted = jsonWanted(req);
    expect(wanted?.name).toBe('TopicList');
    const out = instructedRequest(req, wanted ?? { name: '', schema: true });
    expect(out.response_format).toBeUndefined();
    expect(out.messages).toHaveLength(2);
    expect(out.messages[0]?.content).toBe(`Be brief.\n\nRespond with a JSON object that matches this JSON schema:\n${JSON.stringify(compactSchema(topicList))}`);
  });

  it('answers bare, re-serialised JSON when valid, and the problems when not', () => {
    const wanted = { name: 'TopicList', schema: topicList };
    expect(checkAnswer('```json\n{ "subtopics": ["a"] }\n```', wanted)).toEqual({ ok: true, json: '{"subtopics":["a"]}' });
    expect(checkAnswer('{"subtopics": []}', wanted)).toEqual({ ok: false, problem: '/subtopics must have at least 1 item(s)' });
    expect(checkAnswer('nope', wanted)).toEqual({ ok: false, problem: 'the answer contains no parseable JSON' });
  });
});

describe('compactSchema', () => {
  it('drops annotations but keeps properties that happen to be named like them', () => {
    const schema = {
      title: 'Doc',
      description: 'd',
      type: 'object',
      properties: { title: { type: 'string', description: 'the title' }, items: { type: 'array', items: { $ref: '#/$defs/X' }, default: [] } },
      $defs: { X: { title: 'X', type: 'integer', examples: [1] } },
    };
    expect(compactSchema(schema)).toEqual({
      type: 'object',
      properties: { title: { type: 'string' }, items: { type: 'array', items: { $ref: '#/$defs/X' } } },
      $defs: { X: { type: 'integer' } },
    });
  });
});
