import type { ContentPart } from '../dialects/openai/schema.js';
import { invalidRequest } from '../errors.js';
import { isRecord, JsonTooDeep, MAX_JSON_DEPTH, parseJson } from '../json.js';

// Translation helpers shared by the adapters whose wire is not OpenAI's (Anthropic, Gemini).

/** `data:<media type>;base64,<data>`; undefined when the URL is not a base64 data URL. */
export function parseDataUrl(url: string): { mediaType: string; data: string } | undefined {
  const match = /^data:([^;,]+)(?:;[^;,=]+=[^;,]*)*;base64,(.*)$/is.exec(url);
  if (!match?.[1] || match[2] === undefined) return undefined;
  return { mediaType: match[1].toLowerCase(), data: match[2] };
}

/** The text of a message whose target accepts only text there; other parts are a 400 naming the part. */
export function textOnly(content: string | ContentPart[], param: string, why: string): string {
  if (typeof content === 'string') return content;
  return content
    .map((part, j) => {
      if (part.type !== 'text') throw invalidRequest(why, `${param}[${j}].type`);
      return part.text;
    })
    .join('\n');
}

/** OpenAI tool-call arguments (a JSON string) as the object other wires expect; empty means `{}`. */
export function parseToolArguments(text: string, param: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = text.trim() === '' ? {} : parseJson(text);
  } catch (err) {
    const depth = err instanceof JsonTooDeep ? ` nested at most ${MAX_JSON_DEPTH} levels deep` : '';
    throw invalidRequest(`Tool call arguments must be a JSON object${depth}.`, param);
  }
  if (!isRecord(value)) throw invalidRequest('Tool call arguments must be a JSON object.', param);
  return value;
}
