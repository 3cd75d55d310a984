import { describe, expect, it } from 'vitest';
import { classifyTexts, collectRequestTexts } from '../../../src/privacy/classify.js';
import {
  ClassifierConfigError,
  DEFAULT_CLASSIFIER_CONFIG,
  resolveClassifierConfig,
  type ClassifierConfig,
} from '../../../src/privacy/config.js';
import { CARDS, IBANS, NEAR_MISSES, SECRETS } from './fixtures.js';

const CARD = '4111 1111 1111 1111';
const IBAN = 'DE89 3704 0044 0532 0130 00';
const AWS = SECRETS['secret.aws_access_key'] ?? '';

describe('classifyTexts with the default config', () => {
  it('is public with no findings for clean text', () => {
    expect(classifyTexts(['Hello, how are you?', ...NEAR_MISSES])).toEqual({ class: 'public', findings: {} });
    expect(classifyTexts([])).toEqual({ class: 'public', findings: {} });
  });

  it.each([
    ['email', 'write to jane.doe@example.com', 'internal'],
    ['phone', 'call +44 20 7946 0958', 'internal'],
    ['card', `card ${CARD}`, 'confidential'],
    ['iban', `iban ${IBAN}`, 'confidential'],
    ['ssn', 'ssn 123-45-6789', 'confidential'],
    ['secret.aws_access_key', `key ${AWS}`, 'restricted'],
  ] as const)('maps %s to %s', (kind, text, cls) => {
    expect(classifyTexts([text])).toEqual({ class: cls, findings: { [kind]: 1 } });
  });

  it('takes the maximum class and counts findings per kind across texts', () => {
    const result = classifyTexts(['mail a@example.com and b@example.com', `card ${CARD}`, 'nothing', `c@example.org`]);
    expect(result).toEqual({ class: 'confidential', findings: { email: 3, card: 1 } });
  });

  it('classifies every secret kind as restricted', () => {
    for (const [kind, secret] of Object.entries(SECRETS)) {
      expect(classifyTexts([`value: ${secret}`])).toEqual({ class: 'restricted', findings: { [kind]: 1 } });
    }
  });
});

describe('findings never carry matched values', () => {
  it('has only kinds and counts, none of the sensitive text', () => {
    const sensitive = [...Object.values(SECRETS), ...CARDS, ...IBANS, '123-45-6789', 'jane.doe@example.com', '+14155552671'];
    const result = classifyTexts(sensitive.map((s) => `item: ${s}`));
    const serialised = JSON.stringify(result);
    for (const s of sensitive) expect(serialised).not.toContain(s);
    for (const fragment of ['4111', 'AKIA', 'jane', '6789', '4155', 'DE89', 'S3cr3t']) {
      expect(serialised).not.toContain(fragment);
    }
    for (const [kind, count] of Object.entries(result.findings)) {
      expect(kind).toMatch(/^[a-z_.]+$/);
      expect(typeof count).toBe('number');
    }
    expect(Object.keys(result).sort()).toEqual(['class', 'findings']);
  });
});

describe('detectors that throw', () => {
  const boom: ClassifierConfig = {
    crossBoundary: true,
    detectors: [
      ...DEFAULT_CLASSIFIER_CONFIG.detectors,
      {
        name: 'boom',
        class: 'internal',
        detect: (text) => {
          throw new Error(`failed on ${text}`);
        },
      },
    ],
  };

  it('make the request restricted and are reported as detector_error.<name>', () => {
    const result = classifyTexts(['plain words only'], boom);
    expect(result).toEqual({ class: 'restricted', findings: { 'detector_error.boom': 1 } });
  });

  it('do not stop the other detectors, and do not leak the error message', () => {
    const result = classifyTexts([`card ${CARD}`, 'secret sauce'], boom);
    expect(result.class).toBe('restricted');
    expect(result.findings['card']).toBe(1);
    expect(result.findings['detector_error.boom']).toBeGreaterThanOrEqual(2);
    expect(JSON.stringify(result)).not.toContain('secret sauce');
    expect(JSON.stringify(result)).not.toContain('failed on');
  });

  it('fail closed even for non-Error throws', () => {
    const config: ClassifierConfig = {
      crossBoundary: false,
      detectors: [{ name: 'weird', class: 'public', detect: () => { throw 'nope'; } }],
    };
    expect(classifyTexts(['x'], config).class).toBe('restricted');
  });
});

