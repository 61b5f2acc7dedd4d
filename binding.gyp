{
  # The addon exists only on Linux (dma-heap, udmabuf, sync_file are Linux uapi). Elsewhere the
  # target is empty so `npm install` succeeds and the emulated backend serves.
  "targets": [
    {
      "target_name": "dmabuf",
      "conditions": [
        ['OS=="linux"', {
          "sources": [
            "native/addon.cc",
            "native/args.cc",
            "native/dma_buf.cc",
            "native/errors.cc",
            "native/fd.cc",
            "native/heap.cc",
            "native/mapping.cc",
            "native/poll_waiter.cc",
            "native/socket.cc",
            "native/sync_file.cc",
            "native/udmabuf.cc",
            "native/vgem.cc"
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
