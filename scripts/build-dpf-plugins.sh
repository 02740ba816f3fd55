#!/usr/bin/env bash
# Builds VST3 effects and instruments from the source of Debian's dpf-plugins
# into a project-local plug-in folder (rackhost searches it too). Debian ships no
# VST3 instrument as a binary; the DPF framework inside this source builds VST3
# without any other SDK. Idempotent: plug-ins already built are skipped.
set -euo pipefail
dest=${1:?usage: build-dpf-plugins.sh DEST_DIR}
plugins=(Kars Nekobi MVerb 3BandEQ)

missing=()
for p in "${plugins[@]}"; do [ -d "$dest/$p.vst3" ] || missing+=("$p"); done
[ ${#missing[@]} -eq 0 ] && exit 0

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/rackhost-src.sources; then
  # A deb-src entry for the same mirror and suite as the existing deb entries.
  cat > /etc/apt/sources.list.d/rackhost-src.sources <<SRC
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  apt-get -o DPkg::Lock::Timeout=600 update -qq
fi
# Only the .orig tarball is needed; the Debian patch tarball may 404, so check
# for the file rather than trusting the exit code.
apt-get source --download-only dpf-plugins >/dev/null 2>&1 || true
orig=$(ls dpf-plugins_*.orig.tar.* 2>/dev/null | head -n1)
[ -n "$orig" ] || { echo "error: could not download the dpf-plugins source (apt-get source dpf-plugins)" >&2; exit 1; }
tar xf "$orig"
cd dpf-plugins-*/
mkdir -p "$dest"
for p in "${missing[@]}"; do
  echo "building $p.vst3"
  make -s -C "plugins/$p" vst3 HAVE_OPENGL=false HAVE_CAIRO=false HAVE_DGL=false >/dev/null
  cp -r "bin/$p.vst3" "$dest/"
done
