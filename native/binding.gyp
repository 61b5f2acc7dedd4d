{
  # The addon exists only on Linux (dma-heap, udmabuf, sync_file are Linux uapi). Elsewhere the
  # target is empty so `npm install` succeeds and the emulated backend serves.
  "targets": [
    {
      "target_name": "dmabuf",
      "conditions": [
        ['OS=="linux"', {
          "sources": [
            "addon.cc",
            "args.cc",
            "dma_buf.cc",
            "drm_kms.cc",
            "errors.cc",
            "fd.cc",
            "fd_kind.cc",
            "heap.cc",
            "mapping.cc",
            "poll_waiter.cc",
            "socket.cc",
            "sync_file.cc",
            "udmabuf.cc",
            "v4l2.cc",
            "vgem.cc"
          ],
          "include_dirs": [
            "<!(node -p \"require('node-addon-api').include_dir\")"
          ],
          "defines": [
            "NAPI_VERSION=8",
            "NAPI_CPP_EXCEPTIONS",
            "NODE_ADDON_API_DISABLE_DEPRECATED"
          ],
          "cflags!": ["-fno-exceptions"],
          "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
          "cflags": ["-Wall", "-Wextra"],
          "cflags_cc": ["-std=c++17", "-fexceptions", "-Wall", "-Wextra"]
        }, {
          "type": "none"
        }]
      ]
    }
  ]
}
