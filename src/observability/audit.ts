import type { PrivacyClass } from '../privacy/classes.js';

// One line per request: what was decided and how it went. Never message content, matched values or keys.

export interface AuditRecord {
  ts: string;
  request_id: string;
  endpoint: string;
  model: string;
  tenant: string;
  /** generation, evaluation or a custom purpose; null when the request stopped before auth. */
  purpose: string | null;
  class: PrivacyClass;
  /** What set the class: tenant, header, route, detectors. */
  class_signals: readonly string[];
  findings: Readonly<Record<string, number>>;
  route: string | null;
  target: string | null;
  attempts: ReadonlyArray<{ target: string; error?: string; status?: number }>;
  status: number;
  stream: boolean;
  duration_ms: number;
  ttfb_ms: number | null;
  prompt_tokens: number | null;
  completion_tokens: number | null;
  error_code: string | null;
  /** The cache stage's status (hit, miss, coalesced, refresh, bypass); null when the request stopped before it. */
  cache: 'hit' | 'miss' | 'coalesced' | 'refresh' | 'bypass' | null;
}

export type AuditSink = (record: AuditRecord) => void;
