// Injects sluice into one pod template (DESIGN.md §7): the capture init container, sluice as a
// native sidecar (or first container before 1.29), its volumes, and the trust material in every
// app container. Pure: a new template comes back, the input is never changed.
import { INIT_CONTAINER, SIDECAR_CONTAINER, SLUICE_VOLUMES, STATUS_ANNOTATION, STATUS_INJECTED, VERSION_ANNOTATION, VOLUME } from './constants.ts';
import { unsafePodReason } from './pod-safety.ts';
import { initContainer, sidecarContainer, sluiceVolumes, trustEnv, trustMount, type SidecarOptions } from './sidecar-containers.ts';
import { isObject, type Container, type PodTemplate } from './types.ts';

export interface InjectOptions extends SidecarOptions {
  version: string;
}

/** A pod sluice refuses to inject; the message names the container or the pod setting. */
export class InjectionRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InjectionRefused';
  }
}

export type InjectResult =
  | { outcome: 'injected'; template: PodTemplate }
  | { outcome: 'unchanged'; template: PodTemplate; why: string };

export function isInjected(template: PodTemplate): boolean {
  return template.metadata?.annotations?.[STATUS_ANNOTATION] === STATUS_INJECTED;
}

/** Injects the template, or says why nothing changed; throws InjectionRefused for an unsafe pod. */
export function injectPodTemplate(template: PodTemplate, options: InjectOptions): InjectResult {
  if (!isInjected(template)) return { outcome: 'injected', template: inject(template, options) };
  // The marker is a claim, not a proof: anyone who writes a pod spec can set it. Take out what
  // sluice would have added and inject again; only if this pod already holds all of that is it
  // left alone. So another version's injection is upgraded, a container another webhook added
  // later gets the trust material, and a forged marker still gets sluice. "Holds" allows extra
  // fields: the API server fills in defaults (terminationMessagePath, …) after injection.
  const fresh = inject(removeInjection(template), options);
  if (covers(template, fresh)) return { outcome: 'unchanged', template, why: 'already injected' };
  return { outcome: 'injected', template: fresh };
}

/** Every field of `wanted` is in `actual` with the same value; arrays match item by item. */
function covers(actual: unknown, wanted: unknown): boolean {
  if (Array.isArray(wanted)) return Array.isArray(actual) && actual.length === wanted.length && wanted.every((w, i) => covers(actual[i], w));
  if (isObject(wanted)) return isObject(actual) && Object.entries(wanted).every(([k, w]) => covers(actual[k], w));
  return actual === wanted;
}

function inject(base: PodTemplate, options: InjectOptions): PodTemplate {
  const reason = unsafePodReason(base.spec);
  if (reason !== undefined) throw new InjectionRefused(reason);

  const spec = structuredClone(base.spec);
  const appInit = (spec.initContainers ?? []).map(withTrust);
  const app = spec.containers.map(withTrust);
  const sidecar = sidecarContainer(options);
  if (options.mode === 'native') {
    spec.initContainers = [initContainer(options), sidecar, ...appInit];
    spec.containers = app;
  } else {
    spec.initContainers = [initContainer(options), ...appInit];
    spec.containers = [sidecar, ...app];
  }
  spec.volumes = [...(spec.volumes ?? []), ...sluiceVolumes()];
  const metadata = structuredClone(base.metadata ?? {});
  metadata.annotations = { ...(metadata.annotations ?? {}), [STATUS_ANNOTATION]: STATUS_INJECTED, [VERSION_ANNOTATION]: options.version };
  // metadata first, as people write it (a Job's template often has none until now).
  const { metadata: _before, spec: _spec, ...rest } = structuredClone(base);
  return { metadata, ...rest, spec };
}

/** The app container with the trust volume and variables; sluice's values win over its own. */
function withTrust(container: Container): Container {
  const env = trustEnv();
  const ours = new Set(env.map((e) => e.name));
  return {
    ...container,
    env: [...(container.env ?? []).filter((e) => !ours.has(e.name)), ...env],
    volumeMounts: [...(container.volumeMounts ?? []), trustMount()],
  };
}

/** Undoes an injection (for an upgrade): sluice's containers, volumes, mounts and variables. */
export function removeInjection(template: PodTemplate): PodTemplate {
  const ours = new Set(trustEnv().map((e) => e.name));
  const strip = (c: Container): Container => {
    const out: Container = { ...c };
    if (c.env !== undefined) out.env = c.env.filter((e) => !ours.has(e.name));
    if (c.volumeMounts !== undefined) out.volumeMounts = c.volumeMounts.filter((m) => m.name !== VOLUME.trust);
    if (out.env?.length === 0) delete out.env;
    if (out.volumeMounts?.length === 0) delete out.volumeMounts;
    return out;
  };
  const isSluice = (c: Container): boolean => c.name === INIT_CONTAINER || c.name === SIDECAR_CONTAINER;
  const spec = structuredClone(template.spec);
  spec.containers = spec.containers.filter((c) => !isSluice(c)).map(strip);
  const init = (spec.initContainers ?? []).filter((c) => !isSluice(c)).map(strip);
  if (init.length > 0) spec.initContainers = init;
  else delete spec.initContainers;
  const volumes = (spec.volumes ?? []).filter((v) => !SLUICE_VOLUMES.includes(v.name));
  if (volumes.length > 0) spec.volumes = volumes;
  else delete spec.volumes;
  const metadata = structuredClone(template.metadata ?? {});
  if (metadata.annotations !== undefined) {
    delete metadata.annotations[STATUS_ANNOTATION];
    delete metadata.annotations[VERSION_ANNOTATION];
  }
  return { ...template, metadata, spec };
}
