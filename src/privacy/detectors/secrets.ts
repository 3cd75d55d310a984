import { NO_FINDINGS, type Finding } from '../finding.js';
import { atTokenEnd, atTokenStart } from './chars.js';

/**
 * Credentials: provider API keys, cloud keys, PEM private keys, JWTs and URLs carrying a password.
 *
 * Every rule starts at a literal anchor. One global regex made of all anchors scans the text once; only at an
 * anchor do the rules' sticky regexes run, so clean text costs a single regex pass and allocates nothing.
 */

interface AnchoredRule {
  readonly kind: string;
  readonly anchors: readonly string[];
  /** Sticky (`y`) regex matched exactly at the anchor. */
  readonly pattern: RegExp;
  /** Require a non-token character (or the text edge) on both sides. */
  readonly bounded: boolean;
  readonly validate?: (text: string, start: number, end: number) => boolean;
}

/** Random key material mixes cases and digits; this keeps kebab-case identifiers like `sk-learn-...` out. */
function looksRandom(text: string, start: number, end: number): boolean {
  let upper = false;
  let lower = false;
  let digit = false;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c >= 65 && c <= 90) upper = true;
    else if (c >= 97 && c <= 122) lower = true;
    else if (c >= 48 && c <= 57) digit = true;
    if (upper && lower && digit) return true;
  }
  return false;
}

function randomAfter(prefixLength: number) {
  return (text: string, start: number, end: number): boolean => looksRandom(text, start + prefixLength, end);
}

/** A JWT's header is base64url JSON naming its algorithm; random dotted base64 is not a JWT. */
function jwtHeaderValid(text: string, start: number): boolean {
  const dot = text.indexOf('.', start);
  if (dot === -1 || dot - start > 2048) return false;
  let b64 = text.slice(start, dot).replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '');
  if (b64.length % 4 === 1) return false;
  while (b64.length % 4 !== 0) b64 += '=';
  try {
    const header: unknown = JSON.parse(atob(b64));
    return typeof header === 'object' && header !== null && typeof (header as { alg?: unknown }).alg === 'string';
  } catch {
    return false;
  }
}

const RULES: readonly AnchoredRule[] = [
  {
    kind: 'secret.aws_access_key',
    anchors: ['AKIA', 'ASIA', 'AGPA', 'AIDA', 'AROA', 'AIPA', 'ANPA', 'ANVA', 'ABIA', 'ACCA', 'A3T'],
    pattern: /(?:A3T[A-Z0-9]|A[A-Z]{3})[A-Z0-9]{16}/y,
    bounded: true,
  },
  {
    kind: 'secret.anthropic_key',
    anchors: ['sk-ant-'],
    pattern: /sk-ant-(?:api|admin|oat|sid)\d{2}-[A-Za-z0-9_-]{32,300}/y,
    bounded: true,
  },
  {
    kind: 'secret.openai_key',
    anchors: ['sk-'],
    // Classic `sk-<48>`, and project / service-account / admin keys. `sk-ant-` is claimed by the rule above.
    pattern: /sk-(?!ant-)(?:proj-|svcacct-|admin-|None-)?[A-Za-z0-9_-]{20,300}/y,
    bounded: true,
    validate: randomAfter(3),
  },
  {
    kind: 'secret.github_token',
    anchors: ['ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_', 'github_pat_'],
    pattern: /(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})/y,
    bounded: true,
  },
  {
    kind: 'secret.slack_token',
    anchors: ['xox'],
    pattern: /xox[abposre]-[A-Za-z0-9-]{10,250}/y,
    bounded: true,
    validate: (text, start, end) => hasDigit(text, start + 5, end),
  },
  {
    kind: 'secret.slack_token',
    anchors: ['hooks.slack.com/services/'],
    pattern: /hooks\.slack\.com\/services\/T[A-Z0-9]{6,}\/B[A-Z0-9]{6,}\/[A-Za-z0-9]{16,}/y,
    bounded: false,
  },
  {
    kind: 'secret.google_api_key',
    anchors: ['AIza'],
    pattern: /AIza[0-9A-Za-z_-]{35}/y,
    bounded: true,
  },
  {
    kind: 'secret.stripe_key',
    anchors: ['sk_live_', 'sk_test_', 'rk_live_', 'rk_test_'],
    pattern: /[sr]k_(?:live|test)_[0-9A-Za-z]{16,247}/y,
    bounded: true,
  },
  {
    kind: 'secret.gitlab_token',
    anchors: ['glpat-'],
    pattern: /glpat-[A-Za-z0-9_-]{20,64}/y,
    bounded: true,
  },
  {
    kind: 'secret.huggingface_token',
    anchors: ['hf_'],
    pattern: /hf_[A-Za-z0-9]{30,64}/y,
    bounded: true,
    validate: randomAfter(3),
  },
  {
    kind: 'secret.jwt',
    anchors: ['eyJ'],
    pattern: /eyJ[A-Za-z0-9_-]{4,2048}={0,2}\.[A-Za-z0-9_-]{2,16384}={0,2}\.[A-Za-z0-9_-]{0,2048}={0,2}/y,
    bounded: true,
    validate: (text, start) => jwtHeaderValid(text, start),
  },
];

