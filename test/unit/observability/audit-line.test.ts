import { describe, expect, it } from 'vitest';
import { auditLine, type AuditRecord } from '../../../src/observability/audit.js';

// The audit line is hand-serialized for speed; it must be byte for byte what JSON.stringify writes, for every
// shape a record takes (failures, skipped targets, findings, nulls, strings that need escaping).

const base: AuditRecord = {
  ts: '2026-11-27T14:00:00.000Z',
  request_id: '0b6f2d1c-5a4e-4c3b-9a8f-7e6d5c4b3a21',
  endpoint: 'chat',
  model: 'heddle-demo',
  tenant: 'anonymous',
  purpose: 'generation',
  class: 'internal',
  class_signals: ['tenant'],
  findings: {},
  route: 'demo',
  target: 'local',
  attempts: [{ target: 'local' }],
  status: 200,
  stream: false,
  duration_ms: 1.234,
  ttfb_ms: 1.2,
  prompt_tokens: 64,
  completion_tokens: 12,
  error_code: null,
  cache: 'bypass',
};

const records: AuditRecord[] = [
  base,
  { ...base, purpose: null, class: 'restricted', class_signals: [], route: null, target: null, attempts: [], status: 400, ttfb_ms: null, prompt_tokens: null, completion_tokens: null, error_code: 'invalid_value', cache: null },
  {
    ...base,
    class: 'confidential',
    class_signals: ['tenant', 'detectors', 'header'],
    findings: { email: 2, payment_card: 1, 'custom:project "x"': 3 },
    attempts: [
      { target: 'local', error: 'upstream_unreachable', status: 502 },
      { target: 'ollama', skipped: 'breaker open' },
      { target: 'cloud', error: 'timeout_first_byte', status: 504 },
    ],
    status: 503,
    stream: true,
    error_code: 'all_targets_failed',
    cache: 'miss',
  },
  { ...base, model: 'we\u0301ird "model"\\ \n\t\u2028 \u{1F600} \u0000', tenant: 'T\u00e9nant', route: 'r"1', target: 'a\\b', duration_ms: 0, ttfb_ms: 1e-7, prompt_tokens: 2 ** 53 },
  { ...base, duration_ms: Number.NaN, ttfb_ms: Number.POSITIVE_INFINITY, cache: 'hit', attempts: [{ target: 'x', status: 200 }] },
];

describe('auditLine', () => {
  records.forEach((record, i) => {
    it(`writes record ${i} as JSON.stringify does`, () => {
      expect(auditLine(record)).toBe(JSON.stringify(record));
    });
  });
});
