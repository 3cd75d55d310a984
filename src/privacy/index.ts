// The privacy stage: classes, content detectors and the classifier that combines them.
export { PRIVACY_CLASSES, atLeast, classRank, isPrivacyClass, maxClass, type PrivacyClass } from './classes';
export { NO_FINDINGS, type Detector, type Finding } from './finding';
export {
  ClassifierConfigError,
  DEFAULT_CLASSIFIER_CONFIG,
  resolveClassifierConfig,
  type ClassifierConfig,
  type ClassifierOptions,
  type EnabledDetector,
  type KeywordRule,
  type PatternRule,
} from './config';
export { classifyTexts, type Classification } from './classify';
export { collectRequestTexts, type RequestLike } from './request-texts';
export * from './detectors/index';
