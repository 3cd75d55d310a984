import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { policySchema, type PolicyFile } from './schema.js';

// Policy text -> validated PolicyFile. Every error names the file, line, column and path, so a user can fix a
// broken edit without guessing. `${VAR}` (or `${VAR:-default}`) in any string is read from the environment,
// so secrets never live in the file.

export class PolicyError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'PolicyError';
  }
}

export type Env = Readonly<Record<string, string | undefined>>;

export function parsePolicy(text: string, file: string, env: Env): PolicyFile {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const where = (offset: number | undefined): string => {
    if (offset === undefined) return file;
    const { line, col } = lineCounter.linePos(offset);
    return `${file}:${line}:${col}`;
  };
  if (doc.errors.length > 0) {
    throw new PolicyError(doc.errors.map((e) => `${where(e.pos[0])}: YAML: ${e.message.split('\n')[0]}`));
  }
  const problems: string[] = [];
  interpolate(doc, doc.contents, env, (node, message) => problems.push(`${where(node.range?.[0])}: ${message}`));
  if (problems.length > 0) throw new PolicyError(problems);

  const parsed = policySchema.safeParse(doc.toJS());
  if (!parsed.success) {
    throw new PolicyError(parsed.error.issues.map((issue) => describeIssue(doc, issue, where)));
  }
  return parsed.data;
}

function describeIssue(doc: Document, issue: z.core.$ZodIssue, where: (offset: number | undefined) => string): string {
  // A one-or-many field fails as a union; the single-value branch says what was wrong in the user's terms.
  const shown = issue.code === 'invalid_union' ? (issue.errors[0]?.[0] ?? issue) : issue;
  const path = [...issue.path, ...(shown === issue ? [] : shown.path)].map(String);
  // Point at the deepest node that exists (a missing key is reported at its parent).
  let offset: number | undefined;
  for (let depth = path.length; depth >= 0 && offset === undefined; depth--) {
    const node = doc.getIn(path.slice(0, depth), true);
    if (isNode(node)) offset = node.range?.[0];
  }
  const dotted = path.length > 0 ? path.join('.') : '(root)';
  let message = shown.message;
  if (shown.code === 'unrecognized_keys') message = `unknown key(s) ${shown.keys.map((k) => `'${k}'`).join(', ')}`;
  else if (shown.code === 'invalid_type' && / received undefined$/.test(message)) message = `required (${shown.expected})`;
  return `${where(offset)}: ${dotted}: ${message}`;
}

function isNode(value: unknown): value is Node {
  return isScalar(value) || isMap(value) || isSeq(value);
}

const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

function interpolate(doc: Document, node: unknown, env: Env, report: (node: Node, message: string) => void): void {
  if (isMap(node)) {
    for (const pair of node.items) interpolate(doc, pair.value, env, report);
  } else if (isSeq(node)) {
    for (const item of node.items) interpolate(doc, item, env, report);
  } else if (isScalar(node) && typeof node.value === 'string' && node.value.includes('${')) {
    node.value = node.value.replace(ENV_REF, (_, name: string, fallback: string | undefined) => {
      const value = env[name];
      if (value !== undefined && value !== '') return value;
      if (fallback !== undefined) return fallback;
      report(node, `environment variable ${name} is not set (write \${${name}:-} to allow it to be empty)`);
      return '';
    });
  }
}
