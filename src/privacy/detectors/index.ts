import type { PrivacyClass } from '../classes';
import type { Detector } from '../finding';
import { detectCards } from './card';
import { detectEmails } from './email';
import { detectIbans } from './iban';
import { detectPhones } from './phone';
import { detectSecrets } from './secrets';
import { detectSsns } from './ssn';

export { detectCards, knownIssuer, luhnValid } from './card';
export { detectEmails } from './email';
export { detectIbans, ibanChecksumValid, IBAN_LENGTHS } from './iban';
export { detectPhones } from './phone';
export { detectSecrets } from './secrets';
export { detectSsns, ssnPartsValid } from './ssn';
export { keywordDetector, patternDetector } from './custom';

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
