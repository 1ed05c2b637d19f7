#!/usr/bin/env bash
# Builds the Debian packages from release binaries (make deb calls it):
#
#   Daemon/debian/build-deb.sh BIN_DIR MODEL_DIR OUT_DIR
#
# - trail_VERSION_ARCH.deb: traild, trailctl, trail-mcp, trail-compactor
#   (built with the Swift runtime linked statically), the systemd unit, the
#   config /etc/trail/traild.conf, shell completion for trailctl. It depends
#   on the Debian packages that hold the shared libraries the binaries load
#   (found with ldd and dpkg -S: runtime packages, never -dev ones) and on
#   adduser; it recommends trail-model-minilm.
# - trail-model-minilm_VERSION_all.deb: the embedding model's files in
#   /usr/share/trail/models/all-MiniLM-L6-v2, so that an install needs no
#   network beyond the package archive.
#
# VERSION is what `traild --version` prints.
set -euo pipefail

bin=$(cd "$1" && pwd)
model=$(cd "$2" && pwd)
mkdir -p "$3"
out=$(cd "$3" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
programs=(traild trailctl trail-mcp trail-compactor)

for p in "${programs[@]}"; do
    [ -x "$bin/$p" ] || { echo "build-deb: $bin/$p is missing; build it with make deb" >&2; exit 2; }
done
[ -f "$model/model.safetensors" ] || { echo "build-deb: no model in $model; run make model" >&2; exit 2; }

version=$("$bin/traild" --version)
arch=$(dpkg --print-architecture)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# --- trail ----------------------------------------------------------------------------------
pkg="$work/trail"
install -d "$pkg/DEBIAN" "$pkg/usr/bin" "$pkg/lib/systemd/system" "$pkg/etc/trail" "$pkg/usr/share/doc/trail" \
    "$pkg/usr/share/bash-completion/completions" "$pkg/usr/share/zsh/vendor-completions" \
    "$pkg/usr/share/fish/vendor_completions.d"
for p in "${programs[@]}"; do
    install -m 0755 "$bin/$p" "$pkg/usr/bin/$p"
    strip --strip-unneeded "$pkg/usr/bin/$p"
done
install -m 0644 "$here/trail.service" "$pkg/lib/systemd/system/trail.service"
install -m 0644 "$here/traild.conf" "$pkg/etc/trail/traild.conf"
install -m 0644 "$root/README.md" "$pkg/usr/share/doc/trail/README.md"
install -m 0644 "$root/Daemon/README.md" "$pkg/usr/share/doc/trail/Daemon.md"
"$bin/trailctl" --generate-completion-script bash > "$pkg/usr/share/bash-completion/completions/trailctl"
"$bin/trailctl" --generate-completion-script zsh > "$pkg/usr/share/zsh/vendor-completions/_trailctl"
"$bin/trailctl" --generate-completion-script fish > "$pkg/usr/share/fish/vendor_completions.d/trailctl.fish"
for s in postinst prerm postrm; do install -m 0755 "$here/$s" "$pkg/DEBIAN/$s"; done
echo /etc/trail/traild.conf > "$pkg/DEBIAN/conffiles"

# The packages that hold the libraries the binaries load themselves (their
# NEEDED entries, found where ldd finds them; the libraries those load are
# their packages' own dependencies). libopenblas0 stands for whichever
# OpenBLAS variant the machine picks.
depends=$(
    for p in "${programs[@]}"; do
        needed=$(objdump -p "$pkg/usr/bin/$p" | awk '$1 == "NEEDED" { print $2 }')
        ldd "$pkg/usr/bin/$p" | awk -v needed="$needed" '
            BEGIN { n = split(needed, names, "\n"); for (i = 1; i <= n; i++) want[names[i]] = 1 }
            $2 == "=>" && ($1 in want) && $3 ~ /^\// { print $3 }'
    done | sort -u |
        while read -r lib; do
            real=$(readlink -f "$lib")
            dpkg -S "$lib" 2>/dev/null || dpkg -S "$real" 2>/dev/null || { echo "build-deb: no package holds $lib" >&2; exit 1; }
        done | cut -d: -f1 | sed 's/^libopenblas0-.*/libopenblas0/' | sort -u
)
if echo "$depends" | grep -q -- '-dev$'; then
    echo "build-deb: a binary loads a library from a -dev package: $depends" >&2
    exit 1
fi
libc=$(dpkg-query -W -f '${Version}' libc6 | sed 's/-.*//')
deps="adduser"
for d in $depends; do
    if [ "$d" = libc6 ]; then deps="$deps, libc6 (>= $libc)"; else deps="$deps, $d"; fi
done

cat > "$pkg/DEBIAN/control" <<CONTROL
Package: trail
Version: $version
Architecture: $arch
Maintainer: trail developers <trail@localhost>
Section: misc
Priority: optional
Depends: $deps
Recommends: trail-model-minilm
Installed-Size: $(du -sk "$pkg" | cut -f1)
Description: shared, decaying memory of small notes for AI agents
 traild keeps a content-addressed memory of small notes that many agent
 instances leave for each other: trails that strengthen when used and fade
 when not. This package runs one daemon for the machine (the systemd unit
 trail.service, socket /run/trail/traild.sock for the group trail, data in
 /var/lib/trail) and installs trailctl, trail-mcp (MCP tools for agent
 hosts) and trail-compactor.
CONTROL
dpkg-deb --root-owner-group -Zxz --build "$pkg" "$out/trail_${version}_${arch}.deb" >/dev/null

# --- trail-model-minilm ---------------------------------------------------------------------
mpkg="$work/model"
dest="$mpkg/usr/share/trail/models/all-MiniLM-L6-v2"
install -d "$mpkg/DEBIAN" "$dest/1_Pooling"
for f in vocab.txt tokenizer.json config.json model.safetensors 1_Pooling/config.json sentence_bert_config.json \
         tokenizer_config.json special_tokens_map.json; do
    install -m 0644 "$model/$f" "$dest/$f"
done
cat > "$mpkg/DEBIAN/control" <<CONTROL
Package: trail-model-minilm
Version: $version
Architecture: all
Maintainer: trail developers <trail@localhost>
Section: misc
Priority: optional
Enhances: trail
Installed-Size: $(du -sk "$mpkg" | cut -f1)
Description: embedding model for trail's recall by meaning (all-MiniLM-L6-v2)
 The sentence-transformers model all-MiniLM-L6-v2 (Apache 2.0), as traild
 reads it from /usr/share/trail/models/all-MiniLM-L6-v2 to find notes by
 meaning. Restart traild after installing it: systemctl restart trail
CONTROL
dpkg-deb --root-owner-group -Zxz --build "$mpkg" "$out/trail-model-minilm_${version}_all.deb" >/dev/null

echo "$out/trail_${version}_${arch}.deb"
echo "$out/trail-model-minilm_${version}_all.deb"
