#!/usr/bin/env bash
# The Debian package, installed for real (make test-package; needs root):
#
#   tests/package/test-deb.sh DIST_DIR
#
# debootstraps a minimal Debian 12 into a folder (from the mirror this
# machine's apt uses), installs trail_*.deb there with apt (its dependencies
# from Debian), starts traild the way trail.service does (as the user trail,
# /run/trail made as systemd's RuntimeDirectory= makes it), deposits and
# senses with trailctl as a member of the group trail (which finds the system
# daemon's socket by itself) and is refused as a user outside it, sees traild
# serve without the model and say how to get it, installs the model package
# and sees recall by meaning, then purges the package and finds the notes kept.
set -euo pipefail

dist=$(cd "$1" && pwd)
deb=$(ls "$dist"/trail_*_"$(dpkg --print-architecture)".deb | tail -1)
model=$(ls "$dist"/trail-model-minilm_*_all.deb | tail -1)
[ "$(id -u)" = 0 ] || { echo "test-deb: needs root (debootstrap, chroot)" >&2; exit 2; }
command -v debootstrap >/dev/null || { echo "test-deb: debootstrap is missing (make test-package installs it)" >&2; exit 2; }

# The Debian mirror this machine's apt is set up with.
mirror=$(grep -hs -m1 '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v security | head -1 || true)
[ -n "$mirror" ] || mirror=$(grep -hs '^deb ' /etc/apt/sources.list | awk '{print $2}' | grep -v security | head -1 || true)
[ -n "$mirror" ] || { echo "test-deb: no Debian mirror in this machine's apt sources" >&2; exit 2; }

root=$(mktemp -d /tmp/trail-deb-XXXXXX)
chmod 0755 "$root"   # the root of a system: other users (trail, _apt) must get in
traild_pid=""
cleanup() {
    [ -z "$traild_pid" ] || kill "$traild_pid" 2>/dev/null || true
    for m in dev/pts dev proc; do umount -l "$root/$m" 2>/dev/null || true; done
    rm -rf --one-file-system "$root"
}
trap cleanup EXIT
fail() { echo "test-deb: FAILED: $*" >&2; exit 1; }
step() { echo "test-deb: $*"; }
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }
# as USER [--member] COMMAND...: runs COMMAND in the root as USER (numeric ids: chroot
# resolves names outside the root), with the group trail among its groups when --member.
as() {
    local who=$1 groups=()
    shift
    if [ "${1:-}" = --member ]; then groups=(--groups="$(in_root getent group trail | cut -d: -f3)"); shift; fi
    chroot --userspec="$(in_root id -u "$who"):$(in_root id -g "$who")" "${groups[@]}" "$root" \
        env -i PATH=/usr/bin:/bin HOME=/tmp LANG=C.UTF-8 "$@"
}

started=$(date +%s)
step "debootstrap bookworm (minbase) from $mirror"
debootstrap --variant=minbase bookworm "$root" "$mirror" > "$root.debootstrap.log" 2>&1 ||
    { tail -20 "$root.debootstrap.log" >&2; fail "debootstrap (it downloads Debian 12 from $mirror: is the network up?)"; }
rm -f "$root.debootstrap.log"
mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"
mount --bind /dev/pts "$root/dev/pts"
cp "$deb" "$model" "$root/tmp/"

step "apt install $(basename "$deb") (its dependencies from Debian)"
in_root apt-get update -qq || fail "apt-get update in the new root (it reads $mirror: is the network up?)"
DEBIAN_FRONTEND=noninteractive in_root apt-get install -y -qq --no-install-recommends "/tmp/$(basename "$deb")" \
    > "$root/tmp/install.log" 2>&1 || { cat "$root/tmp/install.log" >&2; fail "apt install (the package's dependencies come from $mirror)"; }
for f in /usr/bin/traild /usr/bin/trailctl /usr/bin/trail-mcp /usr/bin/trail-compactor /lib/systemd/system/trail.service \
         /etc/trail/traild.conf /usr/share/bash-completion/completions/trailctl; do
    [ -e "$root$f" ] || fail "$f is not installed"
done
if in_root dpkg -l | awk '{print $2}' | grep -q -- '-dev\(:.*\)\?$'; then fail "a -dev package was installed"; fi
in_root getent group trail > /dev/null || fail "no group trail"
in_root getent passwd trail > /dev/null || fail "no user trail"
in_root useradd -m -G trail alice
in_root useradd -m mallory

