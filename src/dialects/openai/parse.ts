import type { z } from 'zod';
import { HeddleError, invalidRequest } from '../../errors.js';
import { JsonTooDeep, MAX_JSON_DEPTH, parseJson } from '../../json.js';

// Stage 1 for the OpenAI dialect: body text -> validated canonical request, or a 400 naming the field.

export function parseJsonBody(text: string): unknown {
  if (text.trim() === '') throw invalidRequest('The request body is empty; send a JSON object.', null, 'invalid_json');
  try {
    return parseJson(text);
  } catch (err) {
    if (err instanceof JsonTooDeep) {
      // Named down to the third step: enough to find it (`messages[2].content`), short enough to read.
      const param = formatPath(err.path.slice(0, 3));
      throw invalidRequest(`'${param}' nests deeper than ${MAX_JSON_DEPTH} levels of JSON.`, param, 'json_too_deep');
    }
    const detail = err instanceof SyntaxError ? ` (${err.message})` : '';
    throw invalidRequest(`The request body is not valid JSON${detail}.`, null, 'invalid_json');
  }
}

export function validate<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw invalidRequest('The request body must be a JSON object.', null, 'invalid_request_body');
  }
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  // Parsed again with reportInput (several times slower, so only on failure): it lets the message tell a missing
  // field from a wrong one; the input itself is never echoed.
  const reported = schema.safeParse(body, { reportInput: true });
  const issue = reported.error?.issues[0];
  const param = issue ? formatPath(issue.path) : null;
  throw invalidRequest(issue ? describeIssue(issue, param ?? '') : 'Invalid request.', param, 'invalid_value');
}

export function tooLarge(limit: number): HeddleError {
  return new HeddleError({
    status: 413,
    type: 'invalid_request_error',
    code: 'request_too_large',
    message: `The request body is larger than this gateway's limit of ${limit} bytes.`,
  });
}

/** `messages[0].content` style, as OpenAI names params. */
function formatPath(path: PropertyKey[]): string | null {
  if (path.length === 0) return null;
  let out = '';
  for (const key of path) out += typeof key === 'number' ? `[${key}]` : out === '' ? String(key) : `.${String(key)}`;
  return out;
}

function describeIssue(issue: z.core.$ZodIssue, param: string): string {
  const where = param === '' ? 'The request' : `'${param}'`;
  if (issue.input === undefined && issue.code !== 'unrecognized_keys') return `${where} is required.`;
  switch (issue.code) {
    case 'invalid_type':
      return `${where} must be ${article(issue.expected)}.`;
    case 'too_small':
      return issue.origin === 'array' ? `${where} must have at least ${issue.minimum} item(s).` : `${where} is too small (minimum ${issue.minimum}).`;
    case 'too_big':
      return issue.origin === 'array' ? `${where} must have at most ${issue.maximum} item(s).` : `${where} is too large (maximum ${issue.maximum}).`;
    case 'invalid_union':
      return 'note' in issue && issue.note === 'No matching discriminator'
        ? `${where} is not one of the supported values.`
        : `${where} has an invalid value.`;
    case 'invalid_value':
      return `${where} must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}.`;
    default:
      return `${where}: ${issue.message}`;
  }
}

function article(expected: string): string {
  return /^[aeiou]/.test(expected) ? `an ${expected}` : `a ${expected}`;
}
