#!/bin/sh
# Runs prebuildify for one architecture inside the old-glibc build root, in a private mount
# namespace (`unshare --mount`): every bind mount below vanishes with this process, so an
# interrupted build leaves nothing mounted. Called by build.mjs:
#   unshare --mount --propagation private sh in-root.sh <root> <stage> <node_modules> <node> <arch>
# The stage holds native/'s sources with its binding.gyp, and Node's headers; prebuildify writes
# <stage>/prebuilds/linux-<arch>/dmabuf.napi.glibc.node.
set -eu
root=$1 stage=$2 modules=$3 node=$4 arch=$5

mkdir -p "$root/build" "$stage/node_modules" "$root/usr/local/bin"
[ -e "$root/usr/local/bin/node" ] || : >"$root/usr/local/bin/node"
mount --bind "$stage" "$root/build"
mount --bind "$modules" "$root/build/node_modules"
mount --bind "$node" "$root/usr/local/bin/node"
mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"

case $arch in
x64) cross= ;;
arm64) cross=aarch64-linux-gnu- ;;
*) echo "in-root.sh: no toolchain for $arch" >&2; exit 2 ;;
esac

# npm_config_nodedir: node-gyp builds against the headers in the stage (Node-API is ABI-stable, so
# the host Node's headers serve every target) and downloads nothing.
exec chroot "$root" /usr/bin/env -i \
  PATH=/usr/local/bin:/usr/bin:/bin HOME=/tmp LANG=C.UTF-8 \
  npm_config_nodedir=/build/node-headers \
  CC="${cross}gcc" CXX="${cross}g++" LINK="${cross}g++" AR="${cross}ar" \
  PREBUILD_STRIP_BIN="${cross}strip" \
  /bin/sh -c "cd /build && node node_modules/prebuildify/bin.js --napi --strip --tag-libc --name dmabuf --arch $arch"
