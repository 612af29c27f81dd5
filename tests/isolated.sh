#!/bin/sh
# tests/isolated.sh CMD...: runs CMD in a network namespace of its own, with
# loopback up, where root can make one, so that no other program's
# connections (ports, the TIME_WAIT table) change what a test sees.
if [ "$(id -u)" = 0 ] && command -v ip >/dev/null && unshare -n true 2>/dev/null; then
    exec unshare -n sh -c 'ip link set lo up && exec "$@"' sh "$@"
fi
exec "$@"
