#!/usr/bin/env bash
# Builds zam-plugins VST3s whose sidechain bus hears a key, into DEST_DIR
# (build/vst3-keyed: apart from build/vst3, so every other plug-in lookup still
# finds Debian's builds). Debian's zam-plugins 4.1 VST3s are built with Debian's
# dpf-source 1.6, whose VST3 wrapper reads the first input bus only and gives
# the sidechain port a silent buffer (bench/sidechain_backends.py; DPF fixed it
# upstream in commit 36f018d, "VST3 channel buffers are per bus"). This rebuilds
# Debian's zam-plugins source against Debian's dpf-source with that loop walking
# every input bus. DSP only (no editor). Idempotent.
set -euo pipefail
dest=${1:?usage: build-keyed-vst3.sh DEST_DIR}
plugins=(ZamCompX2 ZamGateX2)

missing=()
for p in "${plugins[@]}"; do [ -d "$dest/$p.vst3" ] || missing+=("$p"); done
[ ${#missing[@]} -eq 0 ] && exit 0

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/rackhost-src.sources; then
  echo "error: no deb-src entry; run scripts/build-dpf-plugins.sh first (make plugins)" >&2
  exit 1
fi
# Only the .orig tarball is needed; the Debian patch tarball may 404.
apt-get source --download-only zam-plugins >/dev/null 2>&1 || true
orig=$(ls zam-plugins_*.orig.tar.* 2>/dev/null | head -n1)
[ -n "$orig" ] || { echo "error: could not download the zam-plugins source (apt-get source zam-plugins)" >&2; exit 1; }
apt-get download dpf-source >/dev/null 2>&1 || true
deb=$(ls dpf-source_*.deb 2>/dev/null | head -n1)
[ -n "$deb" ] || { echo "error: could not download dpf-source (apt-get download dpf-source)" >&2; exit 1; }
dpkg-deb -x "$deb" dpf-source
tar xf "$orig"
cd zam-plugins-*/
rm -rf dpf && cp -r "$work/dpf-source/usr/share/dpf" dpf
python3 - dpf/distrho/src/DistrhoPluginVST3.cpp <<'PY'
import sys
path = sys.argv[1]
text = open(path).read()
first_bus_only = """                for (int32_t j = 0; j < data->inputs->num_channels; ++j)
                {
                    while (!fEnabledInputs[i] && i < DISTRHO_PLUGIN_NUM_INPUTS)
                        inputs[i++] = fDummyAudioBuffer;

                    DISTRHO_SAFE_ASSERT_INT_BREAK(i < DISTRHO_PLUGIN_NUM_INPUTS, i);
                    inputs[i++] = data->inputs->channel_buffers_32[j];
                }"""
every_bus = """                for (int32_t b = 0; b < data->num_input_buses; ++b)
                for (int32_t j = 0; j < data->inputs[b].num_channels; ++j)
                {
                    while (i < DISTRHO_PLUGIN_NUM_INPUTS && !fEnabledInputs[i])
                        inputs[i++] = fDummyAudioBuffer;

                    DISTRHO_SAFE_ASSERT_INT_BREAK(i < DISTRHO_PLUGIN_NUM_INPUTS, i);
                    inputs[i++] = data->inputs[b].channel_buffers_32[j];
                }"""
if every_bus in text:
    sys.exit(0)
if text.count(first_bus_only) != 1:
    sys.exit(f"error: {path} does not hold DPF 1.6's first-bus-only input loop; nothing to patch")
open(path, "w").write(text.replace(first_bus_only, every_bus))
PY
mkdir -p "$dest"
for p in "${missing[@]}"; do
  echo "building $p.vst3 (sidechain bus fed)"
  make -s -C "plugins/$p" vst3 HAVE_OPENGL=false HAVE_CAIRO=false HAVE_DGL=false >/dev/null
  cp -r "bin/$p.vst3" "$dest/"
done