describe('resolveClassifierConfig', () => {
  it('enables only the listed detectors', () => {
    const config = resolveClassifierConfig({ detectors: ['card'] });
    expect(classifyTexts([`a@example.com ${CARD}`], config)).toEqual({ class: 'confidential', findings: { card: 1 } });
    expect(classifyTexts([`a@example.com ${CARD}`], resolveClassifierConfig({ detectors: [] }))).toEqual({
      class: 'public',
      findings: {},
    });
  });

  it('overrides a family class', () => {
    const config = resolveClassifierConfig({ classes: { email: 'restricted', card: 'internal' } });
    expect(classifyTexts(['a@example.com'], config).class).toBe('restricted');
    expect(classifyTexts([CARD], config).class).toBe('internal');
    expect(classifyTexts(['+14155552671'], config).class).toBe('internal');
  });

  it('adds custom patterns and keywords with their own classes', () => {
    const config = resolveClassifierConfig({
      patterns: [{ name: 'employee_id', pattern: 'EMP-\\d{6}', class: 'confidential' }],
      keywords: [{ name: 'codename', words: ['Project Atlas', 'bluebird'], class: 'restricted' }],
    });
    expect(classifyTexts(['badge EMP-123456'], config)).toEqual({
      class: 'confidential',
      findings: { 'custom.employee_id': 1 },
    });
    expect(classifyTexts(['status of PROJECT ATLAS and Bluebird?'], config)).toEqual({
      class: 'restricted',
      findings: { 'keyword.codename': 2 },
    });
    expect(classifyTexts(['atlassian bluebirds'], config).class).toBe('public');
  });

  it.each([
    [{ detectors: ['cards'] }, 'detectors[0]: unknown detector "cards"'],
    [{ detectors: ['card', 'card'] }, 'detectors[1]: duplicate detector "card"'],
    [{ classes: { phone: 'secret' } }, 'classes.phone: unknown class "secret"'],
    [{ classes: { fax: 'internal' } }, 'classes.fax: unknown detector "fax"'],
    [{ patterns: [{ name: 'bad', pattern: '(', class: 'internal' }] }, 'patterns[0].pattern: invalid regular expression'],
    [{ patterns: [{ name: 'has space', pattern: 'x', class: 'internal' }] }, 'patterns[0].name'],
    [{ patterns: [{ name: 'p', pattern: 'x', class: 'top' }] }, 'patterns[0].class: unknown class "top"'],
    [
      { patterns: [{ name: 'p', pattern: 'x', class: 'internal' }, { name: 'p', pattern: 'y', class: 'internal' }] },
      'patterns[1].name: duplicate name "p"',
    ],
    [{ keywords: [{ name: 'k', words: ['ok', ' '], class: 'internal' }] }, 'keywords[0].words'],
  ])('rejects %j with a path', (options, message) => {
    expect(() => resolveClassifierConfig(options as never)).toThrow(ClassifierConfigError);
    expect(() => resolveClassifierConfig(options as never)).toThrow(message);
  });

  it('returns a frozen config', () => {
    const config = resolveClassifierConfig();
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.detectors)).toBe(true);
  });
});

