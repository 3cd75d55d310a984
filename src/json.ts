// Shapes of parsed JSON values, shared by the dialects, the providers, the privacy stage and the schema validator.

/** A JSON object: not null, not an array. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Tool call arguments (JSON text, as OpenAI's wire carries them) as the object the Anthropic and Ollama wires carry:
 * empty text is `{}`, and text that is not a JSON object is kept under `arguments` rather than lost.
 */
export function argumentsObject(text: string): Record<string, unknown> {
  if (text.trim() === '') return {};
  try {
    const value: unknown = JSON.parse(text);
    if (isRecord(value)) return value;
  } catch {
    // not JSON: kept as text below
  }
  return { arguments: text };
}
