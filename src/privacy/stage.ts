import type { ChatRequest, EmbeddingsRequest } from '../dialects/openai/schema.js';
import { invalidRequest } from '../errors.js';
import type { Tenant } from '../auth/index.js';
import { isPrivacyClass, maxClass, type PrivacyClass } from './classes.js';
import { classifyTexts, collectRequestTexts } from './classify.js';
import type { ClassifierConfig } from './config.js';

// Stage 3: the request's privacy class = max(tenant floor, trusted header (may only raise), detectors).

export const PRIVACY_HEADER = 'x-heddle-privacy';

export interface ClassDecision {
  class: PrivacyClass;
  /** What set the class, for audit and explain: 'tenant', 'header', 'detectors'. */
  signals: string[];
  findings: Readonly<Record<string, number>>;
}

export function classifyRequest(
  req: ChatRequest | EmbeddingsRequest,
  tenant: Tenant,
  header: string | null,
  detectors: ClassifierConfig,
): ClassDecision {
  let headerClass: PrivacyClass = 'public';
  if (header !== null) {
    if (!isPrivacyClass(header)) {
      throw invalidRequest(
        `Header ${PRIVACY_HEADER} must be one of public, internal, confidential, restricted (got '${header.slice(0, 40)}').`,
        PRIVACY_HEADER,
      );
    }
    headerClass = header;
  }
  const content = classifyTexts(collectRequestTexts(req), detectors);
  const cls = maxClass(tenant.floor, headerClass, content.class);
  const signals: string[] = [];
  if (cls === tenant.floor) signals.push('tenant');
  if (header !== null && cls === headerClass) signals.push('header');
  if (Object.keys(content.findings).length > 0 && cls === content.class) signals.push('detectors');
  return { class: cls, signals, findings: content.findings };
}
