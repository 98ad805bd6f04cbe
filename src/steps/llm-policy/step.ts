// LLM-aware policy (DESIGN §8), on hosts whose allow rule names an `llm` provider: the model
// must match the rule's `models`, the output-token limit must stay under `max_tokens` (or is
// lowered to it with `clamp_max_tokens`), and the agent's day budgets and per-minute rate must
// not be spent. All of it is decided before anything leaves; refusals come in the provider's
// own error shape so the SDKs raise them. Usage is counted when responses end (the LLM audit
// reads it and hands it to the ledger).
import type { Step, StepResult } from '../../pipeline/step.ts';
import type { Exchange } from '../../pipeline/exchange.ts';
import type { AllowRule, LlmProvider } from '../../config/types.ts';
import { isAmbiguousPath } from '../policy/path-glob.ts';
import { SluiceError } from '../../errors/codes.ts';
import { routeLlmRequest } from '../../audit/llm/providers.ts';
import { anyModelMatches } from '../../budget/model-glob.ts';
import { budgetApplies } from '../../budget/ledger.ts';
import { readLlmRequest, type LlmRequestFields } from './request-fields.ts';
import { providerRefusal } from './provider-error.ts';
import { releaseBufferedBody } from '../../sigv4/buffered-body.ts';
import { sharedBufferBudget } from '../../pipeline/buffer-budget.ts';

/** The limit field a clamp inserts when the request set none, by API. */
function defaultLimitPath(api: string): readonly string[] {
  if (api === 'openai-chat') return ['max_completion_tokens'];
  if (api === 'openai-responses') return ['max_output_tokens'];
  if (api === 'gemini-generate') return ['generationConfig', 'maxOutputTokens'];
  return ['max_tokens'];
}

function setPath(json: Record<string, unknown>, path: readonly string[], value: number): void {
  let obj = json;
  for (const key of path.slice(0, -1)) {
    const child = obj[key];
    if (typeof child !== 'object' || child === null) obj[key] = {};
    obj = obj[key] as Record<string, unknown>;
  }
  obj[path[path.length - 1] as string] = value;
}

/**
 * Applies max_tokens: the refusal, true when it lowered (or set) a limit in `json`, false when
 * the request was within it.
 */
function applyTokenCeiling(ex: Exchange, rule: AllowRule, provider: LlmProvider, api: string, fields: LlmRequestFields, json: Record<string, unknown> | undefined): SluiceError | boolean {
  const ceiling = rule.maxTokens;
  if (ceiling === undefined) return false;
  const over = fields.limits.filter((l) => l.value === null || l.value > ceiling);
  const none = fields.limits.length === 0;
  if (over.length === 0 && !none) return false;
  if (!rule.clampMaxTokens || json === undefined) {
    const asked = none ? 'no output-token limit' : `${over.map((l) => `${l.path.join('.')} = ${String(l.value)}`).join(', ')}`;
    return providerRefusal(provider, 'max_tokens_exceeded', 403, `the request asks for ${asked}; this host allows at most ${ceiling} (allow[${rule.index}].max_tokens)`, { param: 'max_tokens' });
  }
  for (const l of none ? [{ path: defaultLimitPath(api) }] : over) setPath(json, l.path, ceiling);
  ex.trace.push({ step: 'llm-policy', action: 'clamped_max_tokens', detail: String(ceiling) });
  return true;
}

/** Free room in the shared buffer budget a budgeted call needs, to capture its usage. */
const CAPTURE_ROOM = 1024 * 1024;

/** Adds stream_options.include_usage to a streamed request that lacks it; true when it did. */
function askForStreamUsage(ex: Exchange, json: Record<string, unknown>): boolean {
  if (json.stream !== true) return false;
  const options = typeof json.stream_options === 'object' && json.stream_options !== null ? json.stream_options as Record<string, unknown> : {};
  if (options.include_usage === true) return false;
  json.stream_options = { ...options, include_usage: true };
  ex.trace.push({ step: 'llm-policy', action: 'asked_for_stream_usage' });
  return true;
}

export const llmPolicyStep: Step = {
  name: 'llm-policy',
  // Hosts without an `llm` rule answer synchronously (no promise per request).
  onRequest(ex) {
    return ex.rule?.llm === undefined ? undefined : checkLlmRequest(ex);
  },
};

