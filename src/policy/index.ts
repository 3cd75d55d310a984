import type { LoadedPolicy } from '../deps.js';
import { resolveClassifierConfig } from '../privacy/config.js';
import { compilePolicy } from './compile.js';
import { parsePolicy, type Env } from './load.js';

export { PolicyError } from './load.js';

/** Policy text -> everything the request path reads, built once per load. Throws PolicyError with locations. */
export function loadPolicy(text: string, file: string, env: Env): LoadedPolicy {
  const policy = compilePolicy(parsePolicy(text, file, env), file);
  return { policy, detectors: resolveClassifierConfig() };
}
