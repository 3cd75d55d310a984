import { describe, expect, it } from 'vitest';
import { DEFAULT_CLASSIFIER_CONFIG } from '../../../src/privacy/config.js';
import { redactRequest, restoreChunks, restoreCompletion, Redaction } from '../../../src/privacy/redact.js';
import { SECRETS } from './fixtures.js';

const KINDS = new Set(['card', 'iban', 'ssn', 'email', 'phone', 'secret.aws_access_key']);
const CARD = '4111 1111 1111 1111';

describe('redactRequest', () => {
  it('replaces values with stable placeholders everywhere an upstream looks, and re-classifies', () => {
    const req = {
      model: 'm',
      messages: [
        { role: 'user', content: `card ${CARD}, mail ann@example.com` },
        { role: 'user', content: [{ type: 'text', text: `again ${CARD}` }] },
        { role: 'assistant', content: null, tool_calls: [{ id: 'c', type: 'function', function: { name: 'pay', arguments: `{"iban":"DE89370400440532013000"}` } }] },
        { role: 'tool', tool_call_id: 'c', content: 'ssn 123-45-6789' },
      ],
    };
    const { request, remaining, redaction } = redactRequest(req, DEFAULT_CLASSIFIER_CONFIG, KINDS);
    expect(request.messages[0]?.content).toBe('card [REDACTED_CARD_1], mail [REDACTED_EMAIL_1]');
    expect(request.messages[1]?.content).toEqual([{ type: 'text', text: 'again [REDACTED_CARD_1]' }]);
    expect(request.messages[2]?.tool_calls?.[0]?.function.arguments).toBe('{"iban":"[REDACTED_IBAN_1]"}');
    expect(request.messages[3]?.content).toBe('ssn [REDACTED_SSN_1]');
    expect(remaining).toEqual({ class: 'public', findings: {} });
    expect(redaction.size).toBe(4);
    expect(req.messages[0]?.content).toContain(CARD); // the original is untouched
  });

  it('never redacts secrets, so the request keeps its class', () => {
    const key = SECRETS['secret.aws_access_key'] ?? '';
    const { request, remaining } = redactRequest({ model: 'm', messages: [{ role: 'user', content: `k ${key} c ${CARD}` }] }, DEFAULT_CLASSIFIER_CONFIG, KINDS);
    expect(request.messages[0]?.content).toBe(`k ${key} c [REDACTED_CARD_1]`);
    expect(remaining.class).toBe('restricted');
  });

  it('keeps the class when a value split across messages escapes the per-text pass', () => {
    const { remaining } = redactRequest({ model: 'm', messages: [{ role: 'user', content: 'card 4111 1111' }, { role: 'user', content: '1111 1111' }] }, DEFAULT_CLASSIFIER_CONFIG, KINDS);
    expect(remaining.class).toBe('confidential');
  });
});

describe('restoring answers', () => {
  const redaction = new Redaction();
  const p = redaction.placeholderFor('card', CARD);

  it('restores completions: content and tool-call arguments', () => {
    const done = restoreCompletion(
      { choices: [{ index: 0, message: { role: 'assistant', content: `charged ${p}`, tool_calls: [{ function: { name: 'x', arguments: `{"c":"${p}"}` } }] } }] },
      redaction,
    );
    expect(done.choices[0]?.message.content).toBe(`charged ${CARD}`);
    expect(done.choices[0]?.message.tool_calls[0]?.function.arguments).toBe(`{"c":"${CARD}"}`);
  });

  it('restores a placeholder split across stream chunks at any point', async () => {
    const text = `ok ${p} and [not one] done`;
    for (let cut = 1; cut < text.length; cut++) {
      const pieces = [text.slice(0, cut), text.slice(cut)];
      async function* chunks() {
        for (const piece of pieces) yield { choices: [{ index: 0, delta: { content: piece }, finish_reason: null }] };
        yield { choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] };
      }
      let out = '';
      for await (const c of restoreChunks(chunks(), redaction)) {
        const delta: { content?: string } = c.choices[0]?.delta ?? {};
        out += delta.content ?? '';
      }
      expect(out).toBe(`ok ${CARD} and [not one] done`);
    }
  });
});
