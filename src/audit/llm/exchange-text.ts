// Plain text out of logged requests and responses, whatever the provider's shape: the answer
// (text blocks, tool calls as `[tool NAME ARGS]`) and the conversation turn (system, messages,
// tools) for `sluice logs`.
import { isObject, type Json } from './json.ts';

export interface Turn {
  role: string;
  text: string;
}

function stringify(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** Text of one content block or part, in any provider's shape. */
function blockText(block: unknown): string {
  if (typeof block === 'string') return block;
  if (!isObject(block)) return '';
  if (typeof block.text === 'string') return block.text;
  if (typeof block.thinking === 'string') return `[thinking] ${block.thinking}`;
  if (block.type === 'tool_use' || block.type === 'server_tool_use') return `[tool ${String(block.name)} ${stringify(block.input)}]`;
  if (block.type === 'tool_result') return `[tool result] ${contentText(block.content)}`;
  if (block.type === 'function_call') return `[tool ${String(block.name)} ${String(block.arguments)}]`;
  if (block.type === 'function_call_output') return `[tool result] ${stringify(block.output)}`;
  if (isObject(block.functionCall)) return `[tool ${String(block.functionCall.name)} ${stringify(block.functionCall.args)}]`;
  if (isObject(block.functionResponse)) return `[tool result] ${stringify(block.functionResponse.response)}`;
  if (typeof block.refusal === 'string') return `[refusal] ${block.refusal}`;
  if (typeof block.type === 'string') return `[${block.type}]`;
  return '';
}

function contentText(content: unknown): string {
  if (Array.isArray(content)) return content.map(blockText).filter((t) => t !== '').join('\n');
  return blockText(content);
}

function chatMessageText(message: Json): string {
  const parts = [contentText(message.content)];
  if (Array.isArray(message.tool_calls)) {
    for (const call of message.tool_calls) {
      if (isObject(call) && isObject(call.function)) parts.push(`[tool ${String(call.function.name)} ${String(call.function.arguments)}]`);
    }
  }
  if (typeof message.refusal === 'string') parts.push(`[refusal] ${message.refusal}`);
  return parts.filter((p) => p !== '').join('\n');
}

/** The answer as text: what the model said and the tools it called. */
export function answerText(response: unknown): string {
  if (typeof response === 'string') return response;
  if (!isObject(response)) return '';
  if (Array.isArray(response.content)) return contentText(response.content);
  if (Array.isArray(response.choices)) {
    return response.choices.map((c) => (isObject(c) && isObject(c.message) ? chatMessageText(c.message) : '')).join('\n');
  }
  if (Array.isArray(response.output)) {
    return response.output.map((item) => (isObject(item) && Array.isArray(item.content) ? contentText(item.content) : blockText(item))).filter((t) => t !== '').join('\n');
  }
  if (Array.isArray(response.candidates)) {
    const first = response.candidates[0];
    return isObject(first) && isObject(first.content) ? contentText(first.content.parts) : '';
  }
  if (isObject(response.error)) return `[error] ${String(response.error.message ?? stringify(response.error))}`;
  return stringify(response);
}

/** The request as a conversation: system prompt, each message, the tools offered. */
export function requestTurns(request: unknown): Turn[] {
  if (typeof request === 'string') return [{ role: 'request', text: request }];
  if (!isObject(request)) return [];
  const turns: Turn[] = [];
  const system = request.system ?? request.instructions ?? (isObject(request.systemInstruction) ? request.systemInstruction.parts : undefined);
  if (system !== undefined) turns.push({ role: 'system', text: contentText(system) });
  const messages = request.messages ?? request.contents ?? request.input;
  if (typeof messages === 'string') turns.push({ role: 'user', text: messages });
  if (Array.isArray(messages)) {
    for (const m of messages) {
      if (!isObject(m)) continue;
      const role = String(m.role ?? m.type ?? 'message');
      const text = Array.isArray(m.parts) ? contentText(m.parts) : m.content !== undefined || m.tool_calls !== undefined ? chatMessageText(m) : blockText(m);
      turns.push({ role, text });
    }
  }
  const tools = request.tools;
  if (Array.isArray(tools) && tools.length > 0) {
    const names = tools.flatMap((t) => {
      if (!isObject(t)) return [];
      if (typeof t.name === 'string') return [t.name];
      if (isObject(t.function) && typeof t.function.name === 'string') return [t.function.name];
      if (Array.isArray(t.functionDeclarations)) return t.functionDeclarations.map((f) => (isObject(f) ? String(f.name) : ''));
      return [String(t.type ?? '?')];
    });
    turns.push({ role: 'tools', text: names.join(', ') });
  }
  return turns;
}
