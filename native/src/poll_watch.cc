// PollWatch: one uv_poll_t on the calling thread's libuv loop, watching one
// fd for readability and/or writability without reading from it.
//
// Events of one loop turn reach JS together: OnPollEvent appends (id,
// status, events) to the thread's batch (an Int32Array that JS gave
// pollInit), and a check handle, which libuv runs right after its poll
// phase, hands the batch over in one call. In a steady-echo worker a call
// from C++ into JS (napi_make_callback: handle scope, async context,
// microtask checkpoint) took about as many samples as the JS it ran, and a
// loop turn brought 2.35 events on average (bench/RESULTS.md). A full
// batch is handed over at once.
//
// Lifetime rules, each learned the hard way:
// - A poll handle still open when its environment is torn down (process exit,
//   worker.terminate()) aborts Node, and a synchronous cleanup hook runs too
//   late to close it; so every watch registers an *async* cleanup hook that
//   starts uv_close, and the close callback removes the hook. The batch's
//   check handle is closed the same way.
// - The C struct is shared by libuv (until the close callback) and by the JS
//   External that names it (until it is finalized); it is freed when both are
//   done with it, so a stale External can never reach freed memory.
// - napi_make_callback with an undefined receiver crashes: the dispatcher is
//   called with a real object as `this`.
#include <stdlib.h>
#include <uv.h>

#include <string>

#include "napi_util.h"

