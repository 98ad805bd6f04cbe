// The mutating webhook's decision (DESIGN.md §7), without HTTP: an AdmissionReview v1 in, the
// AdmissionReview to answer and its HTTP status out. The patch turns the pod into exactly what
// `sluice inject` prints for it.
import { injectionChoice } from './opt-in.ts';
import { InjectionRefused, type InjectOptions } from './inject-pod.ts';
import { createJsonPatch } from './json-patch.ts';
import { injectObject, type ObjectReport } from './workloads.ts';
import { isObject, type KubeObject, type PodSpec } from './types.ts';

export interface AdmissionAnswer {
  /** 200 with a review, or 400 with a one-line reason for a malformed request. */
  status: number;
  body: unknown;
}

interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  patchType?: 'JSONPatch';
  patch?: string;
  status?: { code: number; message: string; reason?: string };
  warnings?: string[];
}

export interface AdmissionLog {
  uid: string;
  namespace?: string;
  pod: string;
  decision: 'injected' | 'skipped' | 'refused' | 'unchanged';
  why?: string;
  dryRun: boolean;
}

function malformed(reason: string): AdmissionAnswer {
  return { status: 400, body: `malformed AdmissionReview: ${reason}\n` };
}

function review(response: AdmissionResponse): AdmissionAnswer {
  return { status: 200, body: { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response } };
}

/** Answers one AdmissionReview (already parsed from JSON). `log` hears every decision. */
export function answerAdmissionReview(body: unknown, options: InjectOptions, log: (entry: AdmissionLog) => void = () => {}): AdmissionAnswer {
  if (!isObject(body)) return malformed('the body is not a JSON object');
  if (body['apiVersion'] !== 'admission.k8s.io/v1') return malformed(`apiVersion is ${JSON.stringify(body['apiVersion'])}, expected "admission.k8s.io/v1"`);
  if (body['kind'] !== 'AdmissionReview') return malformed(`kind is ${JSON.stringify(body['kind'])}, expected "AdmissionReview"`);
  const request = body['request'];
  if (!isObject(request)) return malformed('no request');
  const uid = request['uid'];
  if (typeof uid !== 'string' || uid === '') return malformed('request.uid is missing');
  const object = request['object'];
  const resource = request['resource'];
  if (isObject(resource) && (resource['resource'] !== 'pods' || (resource['group'] ?? '') !== '')) {
    return malformed(`request.resource is ${String(resource['group'] ?? '')}/${String(resource['resource'])}; this webhook mutates pods only`);
  }
  if (!isObject(object) || object['kind'] !== 'Pod') return malformed('request.object is not a Pod');
  const spec = object['spec'];
  if (!isObject(spec) || !Array.isArray(spec['containers'])) return malformed('request.object.spec.containers is missing');
  const pod = object as KubeObject & { spec: PodSpec };
  const dryRun = request['dryRun'] === true;
  const namespace = typeof request['namespace'] === 'string' ? request['namespace'] : pod.metadata?.namespace;
  const podName = pod.metadata?.name ?? (typeof pod.metadata?.['generateName'] === 'string' ? `${pod.metadata['generateName']}*` : '(unnamed)');
  const entry = { uid, namespace, pod: podName, dryRun };

  // CREATE only; the configuration asks for nothing else, but say so rather than guess.
  if (request['operation'] !== undefined && request['operation'] !== 'CREATE') {
    log({ ...entry, decision: 'skipped', why: `operation ${String(request['operation'])}` });
    return review({ uid, allowed: true });
  }
  const choice = injectionChoice(undefined, pod.metadata?.labels);
  if (!choice.inject) {
    log({ ...entry, decision: 'skipped', why: choice.why });
    return review({ uid, allowed: true });
  }
  let injected: unknown;
  const reports: ObjectReport[] = [];
  try {
    injected = injectObject(pod, options, reports);
  } catch (err) {
    if (!(err instanceof InjectionRefused)) throw err;
    const message = `sluice refuses this pod: ${err.message}`;
    log({ ...entry, decision: 'refused', why: err.message });
    return review({ uid, allowed: false, status: { code: 403, reason: 'Forbidden', message } });
  }
  // A dry run gets the same answer: the API server applies it to nothing, and the caller sees
  // what would be created (sideEffects: None, so nothing else happens either way).
  const patch = createJsonPatch(pod, injected);
  log({ ...entry, decision: patch.length === 0 ? 'unchanged' : 'injected', why: reports[0]?.why });
  if (patch.length === 0) return review({ uid, allowed: true });
  return review({ uid, allowed: true, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(patch)).toString('base64') });
}
