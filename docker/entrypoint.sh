#!/bin/bash
# The sluice image's entrypoint (DESIGN.md §5). Runs as root, because the capture rules need
# CAP_NET_ADMIN; everything after them runs as sluice's uid with no capabilities at all.
#
# `run` (sluice itself):
#   1. verify the capture rules in this network namespace; install them if they are missing
#      or differ (fail closed: no rules, no start)
#   2. give the CA and log folders to sluice's uid
#   3. copy Docker secrets (bind mounts that may be root-only 0600) to a tmpfs sluice can read
#   4. find a resolver for sluice's own lookups outside the namespace (dns-upstream.sh)
#   5. create the CA and publish ca.crt and ca-bundle.crt on the trust volume for the agents
#   6. exec `sluice run` as uid 1337 (setpriv: no capabilities, no new privileges)
#
# `hold` (compose.yaml's sluice-net: the container that owns the namespace, as Kubernetes'
# pause container does, so that a restarted sluice finds the agent where it left it): installs
# the rules once, keeps a copy of the namespace's resolv.conf where the agent cannot write, then
# sleeps as nobody with no capabilities until stopped.
#
# `engine-resolvers` (compose.yaml's sluice-dns-scout, on Docker's default bridge): copies the
# resolv.conf Docker gives a container there, i.e. the engine's own resolvers, for step 4.
#
# `docker run IMAGE check|env|ca …` runs that sluice command as uid 1337 and installs nothing.
#
# Environment: SLUICE_CONFIG (/sluice/sluice.toml), SLUICE_TRUST_DIR (/sluice/trust),
# SLUICE_SECRETS_DIR (/run/sluice/secrets), SLUICE_RESOLVERS_DIR (/sluice/resolvers),
# SLUICE_DNS_UPSTREAM ("IP[:port]", or "system" to keep /etc/resolv.conf as it is), and
# sluice-init.sh's own (SLUICE_EXCLUDE_CIDRS, …).
set -euo pipefail

