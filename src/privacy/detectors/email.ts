import { NO_FINDINGS, type Finding } from '../finding.js';

/**
 * Email addresses. Anchored at each `@` (found with indexOf) and expanded outwards, so text without `@` costs one
 * substring search and a long token never makes a regex retry from every position.
 *
 * The domain must end in an alphabetic TLD, which keeps `pkg@1.2.3`, `@decorators`, `@scope/pkg` and `user@host`
 * out. `git@github.com:org/repo` (scp-style SSH remotes) is not an address and is skipped.
 */
const DOMAIN = /(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![A-Za-z0-9-])/y;
const MAX_LOCAL = 64;

function isLocalChar(c: number): boolean {
  return (
    (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) ||
    c === 46 /* . */ || c === 95 /* _ */ || c === 37 /* % */ || c === 43 /* + */ || c === 45 /* - */
  );
}

export function detectEmails(text: string): readonly Finding[] {
  let out: Finding[] | undefined;
  let at = text.indexOf('@');
  while (at !== -1) {
    let start = at;
    while (start > 0 && at - start < MAX_LOCAL && isLocalChar(text.charCodeAt(start - 1))) start--;
    while (start < at && text.charCodeAt(start) === 46) start++; // a local part never starts with '.'
    let next = at + 1;
    if (start < at && text.charCodeAt(at - 1) !== 46) {
      DOMAIN.lastIndex = at + 1;
      if (DOMAIN.test(text)) {
        const end = DOMAIN.lastIndex;
        const scpRemote = text.charCodeAt(end) === 58 /* : */ && end + 1 < text.length && text.charCodeAt(end + 1) > 32;
        if (!scpRemote) {
          (out ??= []).push({ kind: 'email', start, end });
          next = end;
        }
      }
    }
    at = text.indexOf('@', next);
  }
  return out ?? NO_FINDINGS;
}
