#!/bin/sh
# Prints the resolver sluice should use for its own lookups ("IP" or "IP:port"), chosen by
# src/upstream/dns-discovery.ts (which says why and in which order): SLUICE_DNS_UPSTREAM, a
# nameserver in the namespace's resolv.conf that is not loopback, Docker's "# ExtServers:" record,
# then the engine's own resolvers. Each is probed with a real query first (2 s, all at once).
# When none answers: exit 1, with what was tried and the line to add to .env, on stderr.
#
# Run it as sluice's uid: that uid is exempt from the capture, so the probes really leave.
#
# usage: dns-upstream.sh ENGINE_RESOLV_CONF NAMESPACE_RESOLV_CONF...
#   the first NAMESPACE_RESOLV_CONF that exists is read (a snapshot before the live file)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
# A clone runs the sources; the image, which has no src/, the bundle (rolldown.config.ts).
if [ -f "$here/../src/upstream/dns-discovery.ts" ]; then
  exec node "$here/dns-upstream.ts" "$@"
fi
exec node "$here/../dist/sluice/dns-upstream.js" "$@"
