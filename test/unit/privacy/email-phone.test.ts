import { describe, expect, it } from 'vitest';
import { detectEmails } from '../../../src/privacy/detectors/email.js';
import { detectPhones } from '../../../src/privacy/detectors/phone.js';
import { NEAR_MISSES } from './fixtures.js';

const emails = (text: string) => detectEmails(text).map((f) => text.slice(f.start, f.end));
const phones = (text: string) => detectPhones(text).map((f) => text.slice(f.start, f.end));

describe('detectEmails', () => {
  it.each([
    'jane.doe@example.com',
    'j+tag@sub.example.co.uk',
    'first_last-99@company-name.io',
    'UPPER@EXAMPLE.ORG',
    'x%y@mail.example.museum',
  ])('finds %s', (email) => {
    expect(emails(email)).toEqual([email]);
    expect(emails(`Contact <${email}>, please.`)).toEqual([email]);
    expect(emails(`mailto:${email}`)).toEqual([email]);
  });

  it('finds several and ends at sentence punctuation', () => {
    expect(emails('Ask a@example.com or b@example.org.')).toEqual(['a@example.com', 'b@example.org']);
  });

  it.each([
    '@types/node',
    '@Component({ selector: "x" })',
    'user@localhost',
    'lodash@4.17.21',
    'git@github.com:org/repo.git',
    'image@sha256:abcdef',
    '.@example.com',
    'a.@example.com',
    'no at sign here',
    'a @ b.com',
  ])('ignores %s', (text) => {
    expect(detectEmails(text)).toEqual([]);
  });

  it.each(NEAR_MISSES)('no email in near-miss: %s', (text) => {
    expect(detectEmails(text)).toEqual([]);
  });
});

describe('detectPhones', () => {
  it.each([
    '+14155552671',
    '+1 415 555 2671',
    '+1 (415) 555-2671',
    '+44 20 7946 0958',
    '+49 30 12345678',
    '+33 1 23 45 67 89',
    '+81-3-1234-5678',
    '(415) 555-2671',
    '(415)555-2671',
    '415-555-2671',
    '415.555.2671',
    '415 555 2671',
    '1-800-555-0199',
    '020 7946 0958',
    '07700 900123',
    '030 12345678',
    '01 23 45 67 89',
  ])('finds %s', (phone) => {
    expect(phones(phone)).toEqual([phone]);
    expect(phones(`Call ${phone} today.`)).toEqual([phone]);
    expect(phones(`tel: ${phone}\n`)).toEqual([phone]);
  });

  it.each([
    ['plain ten digits', '4155552671'],
    ['too few digits after +', '+1234567'],
    ['too many digits after +', '+1234567890123456'],
    ['NANP area starting with 1', '123-555-2671'],
    ['NANP exchange starting with 0', '415-055-2671'],
    ['mixed NANP separators', '415-555.2671'],
    ['part of a longer id', 'ID-415-555-2671'],
    ['followed by more digits', '415-555-2671-9'],
    ['plus after a word', 'a+14155552671'],
    ['date', '2024-01-15'],
    ['date with time', '2024-01-15 10:30:00'],
    ['European date', '01.02.2024'],
    ['version', '1.2.3.4'],
    ['IP', '192.168.100.200'],
    ['UUID', '550e8400-e29b-41d4-a716-446655440000'],
  ])('ignores %s: %s', (_why, text) => {
    expect(detectPhones(text)).toEqual([]);
  });

  it.each(NEAR_MISSES)('no phone in near-miss: %s', (text) => {
    expect(detectPhones(text)).toEqual([]);
  });
});
