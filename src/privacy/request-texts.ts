import { isRecord } from '../json.js';

/**
 * Every text an upstream would see in an OpenAI-style chat or embeddings request, in request order. Typed
 * structurally with `unknown` leaves so any canonical request type fits without importing it, and checked at
 * runtime so an unexpected shape yields fewer texts, never a throw.
 *
 * Not collected: images and audio (not text), token-id arrays (`input: number[]`), and ids such as
 * `tool_call_id` that the gateway itself produced or that carry no user content.
 */

export interface FunctionCallLike {
  readonly name?: unknown;
  readonly arguments?: unknown;
}

export interface ChatMessageLike {
  readonly role?: unknown;
  readonly tool_call_id?: unknown;
  /** A string, or content parts: `{ type: 'text', text }`, `{ type: 'refusal', refusal }`, images (ignored). */
  readonly content?: unknown;
  readonly name?: unknown;
  readonly tool_calls?: readonly ToolCallLike[] | null;
  readonly function_call?: FunctionCallLike | null;
}

export interface ToolCallLike {
  readonly id?: unknown;
  readonly type?: unknown;
  readonly function?: FunctionCallLike | null;
}

export interface ToolDefinitionLike {
  readonly type?: unknown;
  readonly function?: FunctionDefinitionLike | null;
}

export interface FunctionDefinitionLike {
  readonly name?: unknown;
  readonly description?: unknown;
  readonly parameters?: unknown;
}

export interface RequestLike {
  readonly messages?: readonly ChatMessageLike[] | null;
  readonly model?: unknown;
  readonly tools?: readonly ToolDefinitionLike[] | null;
  /** The deprecated pre-tools form of function definitions. */
  readonly functions?: readonly FunctionDefinitionLike[] | null;
  /** `json_schema` response formats are sent upstream too. */
  readonly response_format?: unknown;
  /** Embeddings input: a string or a list of strings (token arrays are skipped). */
  readonly input?: unknown;
  /** Legacy completions prompt. */
  readonly prompt?: unknown;
}

function pushString(out: string[], v: unknown): void {
  if (typeof v === 'string' && v.length > 0) out.push(v);
}

function pushJson(out: string[], v: unknown): void {
  if (v === undefined || v === null) return;
  try {
    pushString(out, typeof v === 'string' ? v : JSON.stringify(v));
  } catch {
    // cyclic or otherwise unserialisable: an upstream could not receive it either
  }
}

function pushStrings(out: string[], v: unknown): void {
  if (typeof v === 'string') pushString(out, v);
  else if (Array.isArray(v)) for (const item of v) pushString(out, item);
}

function pushFunction(out: string[], fn: unknown): void {
  if (!isRecord(fn)) return;
  pushString(out, fn['name']);
  pushString(out, fn['description']);
  pushJson(out, fn['parameters']);
  pushString(out, fn['arguments']);
}

function pushContent(out: string[], content: unknown): void {
  if (typeof content === 'string') {
    pushString(out, content);
    return;
  }
  if (!Array.isArray(content)) return;
  for (const part of content) {
    if (typeof part === 'string') pushString(out, part);
    else if (isRecord(part)) {
      pushString(out, part['text']);
      pushString(out, part['refusal']);
    }
  }
}

export function collectRequestTexts(req: RequestLike): string[] {
  const out: string[] = [];
  const messages: unknown = req.messages;
  if (Array.isArray(messages)) {
    for (const msg of messages) {
      if (!isRecord(msg)) continue;
      pushString(out, msg['name']);
      pushContent(out, msg['content']);
      const calls = msg['tool_calls'];
      if (Array.isArray(calls)) for (const call of calls) if (isRecord(call)) pushFunction(out, call['function']);
      pushFunction(out, msg['function_call']);
    }
  }
  const tools: unknown = req.tools;
  if (Array.isArray(tools)) for (const tool of tools) if (isRecord(tool)) pushFunction(out, tool['function']);
  const functions: unknown = req.functions;
  if (Array.isArray(functions)) for (const fn of functions) pushFunction(out, fn);
  const format = req.response_format;
  if (isRecord(format)) pushJson(out, format['json_schema']);
  pushStrings(out, req.prompt);
  pushStrings(out, req.input);
  return out;
}
