{
  "targets": [
    {
      "target_name": "utcp",
      "sources": [
        "native/addon.cc",
        "native/bpf.cc",
        "native/checksum.cc",
        "native/packet.cc",
        "native/sys.cc",
        "native/xdp.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra"],
      "cflags_cc!": ["-fno-exceptions"]
    }
  ]
}
