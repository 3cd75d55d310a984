// Character tests shared by the detectors. They work on UTF-16 code units so scans never allocate.

export function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

export function isAsciiAlnum(code: number): boolean {
  return (code >= 48 && code <= 57) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122);
}

/** Characters that continue an identifier-like token (keys, ids, base64url). */
export function isTokenChar(code: number): boolean {
  return isAsciiAlnum(code) || code === 95 /* _ */ || code === 45 /* - */;
}

/** True when position `i` of `text` starts a token: start of text or a non-token character before it. */
export function atTokenStart(text: string, i: number): boolean {
  return i === 0 || !isTokenChar(text.charCodeAt(i - 1));
}

/** True when position `i` (exclusive end) ends a token: end of text or a non-token character at it. */
export function atTokenEnd(text: string, i: number): boolean {
  return i >= text.length || !isTokenChar(text.charCodeAt(i));
}
