import type { ChatMessage, ChatRequest, ContentPart, Tool, ToolChoice } from '../../dialects/openai/schema.js';
import { invalidRequest } from '../../errors.js';
import type {
  AnthropicContentBlock,
  AnthropicImageBlock,
  AnthropicImageSource,
  AnthropicMessage,
  AnthropicRequest,
  AnthropicTextBlock,
  AnthropicTool,
  AnthropicToolChoice,
} from './wire.js';
import { parseDataUrl, parseToolArguments, textOnly } from '../content.js';

const ANTHROPIC_TEXT_ONLY = 'System messages may only contain text for Anthropic targets.';

// Canonical (OpenAI) chat request -> Anthropic Messages request. Pure; throws a 400 naming the parameter for
// anything Anthropic cannot express, rather than dropping or clamping it.

/** Anthropic requires max_tokens; OpenAI clients usually leave it out. */
export const DEFAULT_MAX_TOKENS = 4096;

/**
 * Anthropic has no schema-less JSON mode, and its structured outputs need a closed schema, so json_object is
 * an instruction appended to the system prompt (what Anthropic's own docs suggest for plain JSON answers).
 */
export const JSON_OBJECT_INSTRUCTION =
  'Respond with a single valid JSON object and nothing else: no prose, no code fences.';

export function toAnthropicRequest(req: ChatRequest, model: string): AnthropicRequest {
  if (req.n != null && req.n > 1) {
    throw invalidRequest('Anthropic targets return one choice per request; n > 1 is not supported.', 'n');
  }
  if (req.temperature != null && req.temperature > 1) {
    throw invalidRequest(
      `temperature ${req.temperature} is out of range for Anthropic targets, which accept 0 to 1.`,
      'temperature',
    );
  }

  const system: string[] = [];
  const messages: AnthropicMessage[] = [];
  req.messages.forEach((message, i) => {
    if (message.role === 'system' || message.role === 'developer') {
      system.push(textOnly(message.content, `messages[${i}].content`, ANTHROPIC_TEXT_ONLY));
      return;
    }
    const turn = toTurn(message, i);
    if (turn.content.length === 0) return;
    const last = messages.at(-1);
    // Anthropic requires user and assistant turns to alternate: merge neighbours of the same role.
    if (last && last.role === turn.role) last.content.push(...turn.content);
    else messages.push(turn);
  });
  if (messages.length === 0) {
    throw invalidRequest('Anthropic targets need at least one user or assistant message.', 'messages');
  }
  // Anthropic wants a user turn's tool_result blocks before anything else in it (merging can put text first).
  for (const message of messages) {
    if (message.role === 'user') {
      message.content = [
        ...message.content.filter((b) => b.type === 'tool_result'),
        ...message.content.filter((b) => b.type !== 'tool_result'),
      ];
    }
  }

  if (req.response_format?.type === 'json_object') system.push(JSON_OBJECT_INSTRUCTION);

  const out: AnthropicRequest = {
    model,
    max_tokens: req.max_completion_tokens ?? req.max_tokens ?? DEFAULT_MAX_TOKENS,
    messages,
  };
  const systemText = system.filter((s) => s.length > 0).join('\n\n');
  if (systemText) out.system = systemText;
  if (req.temperature != null) out.temperature = req.temperature;
  if (req.top_p != null) out.top_p = req.top_p;
  if (req.stop != null) out.stop_sequences = typeof req.stop === 'string' ? [req.stop] : req.stop;
  if (req.tools && req.tools.length > 0) {
    out.tools = req.tools.map(toTool);
    const choice = toToolChoice(req.tool_choice, req.parallel_tool_calls);
    if (choice) out.tool_choice = choice;
  }
  if (req.response_format?.type === 'json_schema') {
    out.output_config = {
      format: { type: 'json_schema', schema: req.response_format.json_schema.schema ?? { type: 'object' } },
    };
  }
  if (req.user) out.metadata = { user_id: req.user };
  if (req.stream) out.stream = true;
  return out;
}

function toTurn(message: Exclude<ChatMessage, { role: 'system' | 'developer' }>, i: number): AnthropicMessage {
  switch (message.role) {
    case 'user':
      return { role: 'user', content: toBlocks(message.content, `messages[${i}].content`) };
    case 'assistant': {
      const content = message.content == null ? [] : toBlocks(message.content, `messages[${i}].content`);
      (message.tool_calls ?? []).forEach((call, j) => {
        content.push({
          type: 'tool_use',
          id: call.id,
          name: call.function.name,
          input: parseToolArguments(call.function.arguments, `messages[${i}].tool_calls[${j}].function.arguments`),
        });
      });
      return { role: 'assistant', content };
    }
    case 'tool': {
      const param = `messages[${i}].content`;
      const content: string | Array<AnthropicTextBlock | AnthropicImageBlock> =
        typeof message.content === 'string' ? message.content : toBlocks(message.content, param).filter(isResultBlock);
      return { role: 'user', content: [{ type: 'tool_result', tool_use_id: message.tool_call_id, content }] };
    }
  }
}

// toBlocks only makes text and image blocks; the guard narrows the type for tool_result content.
function isResultBlock(block: AnthropicContentBlock): block is AnthropicTextBlock | AnthropicImageBlock {
  return block.type === 'text' || block.type === 'image';
}

function toBlocks(content: string | ContentPart[], param: string): AnthropicContentBlock[] {
  // Anthropic rejects empty text blocks.
  if (typeof content === 'string') return content ? [{ type: 'text', text: content }] : [];
  const blocks: AnthropicContentBlock[] = [];
  content.forEach((part, j) => {
    const at = `${param}[${j}]`;
    switch (part.type) {
      case 'text':
        if (part.text) blocks.push({ type: 'text', text: part.text });
        return;
      case 'image_url':
        blocks.push({ type: 'image', source: imageSource(part.image_url.url, `${at}.image_url.url`) });
        return;
      case 'refusal':
        if (part.refusal) blocks.push({ type: 'text', text: part.refusal });
        return;
      default:
        throw invalidRequest(`Content parts of type '${part.type}' are not supported by Anthropic targets.`, `${at}.type`);
    }
  });
  return blocks;
}

function imageSource(url: string, param: string): AnthropicImageSource {
  const data = parseDataUrl(url);
  if (data) return { type: 'base64', media_type: data.mediaType, data: data.data };
  if (/^https?:\/\//i.test(url)) return { type: 'url', url };
  throw invalidRequest('Image URLs must be base64 data: URLs or http(s) URLs.', param);
}

function toTool(tool: Tool): AnthropicTool {
  const out: AnthropicTool = {
    name: tool.function.name,
    input_schema: tool.function.parameters ?? { type: 'object', properties: {} },
  };
  if (tool.function.description) out.description = tool.function.description;
  if (tool.function.strict === true) out.strict = true;
  return out;
}

function toToolChoice(choice: ToolChoice | undefined, parallel: boolean | undefined): AnthropicToolChoice | undefined {
  const single = parallel === false ? { disable_parallel_tool_use: true } : {};
  if (choice === 'none') return { type: 'none' };
  if (choice === undefined || choice === 'auto') return parallel === false ? { type: 'auto', ...single } : undefined;
  if (choice === 'required') return { type: 'any', ...single };
  return { type: 'tool', name: choice.function.name, ...single };
}