start_traild() {
    # What trail.service does: /run/trail by RuntimeDirectory=trail (0750, trail:trail), then ExecStart as trail.
    install -d -o "$(in_root id -u trail)" -g "$(in_root id -g trail)" -m 0750 "$root/run/trail"
    local exec
    exec=$(sed -n 's/^ExecStart=//p' "$root/lib/systemd/system/trail.service")
    # Both emptied here, before the start: the redirections below truncate them only once
    # the child runs, and the wait for "ready" must not read the last start's line.
    : > "$root/tmp/traild.out"
    : > "$root/tmp/traild.log"
    # Not through `as`: a function in the background is a subshell, and $! must be traild's pid.
    # shellcheck disable=SC2086
    chroot --userspec="$(in_root id -u trail):$(in_root id -g trail)" "$root" \
        env -i PATH=/usr/bin:/bin HOME=/tmp LANG=C.UTF-8 $exec > "$root/tmp/traild.out" 2> "$root/tmp/traild.log" &
    traild_pid=$!
    for _ in $(seq 1 100); do
        grep -q ready "$root/tmp/traild.out" 2>/dev/null && return 0
        kill -0 "$traild_pid" 2>/dev/null || { cat "$root/tmp/traild.log" >&2; fail "traild exited"; }
        sleep 0.2
    done
    cat "$root/tmp/traild.log" >&2
    fail "traild not ready in 20 s"
}
stop_traild() { kill "$traild_pid"; wait "$traild_pid" 2>/dev/null || true; traild_pid=""; }

step "traild as the unit starts it, without the model"
start_traild
grep -q "socket=/run/trail/traild.sock" "$root/tmp/traild.out" || fail "traild does not listen on /run/trail/traild.sock"
grep -q "apt install trail-model-minilm" "$root/tmp/traild.log" || { cat "$root/tmp/traild.log" >&2; fail "traild does not say how to get the model"; }
got=$(stat -c "%a %g" "$root/run/trail/traild.sock")
[ "$got" = "660 $(in_root getent group trail | cut -d: -f3)" ] || fail "the socket is $got, not 660 group trail"

step "a member of the group trail deposits and senses (trailctl finds the system daemon)"
id=$(as alice --member trailctl deposit -t build "the build needs libzstd-dev" --json | sed 's/.*"id":"\([0-9a-f]*\)".*/\1/')
[ ${#id} = 64 ] || fail "deposit gave no id"
as alice --member trailctl sense -t build --json | grep -q "$id" || fail "sense did not find the note"
as alice --member trailctl status | grep -q "system daemon" || fail "trailctl status does not say it used the system daemon"

step "a user outside the group is refused"
set +e
out=$(as mallory trailctl sense 2>&1)
code=$?
set -e
[ "$code" = 3 ] || fail "a stranger got exit $code, not 3: $out"
echo "$out" | grep -qi "permission denied" || fail "the refusal does not say why: $out"

step "with the model package, recall by meaning"
stop_traild
DEBIAN_FRONTEND=noninteractive in_root apt-get install -y -qq "/tmp/$(basename "$model")" > /dev/null
start_traild
grep -q "semantic=all-MiniLM-L6-v2" "$root/tmp/traild.out" ||
    { cat "$root/tmp/traild.out" "$root/tmp/traild.log" >&2; ls -lR "$root/usr/share/trail" >&2; fail "traild did not load the packaged model"; }
for _ in $(seq 1 100); do
    as alice --member trailctl sense --similar "what must I install to compile?" --json | grep -q "$id" && break
    sleep 0.2
done
as alice --member trailctl sense --similar "what must I install to compile?" --json | grep -q "$id" ||
    fail "sense by meaning did not find the note"

step "purge: the package goes, the notes stay"
stop_traild
DEBIAN_FRONTEND=noninteractive in_root apt-get purge -y -qq trail > "$root/tmp/purge.log" 2>&1 || { cat "$root/tmp/purge.log" >&2; fail "purge"; }
[ ! -e "$root/usr/bin/traild" ] || fail "traild is still installed"
[ ! -e "$root/etc/trail/traild.conf" ] || fail "the config survived the purge"
ls "$root/var/lib/trail"/trail.db > /dev/null 2>&1 || fail "the notes did not survive the purge"
grep -q "the notes stay in /var/lib/trail" "$root/tmp/purge.log" || fail "the purge does not say where the notes are"

step "passed in $(( $(date +%s) - started )) s"