log() { printf 'sluice-entrypoint: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

SLUICE=/app/bin/sluice.js
CONFIG=${SLUICE_CONFIG:-/sluice/sluice.toml}
TRUST_DIR=${SLUICE_TRUST_DIR:-/sluice/trust}
SECRETS_IN=/run/secrets
SECRETS_OUT=${SLUICE_SECRETS_DIR:-/run/sluice/secrets}
RESOLVERS_DIR=${SLUICE_RESOLVERS_DIR:-/sluice/resolvers}
HOLDER_READY=/run/sluice-net.ready

# as_sluice CMD…: run as sluice's uid and gid, no supplementary groups, every capability gone
# (permitted, effective, inheritable, ambient and the bounding set), no_new_privs.
as_sluice() {
  setpriv --reuid="$UID_" --regid="$UID_" --clear-groups --inh-caps=-all --bounding-set=-all \
    --no-new-privs -- "$@"
}

UID_=${SLUICE_UID:-1337}
if [ "$(id -u)" != 0 ]; then
  die "must start as root: it installs the capture rules, then drops to uid $UID_ (remove 'user:' from the sluice service)"
fi

# write_atomically FILE: stdin to FILE, readable by all (it holds addresses, no secrets).
write_atomically() {
  mkdir -p "$(dirname "$1")"
  cat >"$1.tmp"
  chmod 0644 "$1.tmp"
  mv -f "$1.tmp" "$1"
}

command=${1:-run}
if [ "$command" = engine-resolvers ]; then
  # On the default bridge there is no embedded DNS: resolv.conf holds the engine's resolvers.
  write_atomically "$RESOLVERS_DIR/engine.conf" </etc/resolv.conf
  log "the engine's resolvers, for sluice: $(grep -E '^nameserver' /etc/resolv.conf | tr '\n' ' ')"
  exit 0
fi
if [ "$command" != run ] && [ "$command" != hold ]; then
  # Any other sluice command: no rules, no root.
  exec setpriv --reuid="$UID_" --regid="$UID_" --clear-groups --inh-caps=-all --bounding-set=-all \
    --no-new-privs -- node "$SLUICE" "$@"
fi
shift

# A missing bind-mount source becomes an empty directory: say so instead of a TOML error.
[ -d "$CONFIG" ] && die "$CONFIG is a directory: the file mounted there does not exist on the host (is sluice.toml next to compose.yaml?)"
[ -f "$CONFIG" ] || die "$CONFIG does not exist"
as_sluice test -r "$CONFIG" || die "$CONFIG is not readable by uid $UID_ (make it world-readable: it holds no secrets)"

settings=$(as_sluice env -u SLUICE_DNS_UPSTREAM node /app/dist/sluice/config-paths.js "$CONFIG") || die "cannot load $CONFIG (run: sluice check -c $CONFIG)"
eval "$settings"
[ "$CFG_UID" = "$UID_" ] || die "$CONFIG says proxy.uid = $CFG_UID but this image runs sluice as $UID_ (set SLUICE_UID=$CFG_UID, and run the HEALTHCHECK as that uid)"

# ---- 1. capture rules ---------------------------------------------------------------------------
export SLUICE_UID="$CFG_UID" SLUICE_HTTPS_PORT="$CFG_HTTPS_PORT" SLUICE_HTTP_PORT="$CFG_HTTP_PORT" \
  SLUICE_DENY_PORT="$CFG_DENY_PORT" SLUICE_DNS_PORT="$CFG_DNS_PORT" SLUICE_ADMIN_PORT="$CFG_ADMIN_PORT"

apply_rules() {
  /app/iptables/sluice-init.sh apply ||
    die "the capture rules could not be installed; refusing to start (does the service have cap_add: [NET_ADMIN]?)"
}

if [ "$command" = hold ]; then
  rm -f "$HOLDER_READY"   # a restarted holder keeps its filesystem: not ready until applied again
  apply_rules
  # The agent shares this resolv.conf (and, as root, could rewrite it); sluice reads this copy.
  write_atomically "$RESOLVERS_DIR/namespace.conf" </etc/resolv.conf
  touch "$HOLDER_READY"
  log "holding the network namespace (rules installed); sleeping as nobody"
  exec setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all --no-new-privs -- \
    bash -c 'trap "exit 0" TERM INT; sleep infinity & wait'
fi

# sluice itself: the rules are normally in place already (sluice-net installed them, and they
# outlive a restart of sluice, since the namespace is the holder's). Verify them; install them
# only when they are missing or differ (a plain `docker run`, changed ports, tampering).
if verify_out=$(/app/iptables/sluice-init.sh verify 2>&1); then
  log "capture rules verified in this namespace"
else
  log "capture rules missing or different here ($(printf '%s' "$verify_out" | grep -c 'missing\|extra') differences): installing them"
  apply_rules
fi

# ---- 2. folders -----------------------------------------------------------------------------------
mkdir -p "$CFG_CA_DIR" "$CFG_LOG_DIR" "$TRUST_DIR"
chown -R "$UID_:$UID_" "$CFG_CA_DIR"
chmod 0700 "$CFG_CA_DIR"
# Logs can be large: fix the folder and its direct entries only (that is all sluice writes).
find "$CFG_LOG_DIR" -maxdepth 1 \( ! -user "$UID_" -o ! -group "$UID_" \) -exec chown "$UID_:$UID_" {} +
chmod 0750 "$CFG_LOG_DIR"

# ---- 3. Docker secrets --------------------------------------------------------------------------
# Compose secrets are bind mounts that keep the host file's owner and mode, so a root-only 0600
# file is unreadable by uid 1337. Copy each one to a tmpfs owned by sluice; point sluice.toml at
# the copies: secret = { file = "/run/sluice/secrets/NAME" }.
if [ -d "$SECRETS_IN" ] && [ -n "$(ls -A "$SECRETS_IN" 2>/dev/null)" ]; then
  parent=$(dirname "$SECRETS_OUT")
  mkdir -p "$parent"
  if [ "$(stat -f -c %T "$parent")" != tmpfs ]; then
    log "warning: $parent is not a tmpfs, so secret copies land on the container's disk (compose: tmpfs: [$parent])"
  fi
  rm -rf "$SECRETS_OUT"
  mkdir -m 0700 "$SECRETS_OUT"
  copied=()
  for src in "$SECRETS_IN"/*; do
    [ -f "$src" ] || continue
    name=$(basename "$src")
    install -m 0400 -o "$UID_" -g "$UID_" "$src" "$SECRETS_OUT/$name"
    copied+=("$name")
  done
  chown "$UID_:$UID_" "$SECRETS_OUT"
  log "secrets readable by sluice in $SECRETS_OUT: ${copied[*]:-none}"
fi

# ---- 4. sluice's own resolver ---------------------------------------------------------------------
# Never leave sluice on the container's resolver: besides the 127.0.0.11 trap (dns-upstream.sh),
# /etc/resolv.conf and /etc/hosts are the same files in the agent's container (it shares the
# namespace), so an agent running as root could repoint sluice's lookups. An address sluice
# reads from its config or environment is out of the agent's reach; so is the holder's copy.
if [ -n "$CFG_DNS_UPSTREAM" ]; then
  [ -z "${SLUICE_DNS_UPSTREAM:-}" ] || log "DNS: SLUICE_DNS_UPSTREAM ignored: $CONFIG sets [dns] upstream"
  unset SLUICE_DNS_UPSTREAM
  log "DNS: sluice resolves through $CFG_DNS_UPSTREAM ([dns] upstream in $CONFIG)"
elif [ "${SLUICE_DNS_UPSTREAM:-}" = system ]; then
  unset SLUICE_DNS_UPSTREAM
  log "DNS: sluice resolves through /etc/resolv.conf (SLUICE_DNS_UPSTREAM=system)"
else
  # As sluice's uid: exempt from the capture, so the probes reach the real candidates.
  upstream=$(as_sluice /app/docker/dns-upstream.sh "$RESOLVERS_DIR/engine.conf" "$RESOLVERS_DIR/namespace.conf" /etc/resolv.conf) ||
    die "no DNS resolver for sluice (the lines above say what was tried and what to add to .env)"
  export SLUICE_DNS_UPSTREAM="$upstream"
  log "DNS: sluice resolves through $upstream"
fi

# ---- 5. CA and trust bundle -------------------------------------------------------------------------
as_sluice node "$SLUICE" ca init -c "$CONFIG" >/dev/null
# Published by root on a volume the agents mount read-only: the certificate and the bundle,
# never the key.
install -m 0644 -o 0 -g 0 "$CFG_CA_DIR/ca.crt" "$TRUST_DIR/ca.crt.tmp"
mv -f "$TRUST_DIR/ca.crt.tmp" "$TRUST_DIR/ca.crt"
as_sluice node "$SLUICE" ca bundle -c "$CONFIG" >"$TRUST_DIR/ca-bundle.crt.tmp"
chmod 0644 "$TRUST_DIR/ca-bundle.crt.tmp"
mv -f "$TRUST_DIR/ca-bundle.crt.tmp" "$TRUST_DIR/ca-bundle.crt"
log "agents trust $TRUST_DIR/ca.crt (NODE_EXTRA_CA_CERTS) and $TRUST_DIR/ca-bundle.crt (SSL_CERT_FILE & co.)"

# ---- 6. run -----------------------------------------------------------------------------------------
log "starting sluice as uid $UID_ with no capabilities"
exec setpriv --reuid="$UID_" --regid="$UID_" --clear-groups --inh-caps=-all --bounding-set=-all \
  --no-new-privs -- node "$SLUICE" run -c "$CONFIG" "$@"
