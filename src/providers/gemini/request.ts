import * as z from 'zod';
import type { ChatMessage, ChatRequest, ContentPart, ToolCall, ToolChoice } from '../../dialects/openai/schema.js';
import { invalidRequest } from '../../errors.js';
import type { GeminiContent, GeminiGenerationConfig, GeminiPart, GeminiRequest } from './wire.js';
import { parseDataUrl, parseToolArguments, textOnly } from '../content.js';
import { isRecord, parseJson } from '../../json.js';

const GEMINI_TEXT_ONLY = 'Only text is supported here for Gemini targets.';

// Canonical (OpenAI) chat request -> Gemini generateContent request. Pure; throws a 400 naming the parameter
// for anything Gemini cannot express.

/**
 * Gemini 3 rejects a replayed function call without the thought signature it was sent with. We hand the
 * signature to clients the way Google's own OpenAI-compatible endpoint does (`extra_content.google`) and read
 * it back; a client that dropped it gets the dummy value Google documents for history it did not produce
 * (https://ai.google.dev/gemini-api/docs/thought-signatures).
 */
export const DUMMY_THOUGHT_SIGNATURE = 'skip_thought_signature_validator';

const signatureCarrier = z.looseObject({
  extra_content: z.looseObject({ google: z.looseObject({ thought_signature: z.string() }) }),
});

export function thoughtSignatureOf(call: ToolCall): string | undefined {
  const parsed = signatureCarrier.safeParse(call);
  return parsed.success ? parsed.data.extra_content.google.thought_signature : undefined;
}

export function toGeminiRequest(req: ChatRequest): GeminiRequest {
  const system: string[] = [];
  const contents: GeminiContent[] = [];
  const toolNames = new Map<string, string>();
  req.messages.forEach((message, i) => {
    if (message.role === 'system' || message.role === 'developer') {
      system.push(textOnly(message.content, `messages[${i}].content`, GEMINI_TEXT_ONLY));
      return;
    }
    const turn = toTurn(message, i, toolNames);
    if (turn.parts.length === 0) return;
    const last = contents.at(-1);
    // Parallel function responses must share one turn; merging neighbours keeps roles alternating too.
    if (last && last.role === turn.role) last.parts.push(...turn.parts);
    else contents.push(turn);
  });
  if (contents.length === 0) {
    throw invalidRequest('Gemini targets need at least one user or assistant message.', 'messages');
  }

  const out: GeminiRequest = { contents };
  const systemText = system.filter((s) => s.length > 0).join('\n\n');
  if (systemText) out.systemInstruction = { parts: [{ text: systemText }] };
  if (req.tools && req.tools.length > 0) {
    out.tools = [
      {
        functionDeclarations: req.tools.map((tool) => ({
          name: tool.function.name,
          ...(tool.function.description ? { description: tool.function.description } : {}),
          ...(tool.function.parameters ? { parametersJsonSchema: tool.function.parameters } : {}),
        })),
      },
    ];
    if (req.tool_choice !== undefined) out.toolConfig = { functionCallingConfig: toFunctionCalling(req.tool_choice) };
  }
  const config = generationConfig(req);
  if (Object.keys(config).length > 0) out.generationConfig = config;
  return out;
}

function generationConfig(req: ChatRequest): GeminiGenerationConfig {
  const config: GeminiGenerationConfig = {};
  if (req.temperature != null) config.temperature = req.temperature;
  if (req.top_p != null) config.topP = req.top_p;
  const maxTokens = req.max_completion_tokens ?? req.max_tokens;
  if (maxTokens != null) config.maxOutputTokens = maxTokens;
  if (req.stop != null) config.stopSequences = typeof req.stop === 'string' ? [req.stop] : req.stop;
  if (req.n != null) config.candidateCount = req.n;
  if (req.seed != null) config.seed = req.seed;
  if (req.presence_penalty != null) config.presencePenalty = req.presence_penalty;
  if (req.frequency_penalty != null) config.frequencyPenalty = req.frequency_penalty;
  const format = req.response_format;
  if (format?.type === 'json_object') config.responseMimeType = 'application/json';
  if (format?.type === 'json_schema') {
    config.responseMimeType = 'application/json';
    if (format.json_schema.schema) config.responseJsonSchema = format.json_schema.schema;
  }
  return config;
}

function toTurn(
  message: Exclude<ChatMessage, { role: 'system' | 'developer' }>,
  i: number,
  toolNames: Map<string, string>,
): GeminiContent {
  switch (message.role) {
    case 'user':
      return { role: 'user', parts: toParts(message.content, `messages[${i}].content`) };
    case 'assistant': {
      const parts = message.content == null ? [] : toParts(message.content, `messages[${i}].content`);
      (message.tool_calls ?? []).forEach((call, j) => {
        toolNames.set(call.id, call.function.name);
        const signature = thoughtSignatureOf(call) ?? (j === 0 ? DUMMY_THOUGHT_SIGNATURE : undefined);
        parts.push({
          functionCall: {
            name: call.function.name,
            args: parseToolArguments(call.function.arguments, `messages[${i}].tool_calls[${j}].function.arguments`),
          },
          ...(signature ? { thoughtSignature: signature } : {}),
        });
      });
      return { role: 'model', parts };
    }
    case 'tool': {
      const name = toolNames.get(message.tool_call_id);
      if (!name) {
        throw invalidRequest(
          `No earlier assistant tool call has the id '${message.tool_call_id}'; Gemini needs the function name.`,
          `messages[${i}].tool_call_id`,
        );
      }
      const text = textOnly(message.content, `messages[${i}].content`, GEMINI_TEXT_ONLY);
      return { role: 'user', parts: [{ functionResponse: { name, response: toResponse(text) } }] };
    }
  }
}

/** A JSON object result is passed as is; anything else goes under `output`, the key Gemini documents. */
function toResponse(text: string): Record<string, unknown> {
  try {
    const value = parseJson(text);
    return isRecord(value) ? value : { output: value };
  } catch {
    return { output: text };
  }
}

function toParts(content: string | ContentPart[], param: string): GeminiPart[] {
  if (typeof content === 'string') return content ? [{ text: content }] : [];
  const parts: GeminiPart[] = [];
  content.forEach((part, j) => {
    const at = `${param}[${j}]`;
    switch (part.type) {
      case 'text':
        if (part.text) parts.push({ text: part.text });
        return;
      case 'refusal':
        if (part.refusal) parts.push({ text: part.refusal });
        return;
      case 'image_url': {
        const data = parseDataUrl(part.image_url.url);
        if (!data) {
          throw invalidRequest('Gemini targets accept images only as base64 data: URLs.', `${at}.image_url.url`);
        }
        parts.push({ inlineData: { mimeType: data.mediaType, data: data.data } });
        return;
      }
      case 'input_audio':
        parts.push({ inlineData: { mimeType: `audio/${part.input_audio.format}`, data: part.input_audio.data } });
        return;
      default:
        throw invalidRequest(`Content parts of type '${part.type}' are not supported by Gemini targets.`, `${at}.type`);
    }
  });
  return parts;
}

function toFunctionCalling(choice: ToolChoice): { mode: 'AUTO' | 'ANY' | 'NONE'; allowedFunctionNames?: string[] } {
  if (choice === 'none') return { mode: 'NONE' };
  if (choice === 'auto') return { mode: 'AUTO' };
  if (choice === 'required') return { mode: 'ANY' };
  return { mode: 'ANY', allowedFunctionNames: [choice.function.name] };
}
