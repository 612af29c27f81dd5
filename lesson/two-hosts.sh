#!/usr/bin/env bash
# two-hosts.sh - the pair between two machines (make two-hosts, as root).
#
# Host A runs ./server and host B runs ./client: two network namespaces joined
# by a virtual cable (tests/hosts.sh), removed on the way out.  Then two
# failures from the README's Troubleshooting, as they really look: a firewall
# on A that drops the packets (the client times out), one that rejects them.
set -u
# A user may make namespaces inside namespaces of its own, where it is root.
[ -n "${ISOLATED:-}" ] || exec "$(dirname "$0")/../tests/isolated.sh" "$0" "$@"
if [ "$(id -u)" -ne 0 ]; then
    echo "two-hosts: needs root, for network namespaces: sudo make two-hosts" >&2
    exit 1
elif ! command -v ip >/dev/null; then
    echo "two-hosts: needs ip (apt-get install iproute2)" >&2
    exit 1
fi
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../tests/lib.sh"
# shellcheck source=tests/hosts.sh
source tests/hosts.sh
hosts_up || { echo "two-hosts: cannot make the two hosts (network namespaces)" >&2; exit 1; }

# server_says: what the server on A logged since last time.
logged=0
server_says() {
    tail -n "+$((logged + 1))" "$work/server.out" | sed 's/^/A server | /'
    logged=$(wc -l <"$work/server.out")
}
# on_b ARGS...: ./client ARGS on B (bounded), then what each side said.
on_b() {
    echo "B \$ ./client $*"
    in_b timeout 15 ./client "$@" >"$work/client" 2>&1
    server_says
    tr -d '\r' <"$work/client" | sed 's/^/B client | /'
}
# nft_a COMMAND: nft COMMAND in A's firewall, which is A's alone.
nft_a() { echo "A \$ sudo nft '$1'"; in_a nft "$1"; }

echo "== make two-hosts: host A is 192.0.2.1 and 2001:db8::1, host B is"
echo "   192.0.2.2 and 2001:db8::2 (two network namespaces, a virtual cable)"
echo
echo "A \$ ./server"
start_server ip netns exec "$ns_a" ./server || exit 1
server_says
on_b 192.0.2.1
on_b 2001:db8::1

echo
echo "== Troubleshooting: a firewall on A drops the packets for port 9999"
command -v nft >/dev/null || {
    echo "(skipped: this needs nft, from the nftables package: apt-get install nftables)"
    exit 0
}
if ! { nft_a 'add table inet filter' &&
    nft_a 'add chain inet filter input { type filter hook input priority 0; }' &&
    nft_a 'add rule inet filter input tcp dport 9999 drop'; }; then
    echo "(skipped: nft failed; does this kernel have nf_tables?)"
    exit 0
fi
on_b -t 2 192.0.2.1
echo "(the server logged nothing: A's firewall dropped the packets before it saw them)"
echo
echo "== ... and a firewall that rejects them"
nft_a 'flush chain inet filter input'
nft_a 'add rule inet filter input tcp dport 9999 reject with tcp reset'
on_b 192.0.2.1
