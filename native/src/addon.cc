// multiloop's native layer: fd readiness through libuv's uv_poll_t on the
// calling thread's own loop (main thread or worker), and the raw socket and
// fd system calls Node does not expose. Only Node-API is used (never V8 or
// nan), so one binary loads in every Node version with Node-API 8.
#include "napi_util.h"

NAPI_MODULE_INIT() {
  multiloop::InitPollWatch(env, exports);
  multiloop::InitSyscalls(env, exports);
  return exports;
}
