// `sluice COMMAND …`: one file per command; this only dispatches.
import { keepTickShape } from '../runtime/keep-tick-shape.ts';

const USAGE = `usage: sluice <command> [options]

commands:
  run [-c sluice.toml]        start all listeners (SIGHUP or a changed file reloads; SIGTERM drains)
  check [-c sluice.toml]      validate the config and print what it allows (--no-secrets: skip secret sources)
  ca init|show|bundle         create the CA; print its PEM; write a trust bundle for agents
  env [-c sluice.toml]        print the trust variables an agent needs
  healthcheck [-c …]          exit 0 if sluice's admin /readyz answers 200 (for container HEALTHCHECKs)
  logs [--follow] [--json] [--since WHEN] [--usage] [--show ID]
                              read llm.ndjson: exchanges, token totals
  suggest [--since WHEN]      print [[allow]] entries for what was denied (or would be: mode = "learn")
  mint --credential NAME …    print a scoped, expiring token for a credential (--attenuate TOKEN to narrow one)
  sandbox -- CMD…             Linux, root: run CMD in a network namespace whose egress goes through sluice
  inject [-f FILE|DIR|-]      Kubernetes: print manifests with sluice injected into every pod template
  webhook [certs] …           Kubernetes: the mutating admission webhook; its serving certificate
  k8s bootstrap -c …          Kubernetes: print the Secrets and ConfigMaps an injected pod needs
  version                     print the version

\`sluice COMMAND --help\` prints a command's options.
`;

type Command = (argv: string[]) => Promise<number>;

const commands: Record<string, () => Promise<Command>> = {
  run: async () => (await import('./run.ts')).runCommand,
  check: async () => (await import('./check.ts')).checkCommand,
  ca: async () => (await import('./ca.ts')).caCommand,
  env: async () => (await import('./env.ts')).envCommand,
  healthcheck: async () => (await import('./healthcheck.ts')).healthcheckCommand,
  logs: async () => (await import('./logs.ts')).logsCommand,
  mint: async () => (await import('./mint.ts')).mintCommand,
  sandbox: async () => (await import('./sandbox.ts')).sandboxCommand,
  inject: async () => (await import('./inject.ts')).injectCommand,
  webhook: async () => (await import('./webhook.ts')).webhookCommand,
  k8s: async () => (await import('./k8s.ts')).k8sCommand,
  suggest: async () => (await import('./suggest.ts')).suggestCommand,
};

export async function main(argv: string[]): Promise<number> {
  // Before anything that could run a full GC: see keep-tick-shape.ts.
  keepTickShape();
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(USAGE);
    return name === undefined ? 2 : 0;
  }
  if (name === 'version' || name === '--version') {
    const { readFileSync } = await import('node:fs');
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    process.stdout.write(`sluice ${pkg.version}\n`);
    return 0;
  }
  const load = commands[name];
  if (load === undefined) {
    process.stderr.write(`sluice: unknown command "${name}"\n\n${USAGE}`);
    return 2;
  }
  try {
    return await (await load())(rest);
  } catch (err) {
    process.stderr.write(`sluice ${name}: ${(err as Error).message}\n`);
    return 1;
  }
}
