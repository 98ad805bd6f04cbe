// Records one LLM exchange for llm.ndjson while it streams: a request body transform that
// copies the agent's bytes (bounded) and passes them on unchanged, and a response hook that
// copies the response as the agent gets it. The copy is processed after the chunk has been
// handed on, in the LLM log's sliced work queue (audit/llm/log-work.ts), so the agent never
// waits for the log and many exchanges ending at once do not stall the event loop. One line is
// written when the exchange ends, or, if sluice shuts down first, with the outcome it had
// (cut off when it had not ended).
import type { Exchange } from '../../pipeline/exchange.ts';
import type { RequestBodyTransform, ResponseHeaders, ResponseHook } from '../../pipeline/body.ts';
import type { InFlightExchange, LlmLog, LlmOutcome, LlmRecord } from '../../audit/llm/llm-log.ts';
import type { ApiRoute } from '../../audit/llm/providers.ts';
import { RequestCapture } from '../../audit/llm/request-capture.ts';
import { ResponseCapture } from '../../audit/llm/response-capture.ts';
import { bodyForLog } from '../../audit/llm/raw.ts';
import { geminiModelFromPath } from '../../audit/llm/gemini.ts';
import { isObject } from '../../audit/llm/json.ts';
import { redactForLog, redactJson } from '../../audit/llm/redact.ts';
import { deferLogWork } from '../../audit/llm/log-work.ts';

const EMPTY = Buffer.alloc(0);
let sequence = 0;

type HookOutcome = Parameters<NonNullable<ResponseHook['done']>>[0];

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

export class ExchangeRecorder implements InFlightExchange {
  readonly id: string;
  readonly requestTransform: RequestBodyTransform;
  readonly responseHook: ResponseHook;
  readonly #ex: Exchange;
  readonly #log: LlmLog;
  readonly #route: ApiRoute;
  readonly #provider: string;
  readonly #request: RequestCapture;
  readonly #response: ResponseCapture;
  #untrack: (() => void) | undefined;
  #status = 0;
  #firstByteAt: number | undefined;
  #headersAt: number | undefined;
  #endedAt: number | undefined;
  #pending: Buffer[] = [];
  #scheduled = false;
  #written = false;
  /** How the exchange ended, once it has (its line may still be waiting in the work queue). */
  #ended: LlmOutcome | undefined;

  constructor(ex: Exchange, log: LlmLog, route: ApiRoute, provider: string, maxBodyBytes: number) {
    sequence = (sequence + 1) % Number.MAX_SAFE_INTEGER;
    this.id = `${ex.conn.id}.${sequence.toString(36)}`;
    this.#ex = ex;
    this.#log = log;
    this.#route = route;
    this.#provider = provider;
    this.#request = new RequestCapture(maxBodyBytes);
    this.#response = new ResponseCapture(route.codec, maxBodyBytes);
    this.requestTransform = {
      name: 'llm-audit',
      changesLength: false,
      push: (chunk) => {
        this.#activate();
        this.#request.push(chunk);
        return chunk;
      },
      end: () => EMPTY,
    };
    this.responseHook = {
      name: 'llm-audit',
      needsPlaintext: false,
      start: (status, headers) => this.#start(status, headers),
      data: (chunk) => {
        if (this.#firstByteAt === undefined) this.#firstByteAt = performance.now();
        if (!this.#written) {
          this.#pending.push(chunk);
          if (!this.#scheduled) {
            this.#scheduled = true;
            deferLogWork(() => this.#drain(), (err) => this.#report(err));
          }
        }
        return chunk;
      },
      done: (outcome, status) => this.#done(outcome, status),
    };
  }

  /** Registered for shutdown only once forwarding has begun (a later step may still refuse). */
  #activate(): void {
    if (this.#untrack === undefined && !this.#written) this.#untrack = this.#log.track(this);
  }

  #start(status: number, headers: ResponseHeaders): void {
    this.#activate();
    this.#status = status;
    this.#headersAt = performance.now();
    this.#guard(() => this.#response.start(headers));
  }

  /** Feeds the copied chunks to the capture: after the agent already has them. */
  #drain(): void {
    this.#scheduled = false;
    const chunks = this.#pending;
    this.#pending = [];
    for (const chunk of chunks) this.#guard(() => this.#response.data(chunk));
  }

