import { describe, expect, it } from 'vitest';
import { PRIVACY_CLASSES, atLeast, classRank, isPrivacyClass, maxClass } from '../../../src/privacy/classes.js';

describe('privacy classes', () => {
  it('orders public < internal < confidential < restricted', () => {
    expect(PRIVACY_CLASSES.map(classRank)).toEqual([0, 1, 2, 3]);
  });

  it('maxClass picks the most sensitive and defaults to public', () => {
    expect(maxClass()).toBe('public');
    expect(maxClass('internal', 'public')).toBe('internal');
    expect(maxClass('confidential', 'restricted', 'internal')).toBe('restricted');
  });

  it('atLeast compares against a floor', () => {
    expect(atLeast('restricted', 'internal')).toBe(true);
    expect(atLeast('internal', 'internal')).toBe(true);
    expect(atLeast('internal', 'confidential')).toBe(false);
  });

  it('isPrivacyClass accepts only the four names', () => {
    expect(isPrivacyClass('confidential')).toBe(true);
    expect(isPrivacyClass('secret')).toBe(false);
    expect(isPrivacyClass('toString')).toBe(false);
    expect(isPrivacyClass(3)).toBe(false);
  });
});
