{
  "variables": {
    "ffr_asan%": "<!(echo $FFR_ASAN)"
  },
  "targets": [
    {
      "target_name": "ffr_native",
      "sources": [
        "src/addon.cc",
        "src/js_args.cc",
        "src/shm.cc",
        "src/control_server.cc",
        "src/dataplane.cc",
        "src/objects.cc",
        "src/exec.cc",
        "src/completion.cc",
        "src/fault_guard.cc",
        "src/peer_net.cc",
        "src/peer_rx.cc",
        "src/peer_tx.cc",
        "src/throttle.cc",
        "src/sched.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "../proto/gen"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions", "-O3"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++20", "-O3"],
      "cflags": ["-Wall", "-Wextra", "-Werror", "-O2", "-g"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-Wall", "-Wextra", "-Werror", "-O2", "-g"],
      "ldflags": ["-pthread"],
      "conditions": [
        ["'<(ffr_asan)'=='1'", {
          "cflags": ["-fsanitize=address,undefined", "-fno-omit-frame-pointer"],
          "cflags_cc": ["-fsanitize=address,undefined", "-fno-omit-frame-pointer"],
          "ldflags": ["-fsanitize=address,undefined"]
        }]
      ]
    }
  ]
}
