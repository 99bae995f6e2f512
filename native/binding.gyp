{
  "targets": [
    {
      "target_name": "multiloop_native",
      "sources": ["src/addon.cc", "src/napi_util.cc", "src/poll_watch.cc", "src/doorbell.cc", "src/syscalls.cc"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-fno-exceptions", "-Wall", "-Wextra"]
    }
  ]
}
