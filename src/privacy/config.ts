import { isPrivacyClass, type PrivacyClass } from './classes.js';
import type { Detector } from './finding.js';
import {
  BUILTIN_DETECTORS,
  DEFAULT_FAMILY_CLASSES,
  DETECTOR_FAMILIES,
  isDetectorFamily,
  keywordDetector,
  patternDetector,
  type DetectorFamily,
} from './detectors/index.js';

/** A policy regex: every match is a finding of kind `custom.<name>`. */
export interface PatternRule {
  readonly name: string;
  readonly pattern: string | RegExp;
  readonly flags?: string;
  readonly class: PrivacyClass;
}

/** Policy keywords, matched case-insensitively as whole words; findings are of kind `keyword.<name>`. */
export interface KeywordRule {
  readonly name: string;
  readonly words: readonly string[];
  readonly class: PrivacyClass;
}

/** The privacy detector settings as a policy states them. Everything is optional; defaults fill the rest. */
export interface ClassifierOptions {
  /** Built-in families to run; all of them when absent. */
  readonly detectors?: readonly DetectorFamily[];
  /** Class each family's findings raise a request to; see DEFAULT_FAMILY_CLASSES. */
  readonly classes?: Partial<Readonly<Record<DetectorFamily, PrivacyClass>>>;
  readonly patterns?: readonly PatternRule[];
  readonly keywords?: readonly KeywordRule[];
  /** Also look for items split across adjacent texts (default true). */
  readonly crossBoundary?: boolean;
}

export interface EnabledDetector {
  /** Reported as `detector_error.<name>` when the detector throws. */
  readonly name: string;
  readonly class: PrivacyClass;
  readonly detect: Detector;
}

/** The resolved, immutable form the classifier runs with. Build it once per policy load. */
export interface ClassifierConfig {
  readonly detectors: readonly EnabledDetector[];
  readonly crossBoundary: boolean;
}

export class ClassifierConfigError extends Error {
  override readonly name = 'ClassifierConfigError';
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export function resolveClassifierConfig(options: ClassifierOptions = {}): ClassifierConfig {
  const detectors: EnabledDetector[] = [];
  const families = options.detectors ?? DETECTOR_FAMILIES;
  const seen = new Set<string>();
  families.forEach((family, i) => {
    if (!isDetectorFamily(family)) {
      throw new ClassifierConfigError(`detectors[${i}]: unknown detector "${String(family)}" (known: ${DETECTOR_FAMILIES.join(', ')})`);
    }
    if (seen.has(family)) throw new ClassifierConfigError(`detectors[${i}]: duplicate detector "${family}"`);
    seen.add(family);
    const cls = options.classes?.[family] ?? DEFAULT_FAMILY_CLASSES[family];
    if (!isPrivacyClass(cls)) throw new ClassifierConfigError(`classes.${family}: unknown class "${String(cls)}"`);
    detectors.push({ name: family, class: cls, detect: BUILTIN_DETECTORS[family] });
  });
  for (const key of Object.keys(options.classes ?? {})) {
    if (!isDetectorFamily(key)) throw new ClassifierConfigError(`classes.${key}: unknown detector "${key}"`);
  }

  (options.patterns ?? []).forEach((rule, i) => {
    const path = `patterns[${i}]`;
    const name = checkRule(path, rule.name, rule.class, seen, 'custom');
    let detect: Detector;
    try {
      detect = patternDetector(name, rule.pattern, rule.flags);
    } catch (err) {
      throw new ClassifierConfigError(`${path}.pattern: invalid regular expression (${err instanceof Error ? err.message : String(err)})`);
    }
    detectors.push({ name, class: rule.class, detect });
  });

  (options.keywords ?? []).forEach((rule, i) => {
    const path = `keywords[${i}]`;
    const name = checkRule(path, rule.name, rule.class, seen, 'keyword');
    if (!Array.isArray(rule.words) || rule.words.some((w) => typeof w !== 'string' || w.trim() === '')) {
      throw new ClassifierConfigError(`${path}.words: expected a list of non-empty strings`);
    }
    detectors.push({ name, class: rule.class, detect: keywordDetector(name, rule.words) });
  });

  return Object.freeze({ detectors: Object.freeze(detectors), crossBoundary: options.crossBoundary ?? true });
}

function checkRule(path: string, name: string, cls: PrivacyClass, seen: Set<string>, prefix: string): string {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new ClassifierConfigError(`${path}.name: expected letters, digits, '_', '.' or '-' (got "${String(name)}")`);
  }
  if (!isPrivacyClass(cls)) throw new ClassifierConfigError(`${path}.class: unknown class "${String(cls)}"`);
  const full = `${prefix}.${name}`;
  if (seen.has(full)) throw new ClassifierConfigError(`${path}.name: duplicate name "${name}"`);
  seen.add(full);
  return full;
}

/** All built-in detectors with their default classes. */
export const DEFAULT_CLASSIFIER_CONFIG: ClassifierConfig = resolveClassifierConfig();