  #done(outcome: HookOutcome, status: number): void {
    this.#activate();
    if (this.#written || this.#ended !== undefined) return;
    this.#endedAt = performance.now();
    if (status !== 0) this.#status = status;
    const logged: LlmOutcome = outcome === 'cut_off' || outcome === 'client_aborted' ? 'cut_off' : outcome === 'error' ? 'error' : 'complete';
    this.#ended = logged;
    // Behind this exchange's queued chunks: the line is built from all of them.
    deferLogWork(() => {
      if (this.#written) return;
      this.#drain();
      this.#guard(() => this.#response.end(() => this.#write(logged)));
    }, (err) => this.#report(err));
  }

  /** Shutdown: the line now, as it stands; an exchange that had ended keeps its outcome. */
  cutOff(): LlmRecord | undefined {
    if (this.#written) return undefined;
    this.#drain();
    this.#response.abandon();
    return this.#finish(this.#ended ?? 'cut_off');
  }

  #write(outcome: LlmOutcome): void {
    const record = this.#finish(outcome);
    if (record !== undefined) this.#log.write(record);
  }

  /** Builds the record once; later calls return undefined. */
  #finish(outcome: LlmOutcome): LlmRecord | undefined {
    if (this.#written) return undefined;
    this.#written = true;
    this.#untrack?.();
    try {
      const record = this.#record(outcome);
      // The budget counts what the provider reported, streamed or not, cut off or complete.
      const { services, config } = this.#ex.runtime;
      this.#guard(() => services.budget.record(record.model ?? undefined, record.usage ?? undefined, config.prices));
      return record;
    } catch (err) {
      // A bug in the log's reassembly must still leave a line for the exchange.
      return this.#minimalRecord(outcome, err);
    }
  }

  #record(outcome: LlmOutcome): LlmRecord {
    const ex = this.#ex;
    const redact = (text: string): string => redactForLog(text, ex.runtime);
    const requestText = this.#request.text(headerValue(ex.headers['content-encoding']));
    const request = redactJson(bodyForLog(requestText, this.#request.truncated), redact);
    const captured = this.#response.result();
    const response = redactJson(captured.response, redact);
    let final = outcome;
    if (final === 'complete' && (this.#status >= 400 || this.#status === 0 || captured.failed)) final = 'error';
    const end = this.#endedAt ?? performance.now();
    const first = this.#firstByteAt ?? this.#headersAt;
    return {
      id: this.id,
      provider: this.#provider,
      model: this.#model(request, response),
      stream: captured.sse || (isObject(request) && request.stream === true) || ex.path.includes(':streamGenerateContent'),
      status: this.#status,
      request,
      response: response ?? null,
      usage: captured.usage.usage ?? null,
      usage_raw: captured.usage.raw ?? null,
      ttfb_ms: first === undefined ? null : round(first - ex.startedAt),
      ms: round(end - ex.startedAt),
      truncated: this.#request.truncated || captured.truncated,
      outcome: final,
    };
  }

  #model(request: unknown, response: unknown): string | null {
    if (isObject(request) && typeof request.model === 'string') return request.model;
    if (this.#route.api === 'gemini-generate') {
      const fromPath = geminiModelFromPath(this.#ex.path);
      if (fromPath !== undefined) return fromPath;
    }
    if (isObject(response)) {
      if (typeof response.model === 'string') return response.model;
      if (typeof response.modelVersion === 'string') return response.modelVersion;
    }
    return null;
  }

  #minimalRecord(outcome: LlmOutcome, err: unknown): LlmRecord {
    this.#ex.runtime.services.opsLog.error({ err, id: this.id }, 'llm log: could not reassemble an exchange');
    return {
      id: this.id, provider: this.#provider, model: null, stream: false, status: this.#status, request: null, response: null,
      usage: null, usage_raw: null, ttfb_ms: null, ms: round(performance.now() - this.#ex.startedAt), truncated: true, outcome,
    };
  }

  /** The log never breaks the agent's exchange: a failure in capture is reported, not thrown. */
  #guard(work: () => void): void {
    try {
      work();
    } catch (err) {
      this.#report(err);
    }
  }

  #report(err: unknown): void {
    this.#ex.runtime.services.opsLog.error({ err, id: this.id }, 'llm log: capture failed');
  }
}
