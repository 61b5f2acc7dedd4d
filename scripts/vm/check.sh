# Run inside the VM by `node scripts/vm/run.mjs --check`: lists the real dma-buf devices and fails
# when one that the profile declares (DMABUF_VM_PROVIDES, from profiles.mjs) is missing, or when
# one it declares absent is there (the declaration would then hide tests that could run).
echo "profile:  $DMABUF_VM_PROFILE (declares: $DMABUF_VM_PROVIDES)"
echo "kernel:   $(uname -r) $(uname -m), page size $(getconf PAGESIZE 2>/dev/null || echo ?)"
echo "modules:  $(cut -d" " -f1 /proc/modules | tr "\n" " ")"
declares() { case ",$DMABUF_VM_PROVIDES," in *",$1,"*) return 0 ;; esac; return 1; }
bad=0
expect() { # feature present(0|1) what
  if declares "$1" && [ "$2" = 0 ]; then echo "MISSING:  $3 (declared by the profile)"; bad=1; fi
  if ! declares "$1" && [ "$2" = 1 ]; then echo "PRESENT:  $3, which the profile declares absent"; bad=1; fi
}
heap=0
for h in /dev/dma_heap/*; do
  [ -c "$h" ] && echo "dma-heap: $h" && heap=1
done
expect heaps $heap "/dev/dma_heap/* (CONFIG_DMABUF_HEAPS_SYSTEM)"
udmabuf=0
[ -c /dev/udmabuf ] && echo "udmabuf:  /dev/udmabuf" && udmabuf=1
expect udmabuf $udmabuf "/dev/udmabuf (CONFIG_UDMABUF)"
vgem=0
virtio_gpu=0
for d in /dev/dri/*; do
  [ -c "$d" ] || continue
  # vgem's device names no DRM driver (6.12: a platform device with no bound driver; from 6.17 a
  # faux device bound to faux_driver); the DRM driver's name is the first word of debugfs
  # dri/<minor>/name (minor from /sys/class/drm/<node>/dev, "226:<minor>"), on 6.12 and 7.3 alike.
  minor=$(cut -d: -f2 "/sys/class/drm/${d##*/}/dev")
  drv=$(cut -d" " -f1 "/sys/kernel/debug/dri/$minor/name" 2>/dev/null)
  echo "dri:      $d ($drv)"
  [ "$drv" = vgem ] && vgem=1
  [ "$drv" = virtio_gpu ] && virtio_gpu=1
done
expect vgem $vgem "/dev/dri/* of the vgem driver"
vivid=0
for v in /dev/video*; do
  [ -c "$v" ] || continue
  # videodev names each node in sysfs; vivid's are "vivid-<instance>-<node type>"
  # (vivid-000-vid-cap is the first capture node).
  name=$(cat "/sys/class/video4linux/${v##*/}/name" 2>/dev/null)
  case "$name" in vivid-*-vid-cap) echo "video:    $v ($name)" && vivid=1 ;; esac
done
expect virtio-gpu $virtio_gpu "/dev/dri/card* of the virtio_gpu driver (QEMU -device virtio-gpu-pci)"
expect vivid $vivid "/dev/video* of the vivid driver (a V4L2 capture node)"
exit $bad
