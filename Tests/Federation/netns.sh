#!/usr/bin/env bash
# The federation test network: network namespaces joined by a bridge, and a DNS server.
#
#   netns.sh up STATE_DIR     create the namespaces, addresses, DNS (dnsmasq) and resolv.conf files;
#                             writes STATE_DIR/topology.json and records dnsmasq's PID in STATE_DIR/pids
#   netns.sh down STATE_DIR   stop every process recorded in STATE_DIR/pids (by PID) and delete the
#                             namespaces by name; safe to run more than once and after a partial `up`
#   netns.sh names            print the namespace names this script owns
#
# Layout (the /24 is used only inside these namespaces; nothing is added to the root namespace):
#
#   parley-fed-net    holds the bridge br0; one veth end per other namespace is enslaved to it
#   parley-fed-dns    FED_NET.2   dnsmasq: A and SRV records for *.fed.test, NXDOMAIN for the rest
#   parley-fed-a      FED_NET.11  a.fed.test  CA-issued certificate
#   parley-fed-b      FED_NET.12  b.fed.test  CA-issued certificate; _xmpps-server 5270 (priority 0) before
#                                             _xmpp-server 5269 (priority 10)
#   parley-fed-c      FED_NET.13  c.fed.test  self-signed certificate (not from the CA)
#   parley-fed-d      FED_NET.14  d.fed.test  CA-issued certificate for the wrong name (other.fed.test)
#   nowhere.fed.test has no records at all (NXDOMAIN).
#
# Each host namespace gets /etc/netns/<name>/resolv.conf (ip-netns bind-mounts it over /etc/resolv.conf
# for every `ip netns exec`) naming the DNS namespace's address, and /etc/netns/<name>/hosts.
set -euo pipefail

FED_NET="${FED_NET:-10.77.41}"   # first three octets of the private /24
NET_NS=parley-fed-net
DNS_NS=parley-fed-dns
DNS_IP="$FED_NET.2"
# short name, domain, last octet
HOSTS=(
    "a a.fed.test 11"
    "b b.fed.test 12"
    "c c.fed.test 13"
    "d d.fed.test 14"
)
S2S_PORT=5269
S2S_TLS_PORT=5270
DIRECT_TLS_DOMAIN=b.fed.test
UNRESOLVABLE_DOMAIN=nowhere.fed.test

all_names() {
    echo "$NET_NS" "$DNS_NS"
    for h in "${HOSTS[@]}"; do
        read -r short _ _ <<<"$h"
        echo "parley-fed-$short"
    done
}

log() { printf 'netns.sh: %s\n' "$*" >&2; }

