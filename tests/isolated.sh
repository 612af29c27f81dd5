#!/bin/sh
# tests/isolated.sh CMD...: runs CMD in a network namespace of its own, with
# loopback up, where root can make one, so that no other program's
# connections (ports, the TIME_WAIT table) change what a test sees.  Where
# loopback has no IPv6 here (as in many containers), it has none there.
if [ "$(id -u)" = 0 ] && command -v ip >/dev/null && unshare -n true 2>/dev/null; then
    V6OFF=$(cat /proc/sys/net/ipv6/conf/lo/disable_ipv6 2>/dev/null || echo 0) \
    exec unshare -n sh -c 'ip link set lo up &&
        { [ "$V6OFF" != 1 ] || echo 1 >/proc/sys/net/ipv6/conf/lo/disable_ipv6; } &&
        exec "$@"' sh "$@"
fi
exec "$@"
