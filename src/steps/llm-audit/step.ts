// The LLM audit step (DESIGN.md §4): on hosts whose allow rule names an `llm` provider, every
// request and response is copied, reassembled and written to llm.ndjson, without delaying the
// agent. While the log cannot be written, `[log] on_failure = "block"` refuses LLM requests
// (an audit trail with holes is not an audit trail); "continue" lets them through.
import type { Step } from '../../pipeline/step.ts';
import { SluiceError } from '../../errors/codes.ts';
import { routeLlmRequest } from '../../audit/llm/providers.ts';
import { ExchangeRecorder } from './exchange-recorder.ts';

export const llmAuditStep: Step = {
  name: 'llm-audit',
  onRequest(ex) {
    const provider = ex.rule?.llm;
    if (provider === undefined) return undefined;
    const config = ex.runtime.config;
    const log = ex.runtime.services.llmLog;
    if (log.problem() !== undefined && config.log.onFailure === 'block') {
      return new SluiceError('audit_log_unavailable', 503, 'the LLM audit log cannot be written, so LLM requests are refused until it can (log.on_failure = "block")');
    }
    const recorder = new ExchangeRecorder(ex, log, routeLlmRequest(provider, ex.method, ex.path), provider, config.log.maxBodyBytes);
    if (ex.hasBody) ex.requestBody.push(recorder.requestTransform);
    ex.response.push(recorder.responseHook);
    ex.trace.push({ step: 'llm-audit', action: 'recorded', detail: recorder.id });
    return undefined;
  },
};
