#include "napi_util.h"

#include <uv.h>

#include <string>

namespace multiloop {

napi_value ThrowErrno(napi_env env, const char* syscall, int err) {
  // libuv's names are the errno names on UNIX (uv error = -errno), which is
  // exactly what Node puts in `code`.
  const char* code = uv_err_name(-err);
  std::string message = std::string(syscall) + " " + code;
  napi_value js_code, js_message, error, js_errno, js_syscall;
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &js_code);
  napi_create_string_utf8(env, message.c_str(), message.size(), &js_message);
  napi_create_error(env, js_code, js_message, &error);
  napi_create_int32(env, -err, &js_errno);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &js_syscall);
  napi_set_named_property(env, error, "errno", js_errno);
  napi_set_named_property(env, error, "syscall", js_syscall);
  napi_throw(env, error);
  return nullptr;
}

void CallFromLoop(napi_env env, napi_async_context context, napi_value receiver, napi_value function, size_t argc,
                  const napi_value* argv) {
  napi_value result;
  if (napi_make_callback(env, context, receiver, function, argc, argv, &result) == napi_pending_exception) {
    napi_value error;
    napi_get_and_clear_last_exception(env, &error);
    napi_fatal_exception(env, error);
  }
}

napi_value ThrowType(napi_env env, const char* message) {
  napi_throw_type_error(env, nullptr, message);
  return nullptr;
}

bool GetArgs(napi_env env, napi_callback_info info, Args* args, size_t required) {
  napi_get_cb_info(env, info, &args->count, args->values, nullptr, nullptr);
  if (args->count < required) {
    ThrowType(env, "missing arguments");
    return false;
  }
  return true;
}

bool ArgInt32(napi_env env, napi_value v, const char* name, int32_t* out) {
  // The status says whether v is a number: one N-API call per argument, not a typeof first.
  if (napi_get_value_int32(env, v, out) != napi_ok) {
    std::string message = std::string(name) + " must be a number";
    ThrowType(env, message.c_str());
    return false;
  }
  return true;
}

bool ArgTypedArray(napi_env env, napi_value v, napi_typedarray_type type, const char* name, const char* what, void** data,
                   size_t* length) {
  // napi_get_typedarray_info fails (napi_invalid_arg) for anything but a typed array: no separate check.
  napi_typedarray_type actual = napi_int8_array;
  if (napi_get_typedarray_info(env, v, &actual, length, data, nullptr, nullptr) != napi_ok || actual != type) {
    std::string message = std::string(name) + " must be " + what;
    ThrowType(env, message.c_str());
    return false;
  }
  return true;
}

bool ArgBytes(napi_env env, napi_value v, const char* name, uint8_t** data, size_t* len) {
  void* raw = nullptr;
  if (!ArgTypedArray(env, v, napi_uint8_array, name, "a Uint8Array or Buffer", &raw, len)) return false;
  *data = static_cast<uint8_t*>(raw);
  return true;
}

void SetMethod(napi_env env, napi_value exports, const char* name, napi_callback fn) {
  napi_value value;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, fn, nullptr, &value);
  napi_set_named_property(env, exports, name, value);
}

void SetInt(napi_env env, napi_value target, const char* name, int32_t value) {
  napi_value js;
  napi_create_int32(env, value, &js);
  napi_set_named_property(env, target, name, js);
}

}  // namespace multiloop
