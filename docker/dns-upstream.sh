#!/bin/sh
# Prints the resolver sluice should use for its own lookups, or nothing if none can be found.
#
# Why sluice cannot use the container's resolver: on a compose network /etc/resolv.conf names
# Docker's embedded DNS (127.0.0.11), which forwards names it does not know *from this network
# namespace, as root*. The capture rules send that forward back to sluice's own DNS listener, so
# the answer never comes (DESIGN.md §5). sluice needs a resolver outside the namespace.
#
# Order: 1. an explicit address (SLUICE_DNS_UPSTREAM); 2. a nameserver in resolv.conf that is
# not loopback (the default bridge network, Kubernetes, plain `docker run`); 3. the servers that
# Docker >= 25 records in resolv.conf as "# ExtServers: [a b]" (not "host(…)" ones: those are
# reachable from the host's namespace only). Docker 20.10–24 on a compose network shows none of
# them: then set SLUICE_DNS_UPSTREAM (.env). A link-local resolver with a %zone is skipped: an
# "IP:port" address cannot carry the zone.
#
# usage: dns-upstream.sh [RESOLV_CONF]      prints "IP" or "IP:port", exit 0 either way
set -eu
conf=${1:-/etc/resolv.conf}

is_ip() {
  case $1 in
    *[!0-9a-fA-F:.]*|'') return 1 ;;
    *.*.*.*|*:*) return 0 ;;
    *) return 1 ;;
  esac
}

is_loopback() {
  case $1 in
    127.*|::1|0:0:0:0:0:0:0:1) return 0 ;;
    *) return 1 ;;
  esac
}

if [ -n "${SLUICE_DNS_UPSTREAM:-}" ]; then
  printf '%s\n' "$SLUICE_DNS_UPSTREAM"
  exit 0
fi
[ -r "$conf" ] || exit 0

# 2. A real nameserver line.
while read -r key value _rest; do
  if [ "$key" = nameserver ] && is_ip "$value" && ! is_loopback "$value"; then
    case $value in
      *:*) printf '[%s]:53\n' "$value" ;;
      *) printf '%s\n' "$value" ;;
    esac
    exit 0
  fi
done <"$conf"

# 3. Docker's record of the embedded DNS's upstreams: "# ExtServers: [192.0.2.53 host(127.0.0.53)]".
ext=$(sed -n 's/^# *ExtServers: *\[\(.*\)\].*$/\1/p' "$conf" | head -n 1)
for server in $ext; do
  case $server in host\(*) continue ;; esac
  if is_ip "$server" && ! is_loopback "$server"; then
    case $server in
      *:*) printf '[%s]:53\n' "$server" ;;
      *) printf '%s\n' "$server" ;;
    esac
    exit 0
  fi
done
exit 0