async function checkLlmRequest(ex: Exchange): Promise<StepResult> {
  const rule = ex.rule;
  const provider = rule?.llm;
  if (rule === undefined || provider === undefined) return undefined;
  const { budget, upstream } = ex.runtime.config;
  const ledger = ex.runtime.services.budget;
  const route = routeLlmRequest(provider, ex.method, ex.path);
  // A call is a recognised API path, any request with a body (a path spelled another way
  // must not slip past the model check), or an upgrade (a realtime session: the model is in
  // the query). GET /v1/models and the like are not calls.
  if (route.api === 'raw' && !ex.hasBody && ex.upgrade !== true) return undefined;
  // A path the server could resolve differently from how sluice reads it (dot segments,
  // encoded slashes) could name one model to sluice and another upstream.
  if (isAmbiguousPath(ex.path)) return providerRefusal(provider, 'bad_request', 400, 'an LLM request path with dot segments or encoded slashes cannot be checked');

  let model: string | undefined;
  // A budget needs the body too: a streamed OpenAI request is asked for its usage.
  const needsFields = rule.models !== undefined || rule.maxTokens !== undefined || budgetApplies(budget);
  if (needsFields) {
    let body: Buffer | undefined;
    if (ex.hasBody) {
      if (ex.headers['content-encoding'] !== undefined) {
        return providerRefusal(provider, 'bad_request', 400, 'a compressed LLM request body cannot be checked against the model and token rules; send it uncompressed');
      }
      if (ex.bufferBody === undefined) return new SluiceError('bad_request', 400, 'the request body cannot be read for the LLM policy');
      const read = await ex.bufferBody(upstream.maxBufferedBodyBytes);
      if (read instanceof SluiceError) return read;
      body = read;
      // Its share of the buffer budget goes back when the exchange ends (the clamp may send
      // a new body, but the reservation is the one read here).
      ex.response.push({ name: 'llm-policy-body', needsPlaintext: false, done: () => releaseBufferedBody(read) });
    }
    const result = readLlmRequest(body, ex.path, ex.upgrade === true);
    if (!result.ok) return providerRefusal(provider, 'bad_request', 400, result.message);
    model = result.fields.model;
    if (rule.models !== undefined && (model === undefined || !anyModelMatches(rule.models, model))) {
      const named = model === undefined ? 'a request without a model' : `model "${model}"`;
      return providerRefusal(provider, 'model_not_allowed', 403, `${named} is not allowed for ${ex.host}; allowed: ${rule.models.join(', ')}`, { param: 'model' });
    }
    const clamped = applyTokenCeiling(ex, rule, provider, route.api, result.fields, result.json);
    if (clamped instanceof SluiceError) return clamped;
    // OpenAI streams report usage only when asked to: with a budget, sluice asks.
    const asked = budgetApplies(budget) && route.api === 'openai-chat' && result.json !== undefined && askForStreamUsage(ex, result.json);
    // The body as parsed and changed above is what goes upstream: written once.
    if ((clamped || asked) && result.json !== undefined) {
      const rewritten = Buffer.from(JSON.stringify(result.json));
      ex.bufferedBody = rewritten;
      ex.headers['content-length'] = String(rewritten.length);
    }
  }

  // A budget counts usage from the LLM log's capture of the response; with the shared buffer
  // budget spent the capture would be cut and the call go uncounted, so it does not leave.
  if (budgetApplies(budget) && sharedBufferBudget.totalBytes - sharedBufferBudget.usedBytes < CAPTURE_ROOM) {
    return providerRefusal(provider, 'over_capacity', 503, 'sluice cannot set memory aside to count this call against the budget now; retry later', { retryAfterSeconds: 1 });
  }
  const spent = ledger.checkBudget(budget, model);
  if (!spent.ok) return providerRefusal(provider, spent.reason, 429, spent.message, { retryAfterSeconds: spent.retryAfterSeconds });
  const rate = ledger.takeRequest(budget);
  if (!rate.ok) return providerRefusal(provider, rate.reason, 429, rate.message, { retryAfterSeconds: rate.retryAfterSeconds });
  return undefined;
}
