#!/usr/bin/env bash
# sluice-init.sh apply|verify|remove|render [v4|v6]
#
# Installs sluice's capture rules in the current network namespace (run it as root, inside the
# namespace to capture). The rules live in rules.v4.tmpl / rules.v6.tmpl beside this script;
# README.md explains each one. Needs bash, grep, sort and iptables (nft or legacy backend),
# with ip6tables whenever the kernel has IPv6.
#
#   apply   install or refresh the rules atomically, read them back, exit non-zero (leaving the
#           namespace as it was) if anything is missing, including IPv6 when IPv6 exists
#   verify  compare the live rules with the rendered ones; print what is missing or extra
#   remove  delete sluice's chains and the jumps to them
#   render  print the rules that apply would install, without touching anything
#
# Tunables (environment):
#   SLUICE_UID=1337  SLUICE_HTTPS_PORT=15443  SLUICE_HTTP_PORT=15080  SLUICE_DENY_PORT=15001
#   SLUICE_DNS_PORT=15053  SLUICE_ADMIN_PORT=15000
#   SLUICE_EXTRA_TLS_PORTS="8443:15444 …"  more TLS ports, each to a sluice listener of its own
#   SLUICE_EXCLUDE_CIDRS="10.96.0.0/12 …"  destinations left alone: a hole, see README.md
#   SLUICE_IPTABLES=auto|nft|legacy        backend; auto follows whichever already holds rules
set -euo pipefail -o noglob   # no globbing: tunables are split on spaces, never expanded

readonly PROG=sluice-init
RULES_DIR=${SLUICE_RULES_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}

SLUICE_UID=${SLUICE_UID:-1337}
SLUICE_HTTPS_PORT=${SLUICE_HTTPS_PORT:-15443}
SLUICE_HTTP_PORT=${SLUICE_HTTP_PORT:-15080}
SLUICE_DENY_PORT=${SLUICE_DENY_PORT:-15001}
SLUICE_DNS_PORT=${SLUICE_DNS_PORT:-15053}
SLUICE_ADMIN_PORT=${SLUICE_ADMIN_PORT:-15000}
SLUICE_EXTRA_TLS_PORTS=${SLUICE_EXTRA_TLS_PORTS:-}
SLUICE_EXCLUDE_CIDRS=${SLUICE_EXCLUDE_CIDRS:-}
SLUICE_IPTABLES=${SLUICE_IPTABLES:-auto}

readonly TABLES=(nat filter)

log() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() { log "$*"; exit 1; }
usage() { die "usage: sluice-init.sh apply|verify|remove|render [v4|v6]"; }

# ---------------------------------------------------------------------------------- tunables
# Everything below is pasted into iptables-restore input, so every value is checked first.
EXCLUDE4=() EXCLUDE6=() EXTRA_PORTS=() EXTRA_LISTENS=() LISTEN_PORTS=''

check_port() { # name value
  [[ $2 =~ ^[0-9]{1,5}$ ]] && (( 10#$2 >= 1 && 10#$2 <= 65535 )) ||
    die "$1=$2 is not a port (1-65535)"
}

check_cidr4() {
  local ip=${1%/*} len=${1#*/} a b c d
  [[ $1 =~ ^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})/([0-9]{1,2})$ ]] ||
    die "SLUICE_EXCLUDE_CIDRS: '$1' is not ADDRESS/PREFIX"
  IFS=. read -r a b c d <<<"$ip"
  (( a <= 255 && b <= 255 && c <= 255 && d <= 255 && len <= 32 )) ||
    die "SLUICE_EXCLUDE_CIDRS: '$1' is out of range"
  # iptables prints the network address; a CIDR with host bits set could never verify.
  local n=$(( (a << 24) | (b << 16) | (c << 8) | d )) mask=$(( len == 0 ? 0 : (0xffffffff << (32 - len)) & 0xffffffff ))
  (( (n & mask) == n )) || die "SLUICE_EXCLUDE_CIDRS: '$1' has host bits set; write the network address"
}

