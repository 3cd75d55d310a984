import { describe, expect, it } from 'vitest';
import { detectIbans, IBAN_LENGTHS, ibanChecksumValid } from '../../../src/privacy/detectors/iban.js';
import { IBANS, NEAR_MISSES } from './fixtures.js';

const spans = (text: string) => detectIbans(text).map((f) => text.slice(f.start, f.end));

describe('ibanChecksumValid (mod 97)', () => {
  it('accepts registry examples', () => {
    expect(ibanChecksumValid('DE89370400440532013000')).toBe(true);
    expect(ibanChecksumValid('GB82WEST12345698765432')).toBe(true);
  });

  it('rejects a changed digit, a transposition and a changed letter', () => {
    expect(ibanChecksumValid('DE89370400440532013001')).toBe(false);
    expect(ibanChecksumValid('DE89370400440532031000')).toBe(false);
    expect(ibanChecksumValid('GB82WEST12345698765433')).toBe(false);
    expect(ibanChecksumValid('GB82WSET12345698765432')).toBe(false);
  });

  it('rejects check digits 00, 01 and 99 even when they satisfy mod 97', () => {
    // BE68539007547034 has check digits 68; find the body whose valid check digits are 02, 97 or 98 by search,
    // then alias them to 99, 00 and 01, which leave the same remainder mod 97.
    const aliases: Record<string, string> = { '02': '99', '97': '00', '98': '01' };
    let tested = 0;
    for (let n = 0; n < 5000 && tested < 3; n++) {
      const body = `BE${String(n).padStart(12, '0')}`;
      for (let cd = 2; cd <= 98; cd++) {
        const check = String(cd).padStart(2, '0');
        const iban = `BE${check}${body.slice(2)}`;
        if (!ibanChecksumValid(iban)) continue;
        const alias = aliases[check];
        if (alias !== undefined) {
          expect(ibanChecksumValid(`BE${alias}${body.slice(2)}`)).toBe(false);
          tested++;
        }
      }
    }
    expect(tested).toBeGreaterThan(0);
  });

  it('rejects lowercase and punctuation', () => {
    expect(ibanChecksumValid('de89370400440532013000')).toBe(false);
    expect(ibanChecksumValid('DE89-3704-0044-0532-0130-00')).toBe(false);
  });

  it('knows the length of every country it lists', () => {
    expect(IBAN_LENGTHS['DE']).toBe(22);
    expect(IBAN_LENGTHS['NO']).toBe(15);
    expect(IBAN_LENGTHS['RU']).toBe(33);
  });
});

describe('detectIbans', () => {
  it.each(IBANS)('finds %s alone and inside prose', (iban) => {
    expect(spans(iban)).toEqual([iban]);
    expect(spans(`Send it to ${iban}.`)).toEqual([iban]);
    expect(spans(`IBAN:${iban}\n`)).toEqual([iban]);
  });

  it('stops at the country length even when uppercase words follow', () => {
    expect(spans('IBAN DE89 3704 0044 0532 0130 00 BIC COBADEFFXXX')).toEqual(['DE89 3704 0044 0532 0130 00']);
  });

  it.each([
    ['bad checksum', 'DE89370400440532013001'],
    ['too short for the country', 'DE8937040044053201300'],
    ['too long for the country', 'DE893704004405320130001'],
    ['unknown country', 'XX89370400440532013000'],
    ['lowercase', 'de89370400440532013000'],
    ['glued to a word', 'XDE89370400440532013000'],
  ])('ignores %s: %s', (_why, text) => {
    expect(detectIbans(text)).toEqual([]);
  });

  it.each(NEAR_MISSES)('no IBAN in near-miss: %s', (text) => {
    expect(detectIbans(text)).toEqual([]);
  });
});
