import { describe, expect, it } from 'vitest';
import { detectCards, knownIssuer, luhnValid } from '../../../src/privacy/detectors/card.js';
import { CARDS, NEAR_MISSES } from './fixtures.js';

const spans = (text: string) => detectCards(text).map((f) => text.slice(f.start, f.end));

describe('luhnValid', () => {
  it.each([
    ['79927398713', true],
    ['79927398710', false],
    ['4111111111111111', true],
    ['4111111111111112', false],
    ['0', true],
    ['', false],
    ['4111-1111', false], // separators are not digits
    ['18', true], // doubling 1 -> 2, + 8
    ['59', true], // doubling 5 -> 10 -> 1, + 9
    ['91', true], // doubling 9 -> 18 -> 9, + 1
  ])('%s -> %s', (digits, valid) => {
    expect(luhnValid(digits)).toBe(valid);
  });
});

describe('knownIssuer', () => {
  it.each([
    ['4111111111111111', true],
    ['5555555555554444', true],
    ['2720999999999999', true],
    ['2721000000000000', false], // just past the Mastercard 2-series range
    ['378282246310005', true],
    ['3782822463100050', false], // Amex is 15 digits only
    ['6011111111111117', true],
    ['1234567812345670', false],
    ['9000000000000000', false],
    ['7000000000000000', false],
  ])('%s -> %s', (digits, known) => {
    expect(knownIssuer(digits)).toBe(known);
  });
});

describe('detectCards', () => {
  it.each(CARDS)('finds %s alone and inside prose', (card) => {
    expect(spans(card)).toEqual([card]);
    expect(spans(`Please charge ${card}, thanks.`)).toEqual([card]);
    expect(spans(`card:${card}\n`)).toEqual([card]);
  });

  it('reports every card in a text with its offsets', () => {
    const text = 'first 4111111111111111 then 5555 5555 5555 4444 end';
    const found = detectCards(text);
    expect(found).toEqual([
      { kind: 'card', start: 6, end: 22 },
      { kind: 'card', start: 28, end: 47 },
    ]);
  });

  it('finds a card followed by its CVV or preceded by a quantity in the same digit run', () => {
    expect(spans('4111 1111 1111 1111 123')).toEqual(['4111 1111 1111 1111']);
    expect(spans('2 4111 1111 1111 1111')).toEqual(['4111 1111 1111 1111']);
  });

  it.each([
    ['Luhn failure', '4111111111111112'],
    ['Luhn failure, grouped', '4111 1111 1111 1112'],
    ['unknown issuer that passes Luhn', '1234567812345670'],
    ['mixed separators', '4111 1111-1111 1111'],
    ['unusual grouping', '41 111111 1111 1111'],
    ['double separators', '4111  1111  1111  1111'],
    ['too long', '41111111111111111111111'],
    ['too short', '411111111111'],
    ['inside a longer number', '94111111111111111'],
    ['dotted', '4111.1111.1111.1111'],
  ])('ignores %s: %s', (_why, text) => {
    expect(detectCards(text)).toEqual([]);
  });

  it.each(NEAR_MISSES)('no card in near-miss: %s', (text) => {
    expect(detectCards(text)).toEqual([]);
  });
});