namespace multiloop {
namespace {

struct PollWatch {
  napi_env env;
  uv_poll_t* handle;
  int32_t id;
  napi_async_cleanup_hook_handle cleanup_hook;
  bool closing;
  bool handle_closed;
  bool external_finalized;
};

void OnHandleClosed(uv_handle_t* handle) {
  PollWatch* watch = static_cast<PollWatch*>(handle->data);
  napi_remove_async_cleanup_hook(watch->cleanup_hook);
  free(handle);
  watch->handle = nullptr;
  watch->handle_closed = true;
  if (watch->external_finalized) delete watch;
}

void BeginClose(PollWatch* watch) {
  if (watch->closing) return;
  watch->closing = true;
  uv_close(reinterpret_cast<uv_handle_t*>(watch->handle), OnHandleClosed);
}

void OnEnvironmentCleanup(napi_async_cleanup_hook_handle, void* data) {
  BeginClose(static_cast<PollWatch*>(data));
}

void OnExternalFinalized(napi_env, void* data, void*) {
  PollWatch* watch = static_cast<PollWatch*>(data);
  watch->external_finalized = true;
  if (watch->handle_closed) {
    delete watch;
  } else {
    BeginClose(watch);
  }
}

}  // namespace

// The check handle that delivers a thread's batch; freed by its close callback.
struct PollFlush {
  napi_env env;
  uv_check_t* handle;
  napi_async_cleanup_hook_handle cleanup_hook;
};

namespace {

// Hands the batch's events to JS in one call: dispatch(count).
void DeliverBatch(napi_env env, AddonData* data) {
  size_t count = data->poll_pending;
  if (count == 0) return;
  // Before the call: what JS does can only queue events for a later turn.
  data->poll_pending = 0;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value function, receiver, argv[1];
  napi_get_reference_value(env, data->poll_function, &function);
  napi_get_reference_value(env, data->poll_receiver, &receiver);
  napi_create_uint32(env, static_cast<uint32_t>(count), &argv[0]);
  CallFromLoop(env, data->poll_context, receiver, function, 1, argv);
  napi_close_handle_scope(env, scope);
}

void OnFlush(uv_check_t* handle) {
  uv_check_stop(handle);
  napi_env env = static_cast<PollFlush*>(handle->data)->env;
  AddonData* data = GetAddonData(env);
  if (data == nullptr || data->poll_function == nullptr) return;
  DeliverBatch(env, data);
}

void OnFlushClosed(uv_handle_t* handle) {
  PollFlush* flush = static_cast<PollFlush*>(handle->data);
  napi_remove_async_cleanup_hook(flush->cleanup_hook);
  free(handle);
  delete flush;
}

void OnFlushCleanup(napi_async_cleanup_hook_handle, void* raw) {
  PollFlush* flush = static_cast<PollFlush*>(raw);
  AddonData* data = GetAddonData(flush->env);
  if (data != nullptr) data->poll_flush = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(flush->handle), OnFlushClosed);
}

void OnPollEvent(uv_poll_t* handle, int status, int events) {
  PollWatch* watch = static_cast<PollWatch*>(handle->data);
  napi_env env = watch->env;
  AddonData* data = GetAddonData(env);
  if (data == nullptr || data->poll_function == nullptr || data->poll_flush == nullptr) return;
  if (data->poll_pending == data->poll_batch_capacity) DeliverBatch(env, data);
  int32_t* event = data->poll_batch + 3 * data->poll_pending++;
  event[0] = watch->id;
  event[1] = status;
  event[2] = events;
  if (data->poll_pending == 1) uv_check_start(data->poll_flush->handle, OnFlush);
}

bool ArgWatch(napi_env env, napi_value value, PollWatch** out) {
  napi_valuetype type;
  napi_typeof(env, value, &type);
  void* data = nullptr;
  if (type != napi_external || napi_get_value_external(env, value, &data) != napi_ok) {
    ThrowType(env, "watch must be a value returned by pollOpen()");
    return false;
  }
  *out = static_cast<PollWatch*>(data);
  if ((*out)->closing) {
    napi_throw_error(env, "ERR_POLL_CLOSED", "the poll watch is closed");
    return false;
  }
  return true;
}

// pollInit(dispatch, batch): the events of every watch of this thread are
// written to `batch` (an Int32Array: id, status, events per event; status < 0
// is a libuv error, after which the handle is stopped by libuv) and handed
// over as dispatch(count), once per loop turn, or sooner when it is full.
napi_value PollInit(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  napi_valuetype type = napi_undefined;
  if (argc >= 1) napi_typeof(env, argv[0], &type);
  if (type != napi_function) return ThrowType(env, "dispatch must be a function");
  // napi_get_cb_info fills arguments not passed with undefined.
  static const char kBatch[] = "an Int32Array of 3 or more elements";
  size_t length = 0;
  void* memory = nullptr;
  if (!ArgTypedArray(env, argv[1], napi_int32_array, "batch", kBatch, &memory, &length)) return nullptr;
  if (length < 3) return ThrowType(env, (std::string("batch must be ") + kBatch).c_str());

  AddonData* data = GetAddonData(env);
  if (data->poll_flush == nullptr) {
    uv_check_t* handle = NewUnrefHandle<uv_check_t>(env, UV_CHECK, "uv_check_init",
                                                    [](uv_loop_t* loop, uv_check_t* h) { return uv_check_init(loop, h); });
    if (handle == nullptr) return nullptr;
    PollFlush* flush = new PollFlush{env, handle, nullptr};
    handle->data = flush;
    napi_add_async_cleanup_hook(env, OnFlushCleanup, flush, &flush->cleanup_hook);
    data->poll_flush = flush;
  }
  if (data->poll_receiver == nullptr) {
    napi_value receiver, name;
    napi_create_object(env, &receiver);
    napi_create_reference(env, receiver, 1, &data->poll_receiver);
    napi_create_string_utf8(env, "multiloop.poll", NAPI_AUTO_LENGTH, &name);
    napi_async_init(env, receiver, name, &data->poll_context);
  }
  // Events of the old batch go to the old dispatcher first.
  if (data->poll_function != nullptr) DeliverBatch(env, data);
  if (data->poll_function) napi_delete_reference(env, data->poll_function);
  napi_create_reference(env, argv[0], 1, &data->poll_function);
  if (data->poll_batch_ref) napi_delete_reference(env, data->poll_batch_ref);
  napi_create_reference(env, argv[1], 1, &data->poll_batch_ref);
  data->poll_batch = static_cast<int32_t*>(memory);
  data->poll_batch_capacity = length / 3;
  return nullptr;
}

// pollOpen(fd, id) -> watch: an unreferenced (does not keep the thread alive),
// stopped poll handle on the calling thread's loop.
napi_value PollOpen(napi_env env, napi_callback_info info) {
  Args args;
  int32_t fd, id;
  if (!GetArgs(env, info, &args, 2) || !ArgInt32(env, args.values[0], "fd", &fd) ||
      !ArgInt32(env, args.values[1], "id", &id)) {
    return nullptr;
  }

  // uv_poll_init refuses (EEXIST) an fd that another handle of this loop owns,
  // and (EPERM) an fd epoll cannot watch, such as a regular file.
  uv_poll_t* handle = NewUnrefHandle<uv_poll_t>(env, UV_POLL, "uv_poll_init",
                                                [fd](uv_loop_t* loop, uv_poll_t* h) { return uv_poll_init(loop, h, fd); });
  if (handle == nullptr) return nullptr;

  PollWatch* watch = new PollWatch{env, handle, id, nullptr, false, false, false};
  handle->data = watch;
  napi_add_async_cleanup_hook(env, OnEnvironmentCleanup, watch, &watch->cleanup_hook);
  napi_value external;
  napi_create_external(env, watch, OnExternalFinalized, nullptr, &external);
  return external;
}

// pollStart(watch, events): watch for UV_READABLE and/or UV_WRITABLE; events
// replaces the previous mask.
napi_value PollStart(napi_env env, napi_callback_info info) {
  Args args;
  PollWatch* watch;
  int32_t events;
  if (!GetArgs(env, info, &args, 2) || !ArgWatch(env, args.values[0], &watch) ||
      !ArgInt32(env, args.values[1], "events", &events)) {
    return nullptr;
  }
  int err = uv_poll_start(watch->handle, events, OnPollEvent);
  if (err != 0) return ThrowErrno(env, "uv_poll_start", -err);
  return nullptr;
}

// pollStop(watch): no more events until the next pollStart.
napi_value PollStop(napi_env env, napi_callback_info info) {
  Args args;
  PollWatch* watch;
  if (!GetArgs(env, info, &args, 1) || !ArgWatch(env, args.values[0], &watch)) return nullptr;
  uv_poll_stop(watch->handle);
  return nullptr;
}

// pollClose(watch): stops and releases the handle; no event is delivered
// after this call. Closing twice is a no-op.
napi_value PollClose(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  void* data = nullptr;
  if (argc < 1 || napi_get_value_external(env, argv[0], &data) != napi_ok) {
    return ThrowType(env, "watch must be a value returned by pollOpen()");
  }
  BeginClose(static_cast<PollWatch*>(data));
  return nullptr;
}

}  // namespace

void InitPollWatch(napi_env env, napi_value exports) {
  SetMethod(env, exports, "pollInit", PollInit);
  SetMethod(env, exports, "pollOpen", PollOpen);
  SetMethod(env, exports, "pollStart", PollStart);
  SetMethod(env, exports, "pollStop", PollStop);
  SetMethod(env, exports, "pollClose", PollClose);
  SetInt(env, exports, "UV_READABLE", UV_READABLE);
  SetInt(env, exports, "UV_WRITABLE", UV_WRITABLE);
}

}  // namespace multiloop
