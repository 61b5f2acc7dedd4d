#!/bin/sh
# On a GPU machine (the device tool): build the CUDA exporter and run the foreign-exporter checks
# with the carried node binary, dist/ and the native addon. Not part of CI: no GPU there.
set -eu
cd "$(dirname "$0")/../.."
node=${NODE:-node}
exporter=/tmp/cuda-export
if command -v cc >/dev/null; then cc -O2 -o "$exporter" test/gpu/cuda-export.c -ldl; else exporter=.cache/gpu/cuda-export; fi
"$exporter" "$node" test/gpu/foreign-exporter.mjs
