#!/bin/sh
# Prepares what test/gpu/run.sh needs on a GPU machine that has no Node.js: a stripped, gzipped
# copy of this machine's node (same glibc family) and a prebuilt exporter, in .cache/gpu/ (ignored),
# to be carried there with dist/ and native/build/Release/dmabuf.node.
set -eu
cd "$(dirname "$0")/../.."
mkdir -p .cache/gpu
strip -o .cache/gpu/node "$(command -v node)"
gzip -9f .cache/gpu/node
cc -O2 -o .cache/gpu/cuda-export test/gpu/cuda-export.c -ldl
npm run build
