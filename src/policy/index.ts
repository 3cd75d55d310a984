import type { LoadedPolicy } from '../deps.js';
import { resolveClassifierConfig, type ClassifierOptions } from '../privacy/config.js';
import { compilePolicy } from './compile.js';
import { parsePolicy, type Env } from './load.js';
import type { PolicyFile, Runtime } from './schema.js';

export { PolicyError } from './load.js';

export interface LoadOptions {
  /** The runtime that will serve requests: targets it cannot reach are unusable. Default 'node'. */
  runtime?: Runtime;
}

/** Policy text -> everything the request path reads, built once per load. Throws PolicyError with locations. */
export function loadPolicy(text: string, file: string, env: Env, options: LoadOptions = {}): LoadedPolicy {
  const parsed = parsePolicy(text, file, env);
  const policy = compilePolicy(parsed, file, options.runtime ?? 'node');
  return { policy, detectors: resolveClassifierConfig(classifierOptions(parsed.privacy)) };
}

/** The policy's `privacy` section in the classifier's terms (already validated by the schema). */
export function classifierOptions(privacy: PolicyFile['privacy']): ClassifierOptions {
  return {
    ...(privacy.detectors === undefined ? {} : { detectors: privacy.detectors }),
    ...(privacy.classes === undefined ? {} : { classes: privacy.classes }),
    patterns: privacy.patterns.map((p) => ({ name: p.name, pattern: p.pattern, class: p.class, ...(p.flags === undefined ? {} : { flags: p.flags }) })),
    keywords: privacy.keywords,
    crossBoundary: privacy.cross_boundary,
  };
}
