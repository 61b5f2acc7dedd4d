#!/bin/busybox sh
# /init of the dmabuf test VM (built by scripts/vm/initramfs.mjs, booted by scripts/vm/run.mjs).
# Loads the modules the real dma-buf devices need, mounts the guest's root read-only (the host's
# own / on x86, an arm64 userland on arm64), the job and the repo writable (three 9p shares),
# chroots into the root and runs the job that the host wrote (job.sh). The host reads the
# job's exit status from the marker line; a failure here prints a reason and powers off without
# a marker, which the host reports with the last console lines.

# Without /dev/console in the archive the kernel starts us with no stdio: get it from devtmpfs.
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t debugfs debugfs /sys/kernel/debug
dmesg -n 1 # keep kernel messages off the console that carries the command's output

fail() {
  echo "[vm-init] $*"
  poweroff -f
}

# Decompressed modules in dependency order (read from modules.dep at build time), each line a
# module and its parameters (initramfs.mjs MODULE_PARAMS).
while read -r m params; do
  # shellcheck disable=SC2086 # the parameters are separate words
  insmod "/lib/modules/$m.ko" $params || fail "insmod $m $params failed"
done </etc/modules

# cache=loose: nothing writes the root share during a run, and it saves most 9p round trips (the
# arm64 node binary reads in under a second with it, 15 s without; measured).
P9='trans=virtio,version=9p2000.L,msize=512000'
mount -t 9p -o "$P9,ro,cache=loose" host /mnt || fail "cannot mount the root share over 9p"
mkdir -p /job
mount -t 9p -o "$P9,ro" job /job || fail "cannot mount the job share"
[ -r /job/job.sh ] && [ -r /job/repo ] || fail "no job.sh or repo in the job share"
read -r repo </job/repo
cp /job/job.sh /job.sh
mount -t proc proc /mnt/proc
mount -t sysfs sysfs /mnt/sys
mount -t debugfs debugfs /mnt/sys/kernel/debug
mount -t devtmpfs devtmpfs /mnt/dev # /dev/dma_heap/system, /dev/udmabuf, /dev/dri/*
mkdir -p /mnt/dev/shm /mnt/dev/pts
mount -t tmpfs -o mode=1777 tmpfs /mnt/dev/shm
mount -t devpts devpts /mnt/dev/pts
mount -t tmpfs -o mode=1777 tmpfs /mnt/tmp
mount -t tmpfs -o mode=755 tmpfs /mnt/run
# The repo is a second, writable share: tests write caches and output (PNGs, bench JSON) there.
# Mounted after the fresh /tmp and /run, since a clone may live there (CI clones into /tmp): its
# mount point is then made on the tmpfs; elsewhere it already exists on the host's share.
mkdir -p "/mnt$repo" || fail "cannot make the mount point $repo"
mount -t 9p -o "$P9" repo "/mnt$repo" || fail "cannot mount the repo share on $repo"
cp /job.sh /mnt/tmp/.dmabuf-vm-job.sh
echo "@@DMABUF_VM_START@@"
env -i chroot /mnt /bin/sh /tmp/.dmabuf-vm-job.sh
rc=$?
sync
echo "@@DMABUF_VM_EXIT=$rc@@"
poweroff -f
