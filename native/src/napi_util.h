// Small helpers shared by the addon's translation units: argument reading
// with TypeErrors that name the argument, and Node-style system errors.
#pragma once

#include <errno.h>
#include <node_api.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <uv.h>

#include <unordered_set>

namespace multiloop {

// The addon's per-environment (per-thread) state, made at module load.
struct AddonData {
  // The JS function every poll event of this thread is delivered to, and
  // the batch it reads them from (poll_watch.cc).
  napi_ref poll_function = nullptr;
  napi_ref poll_receiver = nullptr;
  napi_async_context poll_context = nullptr;
  napi_ref poll_batch_ref = nullptr;
  int32_t* poll_batch = nullptr;  // (id, status, events) per event
  size_t poll_batch_capacity = 0;  // in events
  size_t poll_pending = 0;         // events in the batch, not yet delivered
  struct PollFlush* poll_flush = nullptr;
  // fds owned by Socket objects of this thread: closed when the environment
  // is torn down (a worker ending or terminated) so that none leaks.
  std::unordered_set<int> owned_fds;
};

AddonData* GetAddonData(napi_env env);

// Throws an Error shaped like Node's system errors: message "<syscall> <CODE>",
// `code` ('ECONNREFUSED', ...), `errno` (negative, as libuv and Node report
// it) and `syscall`. Returns nullptr so callers can `return ThrowErrno(...)`.
napi_value ThrowErrno(napi_env env, const char* syscall, int err);

// Throws a TypeError with `message`; returns nullptr.
napi_value ThrowType(napi_env env, const char* message);

// The most arguments GetArgs reads.
constexpr size_t kMaxArgs = 6;

// A call's arguments, as GetArgs reads them.
struct Args {
  size_t count = kMaxArgs;
  napi_value values[kMaxArgs];
};

// Reads the call's arguments into `args`; false (with a TypeError thrown)
// when fewer than `required` were passed.
bool GetArgs(napi_env env, napi_callback_info info, Args* args, size_t required);

// Reads argument `i` as an int32; on failure throws a TypeError naming `name`.
bool ArgInt32(napi_env env, napi_value v, const char* name, int32_t* out);

// Reads `v` as a typed array of `type`: its memory and its length in
// elements; otherwise throws a TypeError "<name> must be <what>".
bool ArgTypedArray(napi_env env, napi_value v, napi_typedarray_type type, const char* name, const char* what, void** data,
                   size_t* length);

// Reads argument as a writable byte range (any Uint8Array, Buffer included).
bool ArgBytes(napi_env env, napi_value v, const char* name, uint8_t** data, size_t* len);

// Allocates a libuv handle of `type` on the calling thread's loop (sized with
// uv_handle_size() at run time, so the binary does not depend on the struct
// layout of the headers it was built with), initializes it with
// `init(loop, handle)` and unreferences it: it never keeps the thread alive.
// On failure throws (naming `init_name`) and returns nullptr.
template <typename Handle, typename Init>
Handle* NewUnrefHandle(napi_env env, uv_handle_type type, const char* init_name, Init init) {
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
    napi_throw_error(env, nullptr, "no libuv loop for this thread");
    return nullptr;
  }
  Handle* handle = static_cast<Handle*>(malloc(uv_handle_size(type)));
  if (handle == nullptr) {
    ThrowErrno(env, init_name, ENOMEM);
    return nullptr;
  }
  int err = init(loop, handle);
  if (err != 0) {
    free(handle);
    ThrowErrno(env, init_name, -err);
    return nullptr;
  }
  uv_unref(reinterpret_cast<uv_handle_t*>(handle));
  return handle;
}

// Calls `function` from a libuv callback with napi_make_callback (so that
// the microtasks it queues run before libuv goes on; `receiver` must be an
// object: an undefined one crashes). An exception it leaves is a bug in
// multiloop's own dispatcher, which routes user errors to the loop's
// exception handler; it is raised as an uncaught exception, never dropped.
void CallFromLoop(napi_env env, napi_async_context context, napi_value receiver, napi_value function, size_t argc,
                  const napi_value* argv);

// Registers `fn` on `exports` under `name`.
void SetMethod(napi_env env, napi_value exports, const char* name, napi_callback fn);

// Registers an int32 property on `target`.
void SetInt(napi_env env, napi_value target, const char* name, int32_t value);

// Defined in poll_watch.cc, doorbell.cc and syscalls.cc: add their functions to exports.
void InitPollWatch(napi_env env, napi_value exports);
void InitDoorbell(napi_env env, napi_value exports);
void InitSyscalls(napi_env env, napi_value exports);

}  // namespace multiloop
