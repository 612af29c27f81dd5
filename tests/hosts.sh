# shellcheck shell=bash disable=SC2154 # $work: tests/lib.sh sets it
# tests/hosts.sh - two hosts on one machine, for tests/netns.sh and the
# lesson.  Sourced after tests/lib.sh; needs ip (iproute2), and root, or
# tests/isolated.sh, which makes a user root of namespaces of its own.
#
# hosts_up makes two network namespaces joined by a virtual cable (a veth
# pair): host A, the server's, 192.0.2.1 and 2001:db8::1, and host B, the
# client's, 192.0.2.2 and 2001:db8::2 (documentation addresses, used nowhere
# else).  B routes only its link and the "silent" prefixes 198.51.100.0/24 and
# 2001:db8:1::/64, to A, which black-holes them: a SYN sent there vanishes,
# no answer, no ICMP error, as behind a firewall that drops.  On B names are
# looked up in a hosts file of this run only ("hosts: files", mounted for
# in_b's commands alone): silent-first is 2001:db8:1::7 (silent, sorted
# first) then 192.0.2.1 (A), all-silent is 2001:db8:1::7 and 198.51.100.7.
# So no packet and no name lookup leaves the machine.  Fails, saying why on
# stderr, if the namespaces cannot be made; all of it is removed on the way
# out (lib.sh's at_exit).  in_a CMD..., in_b CMD...: run CMD there.

ns_a=pair-$$-A ns_b=pair-$$-B          # names unique to this run
in_a() { ip netns exec "$ns_a" "$@"; }
in_b() {
    ip netns exec "$ns_b" unshare -m sh -c 'mount --bind "$1" /etc/hosts &&
        mount --bind "$2" /etc/nsswitch.conf && shift 2 && exec "$@"' \
        sh "$work/hosts" "$work/nsswitch.conf" "$@"
}

# host_up NS LINK N: lo and LINK up, LINK with 192.0.2.N and 2001:db8::N
host_up() {
    ip -n "$1" link set lo up && ip -n "$1" link set "$2" up &&
        ip -n "$1" addr add "192.0.2.$3/24" dev "$2" &&
        ip -n "$1" -6 addr add "2001:db8::$3/64" dev "$2" nodad
}

hosts_up() {
    at_exit hosts_down
    echo 'hosts: files' >"$work/nsswitch.conf"
    printf '%s\n' '127.0.0.1 localhost' '::1 localhost' \
        '2001:db8:1::7 silent-first all-silent' '192.0.2.1 silent-first' \
        '198.51.100.7 all-silent' >"$work/hosts"
    chmod 644 "$work/hosts" "$work/nsswitch.conf"
    ip netns add "$ns_a" && ip netns add "$ns_b" ||
        { echo "cannot make network namespaces here: run as root, or under tests/isolated.sh" >&2; return 1; }
    ip link add "pair$$a" netns "$ns_a" type veth peer "pair$$b" netns "$ns_b" &&
        host_up "$ns_a" "pair$$a" 1 && host_up "$ns_b" "pair$$b" 2 &&
        in_a sh -c 'echo 1 >/proc/sys/net/ipv4/ip_forward &&
                    echo 1 >/proc/sys/net/ipv6/conf/all/forwarding' &&
        ip -n "$ns_a" route add blackhole 198.51.100.0/24 &&
        ip -n "$ns_a" -6 route add blackhole 2001:db8:1::/64 &&
        ip -n "$ns_b" route add 198.51.100.0/24 via 192.0.2.1 &&
        ip -n "$ns_b" -6 route add 2001:db8:1::/64 via 2001:db8::1
}

hosts_down() { ip netns del "$ns_a"; ip netns del "$ns_b"; } 2>/dev/null   # the veth pair goes with them
