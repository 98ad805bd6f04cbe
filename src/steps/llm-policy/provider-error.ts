// A refusal in the provider's own error shape, so that the official SDKs raise it as an API
// error carrying sluice's message (Anthropic: {type:"error", error:{type, message}}; OpenAI:
// {error:{message, type, param, code}}; Gemini: {error:{code, message, status}}), with
// Retry-After on 429 (the SDKs honour it when they retry).
import { SluiceError, type DenyReason } from '../../errors/codes.ts';
import type { LlmProvider } from '../../config/types.ts';

function anthropicType(status: number): string {
  if (status === 429) return 'rate_limit_error';
  if (status === 403) return 'permission_error';
  return 'invalid_request_error';
}

function geminiStatus(status: number): string {
  if (status === 429) return 'RESOURCE_EXHAUSTED';
  if (status === 403) return 'PERMISSION_DENIED';
  return 'INVALID_ARGUMENT';
}

export function providerRefusal(
  provider: LlmProvider,
  reason: DenyReason,
  status: number,
  message: string,
  options: { retryAfterSeconds?: number; param?: string } = {},
): SluiceError {
  const text = `sluice: ${message} (${reason})`;
  let body: unknown;
  switch (provider) {
    case 'anthropic':
      body = { type: 'error', error: { type: anthropicType(status), message: text } };
      break;
    case 'openai':
      body = { error: { message: text, type: status === 429 ? 'rate_limit_exceeded' : 'invalid_request_error', param: options.param ?? null, code: reason } };
      break;
    case 'gemini':
      body = { error: { code: status, message: text, status: geminiStatus(status) } };
      break;
    default: {
      const unreachable: never = provider;
      body = unreachable;
    }
  }
  const headers: Record<string, string> = {};
  if (options.retryAfterSeconds !== undefined) headers['retry-after'] = String(options.retryAfterSeconds);
  return new SluiceError(reason, status, message, { response: { contentType: 'application/json', body: JSON.stringify(body), headers } });
}