describe('items split across texts', () => {
  it('finds a card split between groups across two messages', () => {
    expect(classifyTexts(['my card is 4111 1111', '1111 1111 thanks'])).toEqual({
      class: 'confidential',
      findings: { card: 1 },
    });
  });

  it('finds a card split inside a group, with or without trailing whitespace', () => {
    expect(classifyTexts(['card 4111 11', '11 1111 1111']).findings).toEqual({ card: 1 });
    expect(classifyTexts(['card 4111 1111 ', '1111 1111']).findings).toEqual({ card: 1 });
    expect(classifyTexts(['card 41111111', '11111111']).findings).toEqual({ card: 1 });
  });

  it('finds an IBAN, an email and a secret split across texts', () => {
    expect(classifyTexts(['pay DE89 3704 0044', '0532 0130 00']).findings).toEqual({ iban: 1, phone: 1 }); // the second half alone is phone-shaped
    expect(classifyTexts(['pay DE89 3704 0044 05', '32 0130 00']).findings).toEqual({ iban: 1 });
    expect(classifyTexts(['write to jane.doe@', 'example.com']).findings).toEqual({ email: 1 });
    expect(classifyTexts([`key ${AWS.slice(0, 9)}`, `${AWS.slice(9)} done`]).findings).toEqual({
      'secret.aws_access_key': 1,
    });
  });

  it('finds a split card in a real request: user turn into tool arguments and tool result', () => {
    const req = {
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'charge 4111 1111' }, { type: 'text', text: '1111 1111' }] },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ function: { name: 'charge', arguments: '{"card":"5555 5555' } }],
        },
        { role: 'tool', content: '5555 4444"}' },
      ],
    };
    expect(classifyTexts(collectRequestTexts(req))).toEqual({ class: 'confidential', findings: { card: 2 } });
  });

  it('does not double count an item wholly inside one text', () => {
    expect(classifyTexts([`card ${CARD}`, `and ${CARD}`]).findings).toEqual({ card: 2 });
    expect(classifyTexts([`card ${CARD}`, 'next message']).findings).toEqual({ card: 1 });
  });

  it('does not join across sentence ends, and can be switched off', () => {
    expect(classifyTexts(['ends here.', '4111 1111 1111 1111'.slice(5)]).findings).toEqual({});
    const off = resolveClassifierConfig({ crossBoundary: false });
    expect(classifyTexts(['my card is 4111 1111', '1111 1111'], off).findings).toEqual({});
  });
});

describe('sensitive items in every place a request carries text', () => {
  const places = (value: string) => ({
    'plain content': { messages: [{ role: 'user', content: `here: ${value}` }] },
    'content part': { messages: [{ role: 'user', content: [{ type: 'text', text: `here: ${value}` }] }] },
    'tool call arguments': {
      messages: [{ role: 'assistant', tool_calls: [{ function: { name: 'f', arguments: JSON.stringify({ v: value }) } }] }],
    },
    'tool result': { messages: [{ role: 'tool', content: JSON.stringify({ result: value }) }] },
    'tool description': { tools: [{ function: { name: 'f', description: `uses ${value}` } }] },
    'tool schema': { tools: [{ function: { name: 'f', parameters: { default: value } } }] },
    'embeddings input': { input: ['first', `here: ${value}`] },
  });

  for (const [kind, value, cls] of [
    ['card', CARD, 'confidential'],
    ['iban', IBAN, 'confidential'],
    ['ssn', '123-45-6789', 'confidential'],
    ['email', 'jane.doe@example.com', 'internal'],
    ['phone', '+1 (415) 555-2671', 'internal'],
    ['secret.aws_access_key', AWS, 'restricted'],
    ['secret.jwt', SECRETS['secret.jwt'] ?? '', 'restricted'],
    ['secret.connection_string', SECRETS['secret.connection_string'] ?? '', 'restricted'],
  ] as const) {
    for (const [place, req] of Object.entries(places(value))) {
      it(`${kind} in ${place}`, () => {
        expect(classifyTexts(collectRequestTexts(req))).toEqual({ class: cls, findings: { [kind]: 1 } });
      });
    }
  }
});
