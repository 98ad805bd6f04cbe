// What injection refuses (DESIGN.md §7): a pod whose agent could bypass the capture or read
// sluice's memory. Each refusal names the container or the pod setting; each safe variant of
// the same pod is injected, so every check is shown to be the one that fires.
import { describe, expect, it } from 'vitest';
import { SLUICE_VERSION } from '../../src/k8s/constants.ts';
import { InjectionRefused, injectPodTemplate, type InjectOptions } from '../../src/k8s/inject-pod.ts';
import { injectionChoice } from '../../src/k8s/opt-in.ts';
import { DEFAULT_PORTS } from '../../src/k8s/sidecar-containers.ts';
import type { Container, PodSpec } from '../../src/k8s/types.ts';
import { injectObject } from '../../src/k8s/workloads.ts';

const OPTIONS: InjectOptions = { image: 'sluice:test', mode: 'native', uid: 1337, ports: DEFAULT_PORTS, version: SLUICE_VERSION };
const agent = (extra: Partial<Container> = {}): Container => ({ name: 'agent', image: 'example/agent:1', ...extra });

function refusal(spec: PodSpec): string {
  try {
    injectPodTemplate({ spec }, OPTIONS);
  } catch (err) {
    expect(err).toBeInstanceOf(InjectionRefused);
    return (err as Error).message;
  }
  throw new Error('injected an unsafe pod');
}

const injects = (spec: PodSpec): boolean => injectPodTemplate({ spec }, OPTIONS).outcome === 'injected';

