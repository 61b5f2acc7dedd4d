# Run inside the VM by `node scripts/vm/run.mjs --check`: lists the real dma-buf devices and
# fails when one of the three the kernel tests need is missing.
echo "kernel:   $(uname -r)"
echo "modules:  $(cut -d" " -f1 /proc/modules | tr "\n" " ")"
missing=0
found=0
for h in /dev/dma_heap/*; do
  [ -c "$h" ] && echo "dma-heap: $h" && found=1
done
[ $found = 1 ] || { echo "MISSING:  /dev/dma_heap/* (CONFIG_DMABUF_HEAPS_SYSTEM)"; missing=1; }
if [ -c /dev/udmabuf ]; then echo "udmabuf:  /dev/udmabuf"; else echo "MISSING:  /dev/udmabuf (CONFIG_UDMABUF)"; missing=1; fi
vgem=0
for d in /dev/dri/*; do
  [ -c "$d" ] || continue
  # vgem is a bare platform device with no bound driver; the DRM driver's name is the first word
  # of debugfs dri/<minor>/name (minor from /sys/class/drm/<node>/dev, "226:<minor>").
  minor=$(cut -d: -f2 "/sys/class/drm/${d##*/}/dev")
  drv=$(cut -d" " -f1 "/sys/kernel/debug/dri/$minor/name" 2>/dev/null)
  echo "dri:      $d ($drv)"
  [ "$drv" = vgem ] && vgem=1
done
[ $vgem = 1 ] || { echo "MISSING:  /dev/dri/* of the vgem driver"; missing=1; }
exit $missing
