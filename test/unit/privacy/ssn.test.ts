import { describe, expect, it } from 'vitest';
import { detectSsns, ssnPartsValid } from '../../../src/privacy/detectors/ssn.js';
import { NEAR_MISSES } from './fixtures.js';

const spans = (text: string) => detectSsns(text).map((f) => text.slice(f.start, f.end));

describe('ssnPartsValid', () => {
  it.each([
    [123, 45, 6789, true],
    [1, 1, 1, true],
    [899, 99, 9999, true],
    [0, 45, 6789, false], // area 000
    [666, 45, 6789, false], // area 666
    [900, 45, 6789, false], // area 9xx
    [999, 45, 6789, false],
    [123, 0, 6789, false], // group 00
    [123, 45, 0, false], // serial 0000
  ])('%i-%i-%i -> %s', (area, group, serial, valid) => {
    expect(ssnPartsValid(area, group, serial)).toBe(valid);
  });
});

describe('detectSsns', () => {
  it('flags the dashed form on its own', () => {
    expect(spans('Her number is 123-45-6789.')).toEqual(['123-45-6789']);
    expect(spans('078-05-1120')).toEqual(['078-05-1120']);
  });

  it('flags plain or spaced nine digits only after an SSN keyword', () => {
    expect(spans('SSN: 123456789')).toEqual(['123456789']);
    expect(spans('social security number 123 45 6789')).toEqual(['123 45 6789']);
    expect(spans('Taxpayer ID 219099999 on file')).toEqual(['219099999']);
    expect(spans('ss# 123456789')).toEqual(['123456789']);
    expect(detectSsns('the meeting id is 123456789')).toEqual([]);
    expect(detectSsns('123 45 6789 apples')).toEqual([]);
  });

  it('needs the keyword nearby', () => {
    const far = `SSN mentioned here, ${'x'.repeat(60)} then 123456789`;
    expect(detectSsns(far)).toEqual([]);
  });

  it.each(['000-12-3456', '666-12-3456', '900-12-3456', '123-00-4567', '123-45-0000', 'SSN 000123456'])(
    'rejects invalid parts: %s',
    (text) => {
      expect(detectSsns(text)).toEqual([]);
    },
  );

  it.each(['1123-45-6789', '123-45-67890', 'A123-45-6789', '123-45-6789-1', '123-456-7890', '12-345-6789'])(
    'rejects other shapes: %s',
    (text) => {
      expect(detectSsns(text)).toEqual([]);
    },
  );

  it.each(NEAR_MISSES)('no SSN in near-miss: %s', (text) => {
    expect(detectSsns(text)).toEqual([]);
  });
});
