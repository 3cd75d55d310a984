/**
 * A loopback OpenAI-wire server that behaves like a node with perfect constrained decoding: a request with
 * `response_format` json_schema gets the smallest instance of the schema, one with tools calls the first tool
 * with an instance of its parameters (once per conversation), anything else gets a short sentence. Used to
 * develop the DeepFabric flows and by the benchmark's dry run; the end-to-end tests use the real `fastllm`.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

type Schema = boolean | { [k: string]: unknown };

export interface SchemaFake {
  url: string;
  requests: Array<Record<string, unknown>>;
  close(): Promise<void>;
}

export async function startSchemaFake(): Promise<SchemaFake> {
  const requests: Array<Record<string, unknown>> = [];
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const path = (req.url ?? '').split('?')[0];
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (path === '/health') return send(200, { status: 'ok' });
      if (path === '/v1/models') return send(200, { object: 'list', data: [{ id: 'heddle-demo', object: 'model', created: 0, owned_by: 'fake' }] });
      if (path !== '/v1/chat/completions') return send(404, { error: { message: 'unknown path', type: 'invalid_request_error' } });
      const body = JSON.parse(Buffer.concat(parts).toString('utf8')) as Record<string, unknown>;
      requests.push(body);
      const message = answer(body);
      const completion = {
        id: `chatcmpl-${requests.length}`,
        object: 'chat.completion',
        created: 1_700_000_000,
        model: String(body.model),
        choices: [{ index: 0, message: { role: 'assistant', refusal: null, ...message }, finish_reason: message.tool_calls ? 'tool_calls' : 'stop' }],
        usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 },
      };
      if (body.stream !== true) return send(200, completion);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const chunk = (delta: unknown, finish: string | null) =>
        res.write(`data: ${JSON.stringify({ id: completion.id, object: 'chat.completion.chunk', created: completion.created, model: completion.model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`);
      chunk({ role: 'assistant', content: '' }, null);
      if (message.content) chunk({ content: message.content }, null);
      if (message.tool_calls) chunk({ tool_calls: message.tool_calls.map((c, index) => ({ index, ...c })) }, null);
      chunk({}, completion.choices[0]?.finish_reason ?? 'stop');
      res.end('data: [DONE]\n\n');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, requests, close: () => new Promise((r) => server.close(() => r())) };
}

function answer(body: Record<string, unknown>): { content: string | null; tool_calls?: Array<{ id: string; type: 'function'; function: { name: string; arguments: string } }> } {
  const format = body.response_format as { type?: string; json_schema?: { schema?: Schema } } | undefined;
  if (format?.type === 'json_schema') return { content: JSON.stringify(instance(format.json_schema?.schema ?? true, format.json_schema?.schema ?? true, 0)) };
  if (format?.type === 'json_object') return { content: '{}' };
  const tools = body.tools as Array<{ function: { name: string; parameters?: Schema } }> | undefined;
  const messages = (body.messages as Array<{ role: string }> | undefined) ?? [];
  if (tools && tools.length > 0 && !messages.some((m) => m.role === 'tool')) {
    const tool = tools[0];
    if (tool) {
      const args = instance(tool.function.parameters ?? true, tool.function.parameters ?? true, 0);
      return { content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: tool.function.name, arguments: JSON.stringify(args) } }] };
    }
  }
  return { content: 'The answer is 42.' };
}

/** The smallest instance of a schema (first enum value, first non-null anyOf branch, minItems items). */
export function instance(schema: Schema, root: Schema, depth: number, turn = 0): unknown {
  if (typeof schema === 'boolean' || depth > 12) return null;
  if (typeof schema.$ref === 'string') {
    let node: unknown = root;
    for (const key of schema.$ref.replace(/^#\//, '').split('/')) node = (node as Record<string, unknown>)[key];
    return instance(node as Schema, root, depth + 1, turn);
  }
  if ('const' in schema) return schema.const;
  if (Array.isArray(schema.enum)) {
    // Conversations alternate user and assistant turns, starting with the user.
    if (schema.enum.includes('user') && schema.enum.includes('assistant')) return turn % 2 === 0 ? 'user' : 'assistant';
    return schema.enum[0];
  }
  for (const key of ['anyOf', 'oneOf'] as const) {
    const options = schema[key];
    if (Array.isArray(options)) {
      // Optional fields (pydantic's `X | None`) are answered with null, as a careful model would.
      const pick = (options as Schema[]).find((o) => typeof o === 'object' && o.type === 'null') ?? options[0];
      return instance(pick as Schema, root, depth + 1, turn);
    }
  }
  if (Array.isArray(schema.allOf)) return instance(schema.allOf[0] as Schema, root, depth + 1);
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
  switch (type) {
    case 'string': {
      const min = typeof schema.minLength === 'number' ? schema.minLength : 0;
      const text = 'sample text about the topic';
      return text.length >= min ? text : text.padEnd(min, '.');
    }
    case 'integer':
    case 'number':
      return typeof schema.minimum === 'number' ? schema.minimum : 1;
    case 'boolean':
      return true;
    case 'null':
      return null;
    case 'array': {
      const n = typeof schema.minItems === 'number' ? schema.minItems : 0;
      const max = typeof schema.maxItems === 'number' ? schema.maxItems : n;
      const count = schema.items && typeof schema.items === 'object' && JSON.stringify(schema.items).includes('"role"') ? Math.max(n, 2) : n;
      return Array.from({ length: Math.min(count, Math.max(max, count)) }, (_, i) => {
        const item = instance((schema.items as Schema | undefined) ?? { type: 'string' }, root, depth + 1, i);
        return typeof item === 'string' ? `${item} ${i + 1}` : item;
      });
    }
    default: {
      const props = (schema.properties as Record<string, Schema> | undefined) ?? {};
      const required = new Set(Array.isArray(schema.required) ? (schema.required as string[]) : Object.keys(props));
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(props)) if (required.has(k)) out[k] = instance(v, root, depth + 1, turn);
      return out;
    }
  }
}