# Stops every process whose PID file is in STATE/pids: SIGCONT (a test may have SIGSTOPped it),
# SIGTERM, then SIGKILL after a grace period. Only PIDs this harness recorded are touched.
stop_recorded() {
    local state="$1" f pid name alive
    [[ -d "$state/pids" ]] || return 0
    local pids=()
    for f in "$state"/pids/*.pid; do
        [[ -e "$f" ]] || continue
        pid="$(cat "$f" 2>/dev/null || true)"
        name="$(basename "$f" .pid)"
        if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
            log "stopping $name (pid $pid)"
            kill -CONT "$pid" 2>/dev/null || true
            kill -TERM "$pid" 2>/dev/null || true
            pids+=("$pid")
        fi
        rm -f "$f"
    done
    ((${#pids[@]})) || return 0
    for _ in $(seq 1 50); do
        alive=0
        for pid in "${pids[@]}"; do
            if kill -0 "$pid" 2>/dev/null && [[ "$(ps -o stat= -p "$pid" 2>/dev/null)" != Z* ]]; then
                alive=1
            fi
        done
        ((alive)) || return 0
        sleep 0.1
    done
    for pid in "${pids[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            log "pid $pid did not stop on SIGTERM; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
}

# Processes still inside one of our namespaces (e.g. children whose parent was killed): list their
# PIDs so they can be stopped one by one. `ip netns pids` reads /proc; it lists only processes in it.
stop_leftovers_in_namespaces() {
    local ns pid
    for ns in $(all_names); do
        ip netns list 2>/dev/null | awk '{print $1}' | grep -qx "$ns" || continue
        for pid in $(ip netns pids "$ns" 2>/dev/null); do
            log "stopping leftover pid $pid in $ns ($(tr '\0' ' ' </proc/"$pid"/cmdline 2>/dev/null | cut -c1-80))"
            kill -CONT "$pid" 2>/dev/null || true
            kill -TERM "$pid" 2>/dev/null || true
        done
    done
    sleep 0.5
    for ns in $(all_names); do
        ip netns list 2>/dev/null | awk '{print $1}' | grep -qx "$ns" || continue
        for pid in $(ip netns pids "$ns" 2>/dev/null); do
            kill -KILL "$pid" 2>/dev/null || true
        done
    done
}

down() {
    local state="${1:-}" ns
    [[ -n "$state" ]] && stop_recorded "$state"
    stop_leftovers_in_namespaces
    for ns in $(all_names); do
        if ip netns list 2>/dev/null | awk '{print $1}' | grep -qx "$ns"; then
            ip netns del "$ns" 2>/dev/null || log "could not delete namespace $ns"
        fi
        rm -rf "/etc/netns/$ns"
    done
}

up() {
    local state="$1"
    mkdir -p "$state/pids" "$state/dns"
    # Start from a clean slate: a previous run killed hard may have left namespaces behind.
    down "$state"

    ip netns add "$NET_NS"
    ip -n "$NET_NS" link set lo up
    ip -n "$NET_NS" link add br0 type bridge
    ip -n "$NET_NS" link set br0 up

    attach() {  # namespace, address, port name on the bridge
        local ns="$1" addr="$2" port="$3"
        ip netns add "$ns"
        ip -n "$ns" link set lo up
        ip link add eth0 netns "$ns" type veth peer name "$port" netns "$NET_NS"
        ip -n "$NET_NS" link set "$port" master br0
        ip -n "$NET_NS" link set "$port" up
        ip -n "$ns" addr add "$addr/24" dev eth0
        ip -n "$ns" link set eth0 up
    }

    attach "$DNS_NS" "$DNS_IP" p-dns
    local hosts_file="" short domain octet
    for h in "${HOSTS[@]}"; do
        read -r short domain octet <<<"$h"
        attach "parley-fed-$short" "$FED_NET.$octet" "p-$short"
    done

    # dnsmasq: authoritative for fed.test from its own records only; no upstream, no /etc/hosts.
    local conf="$state/dns/dnsmasq.conf"
    {
        echo "no-resolv"
        echo "no-hosts"
        echo "no-poll"
        echo "bind-interfaces"
        echo "listen-address=$DNS_IP"
        echo "port=53"
        echo "local=/fed.test/"
        echo "domain-needed"
        echo "bogus-priv"
        echo "log-queries"
        echo "log-facility=$state/dns/dnsmasq.log"
        echo "user=root"
        for h in "${HOSTS[@]}"; do
            read -r short domain octet <<<"$h"
            echo "host-record=$domain,$FED_NET.$octet"
            if [[ "$domain" == "$DIRECT_TLS_DOMAIN" ]]; then
                # Direct TLS first: a lower priority value wins (RFC 2782), and XEP-0368 has both
                # kinds of record ordered together, so every peer must try port 5270 first.
                echo "srv-host=_xmpps-server._tcp.$domain,$domain,$S2S_TLS_PORT,0,5"
                echo "srv-host=_xmpp-server._tcp.$domain,$domain,$S2S_PORT,10,5"
            else
                echo "srv-host=_xmpp-server._tcp.$domain,$domain,$S2S_PORT,0,5"
            fi
        done
    } >"$conf"
    ip netns exec "$DNS_NS" /usr/sbin/dnsmasq --keep-in-foreground --conf-file="$conf" \
        --pid-file="$state/dns/dnsmasq.own.pid" >"$state/dns/dnsmasq.out" 2>&1 &
    echo $! >"$state/pids/dnsmasq.pid"

    for h in "${HOSTS[@]}"; do
        read -r short domain octet <<<"$h"
        hosts_file+="$FED_NET.$octet $domain"$'\n'
    done
    for h in "${HOSTS[@]}"; do
        read -r short domain octet <<<"$h"
        mkdir -p "/etc/netns/parley-fed-$short"
        printf 'nameserver %s\noptions timeout:2 attempts:2\n' "$DNS_IP" >"/etc/netns/parley-fed-$short/resolv.conf"
        # Only localhost: the test domains must come from DNS, as they would for a real peer.
        printf '127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n' >"/etc/netns/parley-fed-$short/hosts"
    done

    # Wait for dnsmasq to answer (a TCP connect to port 53 from a host namespace is enough).
    local ok=0
    for _ in $(seq 1 50); do
        if ip netns exec parley-fed-a bash -c "exec 3<>/dev/tcp/$DNS_IP/53" 2>/dev/null; then ok=1; break; fi
        sleep 0.1
    done
    if ((!ok)); then
        log "dnsmasq did not come up; its output:"
        cat "$state/dns/dnsmasq.out" >&2 || true
        return 1
    fi

    # topology.json: what the Python side needs to know.
    {
        echo "{"
        echo "  \"subnet\": \"$FED_NET.0/24\","
        echo "  \"dns\": {\"namespace\": \"$DNS_NS\", \"ip\": \"$DNS_IP\"},"
        echo "  \"s2s_port\": $S2S_PORT, \"s2s_direct_tls_port\": $S2S_TLS_PORT,"
        echo "  \"direct_tls_domain\": \"$DIRECT_TLS_DOMAIN\","
        echo "  \"unresolvable_domain\": \"$UNRESOLVABLE_DOMAIN\","
        echo "  \"hosts\": {"
        local first=1
        for h in "${HOSTS[@]}"; do
            read -r short domain octet <<<"$h"
            ((first)) || echo ","
            first=0
            printf '    "%s": {"domain": "%s", "namespace": "parley-fed-%s", "ip": "%s"}' \
                "$short" "$domain" "$short" "$FED_NET.$octet"
        done
        echo ""
        echo "  }"
        echo "}"
    } >"$state/topology.json"
    log "network up: $(all_names | tr '\n' ' ')"
}

case "${1:-}" in
    up) up "${2:?usage: netns.sh up STATE_DIR}" ;;
    down) down "${2:-}" ;;
    names) all_names ;;
    *) echo "usage: netns.sh up|down STATE_DIR | names" >&2; exit 2 ;;
esac
