// The pod's /etc/resolv.conf, as kubelet writes it for the pod's dnsPolicy: ClusterFirst names
// the cluster DNS with the namespace's search domains and ndots:5; None takes dnsConfig alone.
import type { Pod } from './pod-spec.ts';

export function resolvConf(pod: Pod, clusterDns: string): string {
  const ns = pod.metadata.namespace ?? 'default';
  const cfg = pod.spec.dnsConfig ?? {};
  const clusterFirst = (pod.spec.dnsPolicy ?? 'ClusterFirst') === 'ClusterFirst';
  const nameservers = [...(clusterFirst ? [clusterDns] : []), ...(cfg.nameservers ?? [])];
  const searches = [...(clusterFirst ? [`${ns}.svc.cluster.local`, 'svc.cluster.local', 'cluster.local'] : []), ...(cfg.searches ?? [])];
  const options = new Map<string, string | undefined>(clusterFirst ? [['ndots', '5']] : []);
  for (const o of cfg.options ?? []) options.set(o.name, o.value);
  return [
    ...(searches.length > 0 ? [`search ${searches.join(' ')}`] : []),
    ...nameservers.map((n) => `nameserver ${n}`),
    ...(options.size > 0 ? [`options ${[...options].map(([k, v]) => (v === undefined ? k : `${k}:${v}`)).join(' ')}`] : []),
  ].join('\n') + '\n';
}

