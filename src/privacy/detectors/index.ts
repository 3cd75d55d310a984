import type { PrivacyClass } from '../classes.js';
import type { Detector } from '../finding.js';
import { detectCards } from './card.js';
import { detectEmails } from './email.js';
import { detectIbans } from './iban.js';
import { detectPhones } from './phone.js';
import { detectSecrets } from './secrets.js';
import { detectSsns } from './ssn.js';

export { detectCards, knownIssuer, luhnValid } from './card.js';
export { detectEmails } from './email.js';
export { detectIbans, ibanChecksumValid, IBAN_LENGTHS } from './iban.js';
export { detectPhones } from './phone.js';
export { detectSecrets } from './secrets.js';
export { detectSsns, ssnPartsValid } from './ssn.js';
export { keywordDetector, patternDetector } from './custom.js';

/** Built-in detector families, as named in a policy's `privacy.detectors`. */
export const DETECTOR_FAMILIES = ['secrets', 'card', 'iban', 'ssn', 'email', 'phone'] as const;
export type DetectorFamily = (typeof DETECTOR_FAMILIES)[number];

export const BUILTIN_DETECTORS: Readonly<Record<DetectorFamily, Detector>> = {
  secrets: detectSecrets,
  card: detectCards,
  iban: detectIbans,
  ssn: detectSsns,
  email: detectEmails,
  phone: detectPhones,
};

export const DEFAULT_FAMILY_CLASSES: Readonly<Record<DetectorFamily, PrivacyClass>> = {
  secrets: 'restricted',
  card: 'confidential',
  iban: 'confidential',
  ssn: 'confidential',
  email: 'internal',
  phone: 'internal',
};

export function isDetectorFamily(value: unknown): value is DetectorFamily {
  return typeof value === 'string' && (DETECTOR_FAMILIES as readonly string[]).includes(value);
}