function hasDigit(text: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) return true;
  }
  return false;
}

const PEM_BEGIN = /-----BEGIN (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----/y;
const PEM_END = '-----END ';

function privateKeyAt(text: string, at: number): Finding | undefined {
  PEM_BEGIN.lastIndex = at;
  if (!PEM_BEGIN.test(text)) return undefined;
  let end = PEM_BEGIN.lastIndex;
  // Cover the body up to the footer when present; a header alone (key cut off) still counts.
  const footer = text.indexOf(PEM_END, end);
  if (footer !== -1) {
    const close = text.indexOf('-----', footer + PEM_END.length);
    end = close === -1 ? footer + PEM_END.length : close + 5;
  }
  return { kind: 'secret.private_key', start: at, end };
}

// From the scheme: optional user, a non-empty password, a host, then any path. Stops at whitespace and quotes.
const CREDENTIAL_URL = /[A-Za-z][A-Za-z0-9+.-]{1,30}:\/\/[^\s:/?#@'"`<>]*:([^\s/?#@'"`<>]+)@[^\s/?#'"`<>]+(?:[/?#][^\s'"`<>]*)?/y;
// Template placeholders are not passwords: ${PGPASSWORD}, {{pass}}, <password>, %s, ****.
const PLACEHOLDER = /^(?:\$|\{|<|%s$|\*+$|x+$)/i;

function isSchemeChar(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 43 || c === 45 || c === 46;
}

/** A URL with a password around the `://` at `at`, scanning back for its scheme. */
function credentialUrlAt(text: string, at: number): Finding | undefined {
  let start = at;
  while (start > 0 && at - start < 32 && isSchemeChar(text.charCodeAt(start - 1))) start--;
  if (start === at) return undefined;
  CREDENTIAL_URL.lastIndex = start;
  const m = CREDENTIAL_URL.exec(text);
  if (m === null || m[1] === undefined || PLACEHOLDER.test(m[1])) return undefined;
  return { kind: 'secret.connection_string', start, end: CREDENTIAL_URL.lastIndex };
}

const PEM_ANCHOR = '-----BEGIN ';
const URL_ANCHOR = '://';

const RULES_BY_ANCHOR = new Map<string, AnchoredRule[]>();
for (const rule of RULES) {
  for (const anchor of rule.anchors) {
    const list = RULES_BY_ANCHOR.get(anchor) ?? [];
    list.push(rule);
    RULES_BY_ANCHOR.set(anchor, list);
  }
}

// Longest anchors first so that, e.g., `sk-ant-` is reported as itself rather than as `sk-`.
const ANCHOR = new RegExp(
  [...RULES_BY_ANCHOR.keys(), PEM_ANCHOR, URL_ANCHOR]
    .sort((a, b) => b.length - a.length)
    .map((a) => a.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'))
    .join('|'),
  'g',
);

/** End of the rule's match at `start`, or -1. */
function matchRule(text: string, rule: AnchoredRule, start: number): number {
  if (rule.bounded && !atTokenStart(text, start)) return -1;
  rule.pattern.lastIndex = start;
  if (!rule.pattern.test(text)) return -1;
  const end = rule.pattern.lastIndex;
  if (rule.bounded && !atTokenEnd(text, end)) return -1;
  if (rule.validate !== undefined && !rule.validate(text, start, end)) return -1;
  return end;
}

export function detectSecrets(text: string): readonly Finding[] {
  let out: Finding[] | undefined;
  ANCHOR.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = ANCHOR.exec(text)) !== null) {
    const anchor = m[0];
    const at = m.index;
    let found: Finding | undefined;
    if (anchor === URL_ANCHOR) found = credentialUrlAt(text, at);
    else if (anchor === PEM_ANCHOR) found = privateKeyAt(text, at);
    else {
      for (const rule of RULES_BY_ANCHOR.get(anchor) ?? []) {
        const end = matchRule(text, rule, at);
        if (end !== -1) {
          found = { kind: rule.kind, start: at, end };
          break;
        }
      }
    }
    if (found !== undefined) {
      (out ??= []).push(found);
      ANCHOR.lastIndex = found.end;
    }
  }
  return out ?? NO_FINDINGS;
}
