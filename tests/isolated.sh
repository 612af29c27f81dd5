#!/bin/sh
# tests/isolated.sh CMD...: runs CMD in network and mount namespaces of its
# own, loopback up, so that no other program's connections (ports, the
# TIME_WAIT table) change what a test sees, and whatever a test mounts there
# stays there: /run is its own, where ip netns keeps the names of the
# namespaces a test makes (tests/hosts.sh).  No sudo needed where the kernel lets a user
# make user namespaces (Debian's default): CMD then runs as root of a user
# namespace, with no more rights on this machine than the user had; with
# newuidmap (package uidmap) and the user's ids in /etc/subuid and
# /etc/subgid, root there can also become other users, as tcpdump does.
# Where loopback has no IPv6 here (as in many containers), it has none there.
# CMD finds ISOLATED=yes, or, where the namespaces cannot be made, runs here
# with ISOLATED saying why and what would allow them.
inside='i=0
    until [ "$(id -u) $(id -g)" = "0 0" ]; do   # until newuidmap has made this user root here
        i=$((i + 1)) && [ $i -lt 500 ] || { echo "isolated.sh: newuidmap did not map $(id -un)" >&2; exit 125; }
        sleep 0.01
    done
    mount -t tmpfs isolated-run /run && ip link set lo up &&
        { [ "$V6OFF" != 1 ] || echo 1 >/proc/sys/net/ipv6/conf/lo/disable_ipv6; } &&
        exec "$@"'
export V6OFF ISOLATED=yes PATH="$PATH:/usr/sbin:/sbin"   # ip, for a user too
V6OFF=$(cat /proc/sys/net/ipv6/conf/lo/disable_ipv6 2>/dev/null || echo 0)
# ids USER-ID FILE: "FIRST COUNT", the user's subordinate ids in FILE
ids() { awk -F: -v u="$(id -un)" -v i="$1" '$1 == u || $1 == i { print $2, $3; exit }' "$2" 2>/dev/null; }

user=-r && [ "$(id -u)" != 0 ] || user=
if ! command -v ip >/dev/null || ! command -v unshare >/dev/null; then
    why="ip and unshare are missing: apt-get install iproute2 util-linux"
elif [ -n "$user" ] && command -v newuidmap >/dev/null && command -v newgidmap >/dev/null &&
     uids=$(ids "$(id -u)" /etc/subuid) && gids=$(ids "$(id -g)" /etc/subgid) &&
     [ -n "$uids" ] && [ -n "$gids" ] && unshare -U -n -m true 2>/dev/null; then
    # unshare keeps this shell's process id: map it from outside once it has
    # its new user namespace (the map of the old one cannot be written).
    (   # shellcheck disable=SC2086 # FIRST COUNT: two words
        i=0 && until newuidmap $$ 0 "$(id -u)" 1 1 $uids 2>/dev/null; do
            i=$((i + 1)) && [ $i -lt 500 ] || exit 1 && sleep 0.01
        done && newgidmap $$ 0 "$(id -g)" 1 1 $gids
    ) &
    exec unshare -U -n -m sh -c "$inside" sh "$@"
elif why=$(unshare $user -n -m true 2>&1); then
    exec unshare $user -n -m sh -c "$inside" sh "$@"
elif [ -n "$user" ] && [ "$(cat /proc/sys/kernel/unprivileged_userns_clone 2>/dev/null)" = 0 ]; then
    why="user namespaces are off for users: sudo sysctl kernel.unprivileged_userns_clone=1"
elif [ -n "$user" ] && [ "$(cat /proc/sys/user/max_user_namespaces 2>/dev/null)" = 0 ]; then
    why="user namespaces are off: sudo sysctl user.max_user_namespaces=10000"
elif [ -n "$user" ] && [ "$(cat /proc/sys/kernel/apparmor_restrict_unprivileged_userns 2>/dev/null)" = 1 ]; then
    why="AppArmor keeps users from making namespaces: sudo sysctl kernel.apparmor_restrict_unprivileged_userns=0"
else
    why="cannot make a network namespace here (unshare: ${why##*: }): run as root, or in a container started with --cap-add=SYS_ADMIN"
fi
ISOLATED="no: $why" exec "$@"
