// Doorbell: a uv_async_t on the calling thread's libuv loop that any thread
// of the process can ring, to wake that loop without a MessagePort.
//
// Why: an idle loop thread sleeps in epoll. Atomics.notify wakes a
// waitAsync through V8's waiter list and a platform task (a mutex, an
// allocation, then uv_async_send); postMessage adds serialization and the
// port's queue. Ringing a uv_async_t is uv_async_send alone: one atomic
// exchange and, when the loop may sleep, one eventfd write.
//
// Bells are named by process-wide ids (plain numbers fit in shared memory),
// and a ring looks the bell up under a mutex, so ringing a bell whose
// thread has closed it, or ended, is a harmless no-op: the id is simply
// gone from the table. The handle is unreferenced: it never keeps its
// thread alive (the loop holds its own ref'd handle while it runs).
#include <stdlib.h>
#include <uv.h>

#include <atomic>
#include <mutex>
#include <unordered_map>

#include "napi_util.h"

namespace multiloop {
namespace {

struct Doorbell {
  napi_env env;
  uv_async_t* handle;
  int32_t id;
  napi_ref function;
  napi_ref receiver;
  napi_async_context context;
  napi_async_cleanup_hook_handle cleanup_hook;
};

std::mutex bells_mutex;
std::unordered_map<int32_t, Doorbell*> bells;
std::atomic<int32_t> last_id{0};

void OnHandleClosed(uv_handle_t* handle) {
  Doorbell* bell = static_cast<Doorbell*>(handle->data);
  napi_remove_async_cleanup_hook(bell->cleanup_hook);
  napi_delete_reference(bell->env, bell->function);
  napi_delete_reference(bell->env, bell->receiver);
  napi_async_destroy(bell->env, bell->context);
  free(handle);
  delete bell;
}

// Forgets bell `id` of environment `env` (no ring reaches it after this
// returns) and starts closing its handle; false if `env` has no such bell
// (uv_close must run on the handle's own thread).
bool Close(napi_env env, int32_t id) {
  Doorbell* bell;
  {
    std::lock_guard<std::mutex> lock(bells_mutex);
    auto found = bells.find(id);
    if (found == bells.end() || found->second->env != env) return false;
    bell = found->second;
    bells.erase(found);
  }
  uv_close(reinterpret_cast<uv_handle_t*>(bell->handle), OnHandleClosed);
  return true;
}

void OnEnvironmentCleanup(napi_async_cleanup_hook_handle, void* data) {
  Doorbell* bell = static_cast<Doorbell*>(data);
  Close(bell->env, bell->id);
}

void OnRing(uv_async_t* handle) {
  Doorbell* bell = static_cast<Doorbell*>(handle->data);
  napi_env env = bell->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value function, receiver;
  napi_get_reference_value(env, bell->function, &function);
  napi_get_reference_value(env, bell->receiver, &receiver);
  CallFromLoop(env, bell->context, receiver, function, 0, nullptr);
  napi_close_handle_scope(env, scope);
}

// doorbellOpen(onRing) -> id: a bell on this thread's loop; each ring (rings
// that arrive together coalesce) calls onRing() on this thread.
napi_value DoorbellOpen(napi_env env, napi_callback_info info) {
  Args args;
  if (!GetArgs(env, info, &args, 1)) return nullptr;
  napi_valuetype type;
  napi_typeof(env, args.values[0], &type);
  if (type != napi_function) return ThrowType(env, "onRing must be a function");

  uv_async_t* handle = NewUnrefHandle<uv_async_t>(env, UV_ASYNC, "uv_async_init",
                                                  [](uv_loop_t* loop, uv_async_t* h) { return uv_async_init(loop, h, OnRing); });
  if (handle == nullptr) return nullptr;

  Doorbell* bell = new Doorbell{env, handle, last_id.fetch_add(1) + 1, nullptr, nullptr, nullptr, nullptr};
  handle->data = bell;
  napi_value receiver, name;
  napi_create_object(env, &receiver);
  napi_create_reference(env, receiver, 1, &bell->receiver);
  napi_create_reference(env, args.values[0], 1, &bell->function);
  napi_create_string_utf8(env, "multiloop.doorbell", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, receiver, name, &bell->context);
  napi_add_async_cleanup_hook(env, OnEnvironmentCleanup, bell, &bell->cleanup_hook);
  {
    std::lock_guard<std::mutex> lock(bells_mutex);
    bells.emplace(bell->id, bell);
  }
  napi_value id;
  napi_create_int32(env, bell->id, &id);
  return id;
}

// doorbellRing(id) -> bool: wakes the bell's thread; false if no bell `id`
// is open (closed, or its thread ended). Callable from any thread.
napi_value DoorbellRing(napi_env env, napi_callback_info info) {
  Args args;
  int32_t id;
  if (!GetArgs(env, info, &args, 1) || !ArgInt32(env, args.values[0], "id", &id)) return nullptr;
  bool rang = false;
  {
    // uv_async_send is thread-safe; the lock only keeps the handle from
    // being closed under it.
    std::lock_guard<std::mutex> lock(bells_mutex);
    auto found = bells.find(id);
    if (found != bells.end()) rang = uv_async_send(found->second->handle) == 0;
  }
  napi_value result;
  napi_get_boolean(env, rang, &result);
  return result;
}

// doorbellClose(id) -> bool: closes a bell of this thread; no onRing call
// follows. False if this thread has no open bell `id`.
napi_value DoorbellClose(napi_env env, napi_callback_info info) {
  Args args;
  int32_t id;
  if (!GetArgs(env, info, &args, 1) || !ArgInt32(env, args.values[0], "id", &id)) return nullptr;
  napi_value result;
  napi_get_boolean(env, Close(env, id), &result);
  return result;
}

}  // namespace

void InitDoorbell(napi_env env, napi_value exports) {
  SetMethod(env, exports, "doorbellOpen", DoorbellOpen);
  SetMethod(env, exports, "doorbellRing", DoorbellRing);
  SetMethod(env, exports, "doorbellClose", DoorbellClose);
}

}  // namespace multiloop