describe('refused pods', () => {
  const cases: Array<[string, PodSpec, RegExp, PodSpec]> = [
    ['hostNetwork', { hostNetwork: true, containers: [agent()] }, /hostNetwork/, { hostNetwork: false, containers: [agent()] }],
    ['shareProcessNamespace', { shareProcessNamespace: true, containers: [agent()] }, /shareProcessNamespace: the agent could read sluice's memory/, { shareProcessNamespace: false, containers: [agent()] }],
    ['hostPID', { hostPID: true, containers: [agent()] }, /hostPID/, { containers: [agent()] }],
    ['container uid 1337', { containers: [agent({ securityContext: { runAsUser: 1337 } })] }, /container "agent" runs as uid 1337, the uid the capture exempts/, { containers: [agent({ securityContext: { runAsUser: 1338 } })] }],
    ['pod uid 1337, inherited', { securityContext: { runAsUser: 1337 }, containers: [agent()] }, /container "agent" runs as uid 1337 \(inherited from the pod securityContext\)/, { securityContext: { runAsUser: 1337 }, containers: [agent({ securityContext: { runAsUser: 1000 } })] }],
    ['app init container uid 1337', { initContainers: [{ name: 'setup', securityContext: { runAsUser: 1337 } }], containers: [agent()] }, /init container "setup" runs as uid 1337/, { initContainers: [{ name: 'setup' }], containers: [agent()] }],
    ['privileged', { containers: [agent({ securityContext: { privileged: true } })] }, /container "agent" is privileged/, { containers: [agent({ securityContext: { privileged: false } })] }],
    ['NET_ADMIN', { containers: [agent({ securityContext: { capabilities: { add: ['NET_ADMIN'] } } })] }, /container "agent" adds capability NET_ADMIN/, { containers: [agent({ securityContext: { capabilities: { add: ['NET_BIND_SERVICE'] } } })] }],
    ['CAP_NET_RAW spelling', { containers: [agent(), { name: 'helper', securityContext: { capabilities: { add: ['CAP_NET_RAW'] } } }] }, /container "helper" adds capability NET_RAW/, { containers: [agent(), { name: 'helper', securityContext: { capabilities: { drop: ['NET_RAW'] } } }] }],
    ['ALL', { containers: [agent({ securityContext: { capabilities: { add: ['all'] } } })] }, /adds capability ALL/, { containers: [agent({ securityContext: { capabilities: { drop: ['ALL'] } } })] }],
    ['SYS_ADMIN', { containers: [agent({ securityContext: { capabilities: { add: ['SYS_ADMIN'] } } })] }, /adds capability SYS_ADMIN/, { containers: [agent()] }],
    ['a container named sluice', { containers: [agent(), { name: 'sluice' }] }, /container "sluice" clashes/, { containers: [agent(), { name: 'sluice-ui' }] }],
    ['a volume named like sluice\'s', { containers: [agent()], volumes: [{ name: 'sluice-ca', emptyDir: {} }] }, /volume "sluice-ca" clashes/, { containers: [agent()], volumes: [{ name: 'my-ca', emptyDir: {} }] }],
    // The pod spec itself must not hand the agent sluice's secrets.
    ['a mount of sluice\'s CA volume', { containers: [agent({ volumeMounts: [{ name: 'sluice-ca', mountPath: '/ca' }] })] }, /container "agent" mounts "sluice-ca", a volume only sluice may mount/, { containers: [agent({ volumeMounts: [{ name: 'work', mountPath: '/ca' }] })], volumes: [{ name: 'work', emptyDir: {} }] }],
    ['the CA Secret in an app volume', { containers: [agent()], volumes: [{ name: 'ca', secret: { secretName: 'sluice-ca' } }] }, /volume "ca" holds the Secret sluice-ca/, { containers: [agent()], volumes: [{ name: 'ca', secret: { secretName: 'my-ca' } }] }],
    ['the secrets Secret projected', { containers: [agent()], volumes: [{ name: 'p', projected: { sources: [{ secret: { name: 'sluice-secrets' } }] } }] }, /volume "p" holds the Secret sluice-secrets/, { containers: [agent()], volumes: [{ name: 'p', projected: { sources: [{ configMap: { name: 'sluice-trust' } }] } }] }],
    ['a real secret in env', { containers: [agent({ env: [{ name: 'KEY', valueFrom: { secretKeyRef: { name: 'sluice-secrets', key: 'anthropic' } } }] })] }, /reads the Secret sluice-secrets into \$KEY/, { containers: [agent({ env: [{ name: 'KEY', valueFrom: { secretKeyRef: { name: 'agent-surrogates', key: 'anthropic' } } }] })] }],
    ['envFrom the CA Secret', { containers: [agent({ envFrom: [{ secretRef: { name: 'sluice-ca' } }] })] }, /loads the Secret sluice-ca into its environment/, { containers: [agent({ envFrom: [{ configMapRef: { name: 'sluice-ca' } }] })] }],
  ];
  for (const [name, unsafe, reason, safe] of cases) {
    it(`refuses ${name}, and injects the safe variant`, () => {
      expect(refusal(unsafe)).toMatch(reason);
      expect(injects(safe)).toBe(true);
    });
  }

  it('names the workload in front of the reason', () => {
    const deployment = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'agent' }, spec: { template: { spec: { containers: [agent({ securityContext: { privileged: true } })] } } } };
    expect(() => injectObject(deployment, OPTIONS)).toThrow('Deployment/agent: container "agent" is privileged');
  });

  it('does not refuse allowPrivilegeEscalation on its own: the bounding set has no NET_ADMIN to gain', () => {
    expect(injects({ containers: [agent({ securityContext: { allowPrivilegeEscalation: true } })] })).toBe(true);
  });
});

describe('opt-in labels (the webhook)', () => {
  it('follows the namespace label and the pod label as Istio does', () => {
    expect(injectionChoice({ 'sluice.dev/inject': 'enabled' }, {})).toEqual({ inject: true });
    expect(injectionChoice({ 'sluice.dev/inject': 'enabled' }, { 'sluice.dev/inject': 'false' })).toMatchObject({ inject: false });
    expect(injectionChoice({}, { 'sluice.dev/inject': 'true' })).toEqual({ inject: true });
    expect(injectionChoice({}, {})).toMatchObject({ inject: false });
    // The AdmissionReview carries no namespace labels: the configuration's selectors chose.
    expect(injectionChoice(undefined, {})).toEqual({ inject: true });
    expect(injectionChoice(undefined, { 'sluice.dev/inject': 'false' })).toMatchObject({ inject: false });
  });
});