check_cidr6() {
  # ip6tables prints addresses in compressed lower-case form; ask for that form so that
  # verify can compare text (an uncompressed spelling is reported by verify, not accepted).
  [[ $1 =~ ^[0-9a-f:]+/([0-9]{1,3})$ ]] && (( 10#${BASH_REMATCH[1]} <= 128 )) ||
    die "SLUICE_EXCLUDE_CIDRS: '$1' is not a lower-case IPv6 ADDRESS/PREFIX"
}

load_tunables() {
  [[ $SLUICE_UID =~ ^[0-9]{1,10}$ ]] || die "SLUICE_UID=$SLUICE_UID is not a numeric uid"
  local v
  for v in SLUICE_HTTPS_PORT SLUICE_HTTP_PORT SLUICE_DENY_PORT SLUICE_DNS_PORT SLUICE_ADMIN_PORT; do
    check_port "$v" "${!v}"
  done
  local item
  for item in ${SLUICE_EXCLUDE_CIDRS//,/ }; do
    if [[ $item == *:* ]]; then check_cidr6 "$item"; EXCLUDE6+=("$item")
    else check_cidr4 "$item"; EXCLUDE4+=("$item"); fi
  done
  for item in ${SLUICE_EXTRA_TLS_PORTS//,/ }; do
    [[ $item == *:* ]] || die "SLUICE_EXTRA_TLS_PORTS: '$item' is not PORT:LISTENER_PORT"
    check_port SLUICE_EXTRA_TLS_PORTS "${item%%:*}"
    check_port SLUICE_EXTRA_TLS_PORTS "${item#*:}"
    EXTRA_PORTS+=("${item%%:*}") EXTRA_LISTENS+=("${item#*:}")
  done
  local listens=("$SLUICE_HTTPS_PORT" "$SLUICE_HTTP_PORT" "$SLUICE_DENY_PORT" "$SLUICE_DNS_PORT" "${EXTRA_LISTENS[@]}")
  # sluice learns the original port from the listener a connection arrived on: one each.
  local all=" ${listens[*]} $SLUICE_ADMIN_PORT "
  for v in "${listens[@]}" "$SLUICE_ADMIN_PORT"; do
    [[ ${all/ $v / } != *" $v "* ]] || die "listener port $v is used twice"
  done
  (( ${#listens[@]} <= 15 )) || die "too many listener ports (iptables multiport takes 15)"
  LISTEN_PORTS=$(IFS=,; echo "${listens[*]}")
}

# ------------------------------------------------------------------------------------ render
substitute() { # line -> line with scalar tunables filled in
  local s=$1
  s=${s//'${SLUICE_UID}'/$SLUICE_UID}
  s=${s//'${SLUICE_HTTPS_PORT}'/$SLUICE_HTTPS_PORT}
  s=${s//'${SLUICE_HTTP_PORT}'/$SLUICE_HTTP_PORT}
  s=${s//'${SLUICE_DENY_PORT}'/$SLUICE_DENY_PORT}
  s=${s//'${SLUICE_DNS_PORT}'/$SLUICE_DNS_PORT}
  s=${s//'${SLUICE_ADMIN_PORT}'/$SLUICE_ADMIN_PORT}
  s=${s//'${SLUICE_LISTEN_PORTS}'/$LISTEN_PORTS}
  printf '%s\n' "$s"
}

render_family() { # v4|v6 -> rendered rules on stdout
  local fam=$1 line line2 i
  local -n excludes="EXCLUDE${fam#v}"
  local tmpl="$RULES_DIR/rules.$fam.tmpl"
  [[ -r $tmpl ]] || die "cannot read $tmpl"
  while IFS= read -r line || [[ -n $line ]]; do
    if [[ $line == '#'* ]]; then
      printf '%s\n' "$line"   # comments are documentation, never substituted
    elif [[ $line == *'${EXCLUDE_CIDR}'* ]]; then
      for i in "${excludes[@]}"; do substitute "${line//'${EXCLUDE_CIDR}'/$i}"; done
    elif [[ $line == *'${EXTRA_TLS_PORT}'* ]]; then
      for i in "${!EXTRA_PORTS[@]}"; do
        line2=${line//'${EXTRA_TLS_PORT}'/${EXTRA_PORTS[$i]}}
        substitute "${line2//'${EXTRA_TLS_LISTEN}'/${EXTRA_LISTENS[$i]}}"
      done
    else
      substitute "$line"
    fi
  done <"$tmpl"
}

rules_only() { grep -v -e '^#' -e '^[[:space:]]*$' || true; }

table_block() { # table restore-text -> the lines between "*table" and its COMMIT
  local on=0 line
  while IFS= read -r line; do
    if [[ $line == "*$1" ]]; then on=1
    elif [[ $line == COMMIT ]]; then on=0
    elif (( on )); then printf '%s\n' "$line"; fi
  done <<<"$2"
}

# ----------------------------------------------------------------------------------- backend
IPT4=() IPT6=() BACKEND=''

have() { command -v "$1" >/dev/null 2>&1; }

rule_count() { # save-command -> number of rules it lists (0 when it cannot run)
  { "$1" 2>/dev/null || true; } | grep -c '^-A' || true
}

pick_backend() {
  local mode=$SLUICE_IPTABLES
  if [[ $mode == auto ]]; then
    # Follow the backend that already holds rules (Docker's DNS DNAT, a CNI's rules): two
    # backends in one namespace both run, and their NAT decisions race.
    if have iptables-nft && have iptables-legacy; then
      local nft legacy
      nft=$(( $(rule_count iptables-nft-save) + $(rule_count ip6tables-nft-save) ))
      legacy=$(( $(rule_count iptables-legacy-save) + $(rule_count ip6tables-legacy-save) ))
      if (( legacy > nft )); then mode=legacy; else mode=nft; fi
      # A kernel without nf_tables: nft cannot even list; legacy may still work.
      if [[ $mode == nft ]] && ! iptables-nft -w 10 -S OUTPUT >/dev/null 2>&1; then mode=legacy; fi
    elif have iptables-nft; then mode=nft
    elif have iptables-legacy; then mode=legacy
    else mode=plain; fi
  fi
  case $mode in
    nft|legacy) IPT4=(iptables-$mode) IPT6=(ip6tables-$mode) ;;
    plain) IPT4=(iptables) IPT6=(ip6tables) ;;
    *) die "SLUICE_IPTABLES=$SLUICE_IPTABLES: expected auto, nft or legacy" ;;
  esac
  BACKEND=$mode
}

ipt() { # v4|v6 args… -> run iptables of that family
  local -n cmd="IPT${1#v}"; shift
  "${cmd[0]}" -w 10 "$@"
}

ipt_restore() { # v4|v6 < rules
  local -n cmd="IPT${1#v}"
  "${cmd[0]}-restore" -w 10 --noflush
}

# IPv6 counts as present whenever the kernel has it, even with every address disabled (Docker's
# IPv4-only networks): a process with enough privilege could re-enable it behind our back.
ipv6_present() { [[ -e /proc/net/if_inet6 ]]; }

families() { if ipv6_present; then echo v4 v6; else echo v4; fi; }

tools_present() { # v4|v6
  local -n cmd="IPT${1#v}"
  have "${cmd[0]}" && have "${cmd[0]}-restore"
}

require_tools() { # v4|v6 [why]
  local -n cmd="IPT${1#v}"
  tools_present "$1" || die "IPv${1#v}: ${cmd[0]} and ${cmd[0]}-restore are required${2:-}"
}

# --------------------------------------------------------------------------- state and apply
# A "state" is restore-format text holding only sluice's part: chain declarations, "-I X 1 -j C"
# jumps and "-A C …" rules. apply, remove and rollback all go through install_state, which turns
# the live rules into exactly that state in one iptables-restore transaction per family.

live_rules() { ipt "$1" -t "$2" -S; }

snapshot_state() { # v4|v6 -> the live sluice state, in the same format
  local fam=$1 table line chains rules jumps live
  for table in "${TABLES[@]}"; do
    chains='' rules='' jumps=''
    live=$(live_rules "$fam" "$table") || return 1
    while IFS= read -r line; do
      if [[ $line =~ ^-N\ (SLUICE_[A-Z0-9_]+)$ ]]; then chains+=":${BASH_REMATCH[1]} - [0:0]"$'\n'
      elif [[ $line == '-A SLUICE_'* ]]; then rules+="$line"$'\n'
      elif [[ $line =~ ^-A\ ([A-Z]+)\ -j\ (SLUICE_[A-Z0-9_]+)$ ]]; then
        [[ $jumps == *"-I ${BASH_REMATCH[1]} 1 -j ${BASH_REMATCH[2]}"* ]] ||
          jumps+="-I ${BASH_REMATCH[1]} 1 -j ${BASH_REMATCH[2]}"$'\n'
      fi
    done <<<"$live"
    [[ -z $chains ]] || printf '*%s\n%s%s%sCOMMIT\n' "$table" "$chains" "$jumps" "$rules"
  done
}

transaction() { # v4|v6 desired-state -> restore input that turns the live rules into it
  local fam=$1 desired=$2 table line want live
  for table in "${TABLES[@]}"; do
    want=$(table_block "$table" "$desired")
    live=$(live_rules "$fam" "$table") || return 1
    local -A live_chains=() want_chains=()
    local deletes=''
    while IFS= read -r line; do
      if [[ $line =~ ^-N\ (SLUICE_[A-Z0-9_]+)$ ]]; then live_chains[${BASH_REMATCH[1]}]=1
      elif [[ $line =~ ^-A\ ([A-Za-z0-9_-]+)\ (.*-j\ SLUICE_[A-Z0-9_]+)$ && ${BASH_REMATCH[1]} != SLUICE_* ]]; then
        deletes+="-D ${BASH_REMATCH[1]} ${BASH_REMATCH[2]}"$'\n'   # every jump, wherever it sits
      fi
    done <<<"$live"
    while IFS= read -r line; do
      [[ $line =~ ^:(SLUICE_[A-Z0-9_]+)\  ]] && want_chains[${BASH_REMATCH[1]}]=1
    done <<<"$want"
    (( ${#live_chains[@]} + ${#want_chains[@]} > 0 )) || continue
    printf '*%s\n' "$table"
    # Declaring a chain that exists flushes it (iptables-restore --noflush semantics).
    for line in "${!live_chains[@]}" "${!want_chains[@]}"; do printf ':%s - [0:0]\n' "$line"; done | sort -u
    printf '%s' "$deletes"
    for line in "${!live_chains[@]}"; do [[ -n ${want_chains[$line]:-} ]] || printf -- '-X %s\n' "$line"; done
    grep -v '^:' <<<"$want" | grep -v '^$' || true
    printf 'COMMIT\n'
    unset live_chains want_chains
  done
}

install_state() { # v4|v6 state
  local input
  input=$(transaction "$1" "$2") || return 1
  [[ -n $input ]] || return 0
  ipt_restore "$1" <<<"$input"
}

# ------------------------------------------------------------------------------------ verify
verify_family() { # v4|v6 -> prints differences, returns 1 if any
  local fam=$1 label="IPv${1#v}" table line want bad=0
  local rendered
  rendered=$(render_family "$fam" | rules_only)
  for table in "${TABLES[@]}"; do
    want=$(table_block "$table" "$rendered")
    local live want_rules live_rules_
    live=$(live_rules "$fam" "$table") || { log "$label $table: cannot read rules"; return 1; }
    want_rules=$(grep '^-A SLUICE_' <<<"$want" || true)
    live_rules_=$(grep '^-A SLUICE_' <<<"$live" || true)
    while IFS= read -r line; do
      [[ -z $line ]] || grep -qxF -- "$line" <<<"$live_rules_" || { log "$label $table: missing: $line"; bad=1; }
    done <<<"$want_rules"
    while IFS= read -r line; do
      [[ -z $line ]] || grep -qxF -- "$line" <<<"$want_rules" || { log "$label $table: extra: $line"; bad=1; }
    done <<<"$live_rules_"
    if (( ! bad )) && [[ $want_rules != "$live_rules_" ]]; then
      log "$label $table: rules are out of order or duplicated"; bad=1
    fi
    # Each jump must be the first rule of its built-in chain, exactly once.
    while IFS= read -r line; do
      [[ $line =~ ^-I\ ([A-Z]+)\ 1\ -j\ (SLUICE_[A-Z0-9_]+)$ ]] || continue
      local from=${BASH_REMATCH[1]} to=${BASH_REMATCH[2]} first count
      first=$(grep -m1 -- "^-A $from " <<<"$live" || true)
      count=$(grep -c -- "^-A $from .*-j $to\$" <<<"$live" || true)
      if [[ $first != "-A $from -j $to" ]]; then
        log "$label $table: missing: -A $from -j $to as the first rule of $from"; bad=1
      elif (( count != 1 )); then
        log "$label $table: extra: $count jumps from $from to $to"; bad=1
      fi
    done <<<"$want"
  done
  return "$bad"
}

verify_all() {
  local fam bad=0
  for fam in $(families); do
    require_tools "$fam" ' (IPv6 is enabled in this namespace)'
    verify_family "$fam" || bad=1
  done
  return "$bad"
}

# ---------------------------------------------------------------------------------- commands
cmd_render() {
  case ${1:-both} in
    v4|v6) render_family "$1" ;;
    both) printf '# ==> IPv4: iptables-restore --noflush\n'; render_family v4
          printf '# ==> IPv6: ip6tables-restore --noflush\n'; render_family v6 ;;
    *) usage ;;
  esac
}

cmd_apply() {
  local fams fam
  read -r -a fams <<<"$(families)"
  # Refuse before touching anything when a family cannot be handled (fail closed).
  for fam in "${fams[@]}"; do require_tools "$fam" ' (IPv6 is enabled in this namespace)'; done
  local -A before=() desired=()
  for fam in "${fams[@]}"; do
    before[$fam]=$(snapshot_state "$fam") || die "IPv${fam#v}: cannot read the current rules"
    desired[$fam]=$(render_family "$fam" | rules_only)
  done
  local failed=''
  for fam in "${fams[@]}"; do
    if ! install_state "$fam" "${desired[$fam]}"; then failed="IPv${fam#v} rules could not be installed"; break; fi
  done
  if [[ -z $failed ]] && ! verify_all; then failed='the installed rules do not read back as rendered'; fi
  if [[ -n $failed ]]; then
    # Leave the namespace exactly as it was, so that a half-installed policy never runs.
    local now
    for fam in "${fams[@]}"; do
      now=$(snapshot_state "$fam" 2>/dev/null) && [[ $now == "${before[$fam]}" ]] && continue
      install_state "$fam" "${before[$fam]}" || log "IPv${fam#v}: could not restore the previous rules"
    done
    die "apply failed: $failed; nothing changed (backend $BACKEND)"
  fi
  log "applied (${fams[*]}, backend $BACKEND, uid $SLUICE_UID exempt)"
}

cmd_remove() {
  local fam bad=0
  for fam in $(families); do
    if ! tools_present "$fam"; then log "IPv${fam#v}: no iptables for it; nothing to remove there"; continue; fi
    install_state "$fam" '' || { log "IPv${fam#v}: remove failed"; bad=1; }
  done
  (( ! bad )) || exit 1
  log "removed (backend $BACKEND)"
}

main() {
  local cmd=${1:-}
  (( $# >= 1 )) || usage
  shift
  load_tunables
  case $cmd in
    render) cmd_render "$@" ;;
    apply) pick_backend; cmd_apply ;;
    verify) pick_backend; verify_all || die "verify failed (backend $BACKEND)"; log "verified (backend $BACKEND)" ;;
    remove) pick_backend; cmd_remove ;;
    *) usage ;;
  esac
}

main "$@"
