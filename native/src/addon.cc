// multiloop's native layer: fd readiness through libuv's uv_poll_t on the
// calling thread's own loop (main thread or worker), and the raw socket and
// fd system calls Node does not expose. Only Node-API is used (never V8 or
// nan), so one binary loads in every Node version with Node-API 8.
#include <unistd.h>

#include "napi_util.h"

namespace multiloop {
namespace {

void FreeAddonData(napi_env env, void* raw, void*) {
  AddonData* data = static_cast<AddonData*>(raw);
  if (data->poll_function) napi_delete_reference(env, data->poll_function);
  if (data->poll_receiver) napi_delete_reference(env, data->poll_receiver);
  if (data->poll_context) napi_async_destroy(env, data->poll_context);
  if (data->poll_batch_ref) napi_delete_reference(env, data->poll_batch_ref);
  delete data;
}

// Runs when the environment is torn down; poll handles on these fds were
// deregistered from epoll by their own (earlier registered, so earlier run)
// cleanup hooks' uv_close.
void CloseOwnedFds(void* raw) {
  AddonData* data = static_cast<AddonData*>(raw);
  for (int fd : data->owned_fds) close(fd);
  data->owned_fds.clear();
}

}  // namespace

AddonData* GetAddonData(napi_env env) {
  void* data = nullptr;
  napi_get_instance_data(env, &data);
  return static_cast<AddonData*>(data);
}

}  // namespace multiloop

NAPI_MODULE_INIT() {
  multiloop::AddonData* data = new multiloop::AddonData();
  napi_set_instance_data(env, data, multiloop::FreeAddonData, nullptr);
  napi_add_env_cleanup_hook(env, multiloop::CloseOwnedFds, data);
  multiloop::InitPollWatch(env, exports);
  multiloop::InitDoorbell(env, exports);
  multiloop::InitSyscalls(env, exports);
  return exports;
}
