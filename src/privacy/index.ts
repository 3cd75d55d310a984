// The privacy stage: classes, content detectors and the classifier that combines them.
export { PRIVACY_CLASSES, atLeast, classRank, isPrivacyClass, maxClass, type PrivacyClass } from './classes.js';
export { NO_FINDINGS, type Detector, type Finding } from './finding.js';
export {
  ClassifierConfigError,
  DEFAULT_CLASSIFIER_CONFIG,
  resolveClassifierConfig,
  type ClassifierConfig,
  type ClassifierOptions,
  type EnabledDetector,
  type KeywordRule,
  type PatternRule,
} from './config.js';
export { classifyTexts, type Classification } from './classify.js';
export { collectRequestTexts, type RequestLike } from './request-texts.js';
export * from './detectors/index.js';
