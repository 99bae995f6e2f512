// The raw socket and fd system calls Node does not expose. Every socket and fd
// made here is close-on-exec, and new sockets are non-blocking, so a thread's
// event loop is never stalled by them and no fd leaks into child processes.
//
// Calls that would block return null (recv, send, accept) or false (connect)
// rather than throwing, because "not yet" is the common case on the hot path;
// every other failure throws a Node-style system error (see ThrowErrno).
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "napi_util.h"

namespace multiloop {
namespace {

// Reads the fd argument of a call that takes only an fd; false (with a
// TypeError thrown) when it is missing or not an int32.
bool ArgFd(napi_env env, napi_callback_info info, int32_t* fd) {
  Args args;
  return GetArgs(env, info, &args, 1) && ArgInt32(env, args.values[0], "fd", fd);
}

bool WouldBlock(int err) { return err == EAGAIN || err == EWOULDBLOCK; }

napi_value Int(napi_env env, int32_t value) {
  napi_value js;
  napi_create_int32(env, value, &js);
  return js;
}

napi_value Bool(napi_env env, bool value) {
  napi_value js;
  napi_get_boolean(env, value, &js);
  return js;
}

napi_value Null(napi_env env) {
  napi_value js;
  napi_get_null(env, &js);
  return js;
}

// Builds the sockaddr for (family, host-or-path, port, flowinfo, scopeId).
// Hosts must be numeric: name resolution belongs to getaddrinfo, off-thread.
bool ArgAddress(napi_env env, const Args& args, size_t first, sockaddr_storage* addr, socklen_t* len) {
  int32_t family;
  if (!ArgInt32(env, args.values[first], "family", &family)) return false;
  memset(addr, 0, sizeof(*addr));
  char text[sizeof(sockaddr_un::sun_path) + 1];
  size_t text_len = 0;
  if (napi_get_value_string_utf8(env, args.values[first + 1], text, sizeof(text), &text_len) != napi_ok) {
    ThrowType(env, "address host or path must be a string");
    return false;
  }
  if (family == AF_UNIX) {
    sockaddr_un* un = reinterpret_cast<sockaddr_un*>(addr);
    if (text_len >= sizeof(un->sun_path)) {
      napi_throw_range_error(env, nullptr, "address path is too long for a UNIX socket");
      return false;
    }
    un->sun_family = AF_UNIX;
    memcpy(un->sun_path, text, text_len);
    // A leading NUL names Linux's abstract namespace, whose length is exact.
    *len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + text_len + (text[0] == '\0' ? 0 : 1));
    return true;
  }
  int32_t port = 0, flowinfo = 0, scope_id = 0;
  if (args.count > first + 2 && !ArgInt32(env, args.values[first + 2], "port", &port)) return false;
  if (args.count > first + 3 && !ArgInt32(env, args.values[first + 3], "flowinfo", &flowinfo)) return false;
  if (args.count > first + 4 && !ArgInt32(env, args.values[first + 4], "scopeId", &scope_id)) return false;
  if (family == AF_INET) {
    sockaddr_in* in = reinterpret_cast<sockaddr_in*>(addr);
    in->sin_family = AF_INET;
    in->sin_port = htons(static_cast<uint16_t>(port));
    if (text_len == 0) {
      in->sin_addr.s_addr = htonl(INADDR_ANY);
    } else if (inet_pton(AF_INET, text, &in->sin_addr) != 1) {
      ThrowType(env, "address host must be a numeric IPv4 address (resolve names with getaddrinfo)");
      return false;
    }
    *len = sizeof(sockaddr_in);
    return true;
  }
  if (family == AF_INET6) {
    sockaddr_in6* in6 = reinterpret_cast<sockaddr_in6*>(addr);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(static_cast<uint16_t>(port));
    in6->sin6_flowinfo = htonl(static_cast<uint32_t>(flowinfo));
    in6->sin6_scope_id = static_cast<uint32_t>(scope_id);
    if (text_len == 0) {
      in6->sin6_addr = in6addr_any;
    } else if (inet_pton(AF_INET6, text, &in6->sin6_addr) != 1) {
      ThrowType(env, "address host must be a numeric IPv6 address (resolve names with getaddrinfo)");
      return false;
    }
    *len = sizeof(sockaddr_in6);
    return true;
  }
  napi_throw_range_error(env, nullptr, "family must be AF_INET, AF_INET6 or AF_UNIX");
  return false;
}

// The address in asyncio's shape: [host, port] for IPv4, [host, port,
// flowinfo, scopeId] for IPv6, a path string for UNIX ('' when unnamed).
napi_value AddressValue(napi_env env, const sockaddr_storage& addr, socklen_t len) {
  napi_value result;
  char host[INET6_ADDRSTRLEN];
  if (addr.ss_family == AF_INET) {
    const sockaddr_in* in = reinterpret_cast<const sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
    napi_create_array_with_length(env, 2, &result);
    napi_value js_host;
    napi_create_string_utf8(env, host, NAPI_AUTO_LENGTH, &js_host);
    napi_set_element(env, result, 0, js_host);
    napi_set_element(env, result, 1, Int(env, ntohs(in->sin_port)));
    return result;
  }
  if (addr.ss_family == AF_INET6) {
    const sockaddr_in6* in6 = reinterpret_cast<const sockaddr_in6*>(&addr);
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
    napi_create_array_with_length(env, 4, &result);
    napi_value js_host, flowinfo, scope_id;
    napi_create_string_utf8(env, host, NAPI_AUTO_LENGTH, &js_host);
    napi_create_uint32(env, ntohl(in6->sin6_flowinfo), &flowinfo);
    napi_create_uint32(env, in6->sin6_scope_id, &scope_id);
    napi_set_element(env, result, 0, js_host);
    napi_set_element(env, result, 1, Int(env, ntohs(in6->sin6_port)));
    napi_set_element(env, result, 2, flowinfo);
    napi_set_element(env, result, 3, scope_id);
    return result;
  }
  if (addr.ss_family == AF_UNIX) {
    const sockaddr_un* un = reinterpret_cast<const sockaddr_un*>(&addr);
    size_t path_len = len > offsetof(sockaddr_un, sun_path) ? len - offsetof(sockaddr_un, sun_path) : 0;
    // Pathname sockets include a terminating NUL in len; abstract ones do not.
    if (path_len > 0 && un->sun_path[0] != '\0') path_len = strnlen(un->sun_path, path_len);
    napi_create_string_utf8(env, un->sun_path, path_len, &result);
    return result;
  }
  return Null(env);
}

// Reads the (family, type, proto) arguments of socket and socketpair.
bool ArgSocketKind(napi_env env, napi_callback_info info, int32_t* family, int32_t* type, int32_t* proto) {
  Args args;
  return GetArgs(env, info, &args, 3) && ArgInt32(env, args.values[0], "family", family) &&
         ArgInt32(env, args.values[1], "type", type) && ArgInt32(env, args.values[2], "proto", proto);
}

// Reads the (fd, family, hostOrPath, port?, flowinfo?, scopeId?) arguments
// of bind and connect.
bool ArgFdAddress(napi_env env, napi_callback_info info, int32_t* fd, sockaddr_storage* addr, socklen_t* len) {
  Args args;
  return GetArgs(env, info, &args, 3) && ArgInt32(env, args.values[0], "fd", fd) &&
         ArgAddress(env, args, 1, addr, len);
}

// socket(family, type, proto) -> fd
napi_value Socket(napi_env env, napi_callback_info info) {
  int32_t family, type, proto;
  if (!ArgSocketKind(env, info, &family, &type, &proto)) return nullptr;
  int fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
  if (fd < 0) return ThrowErrno(env, "socket", errno);
  return Int(env, fd);
}

// socketpair(family, type, proto) -> [fd, fd]
napi_value SocketPair(napi_env env, napi_callback_info info) {
  int32_t family, type, proto;
  if (!ArgSocketKind(env, info, &family, &type, &proto)) return nullptr;
  int fds[2];
  if (socketpair(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, proto, fds) != 0) {
    return ThrowErrno(env, "socketpair", errno);
  }
  napi_value result;
  napi_create_array_with_length(env, 2, &result);
  napi_set_element(env, result, 0, Int(env, fds[0]));
  napi_set_element(env, result, 1, Int(env, fds[1]));
  return result;
}

// bind(fd, family, hostOrPath, port?, flowinfo?, scopeId?)
napi_value Bind(napi_env env, napi_callback_info info) {
  int32_t fd;
  sockaddr_storage addr;
  socklen_t len;
  if (!ArgFdAddress(env, info, &fd, &addr, &len)) return nullptr;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0) return ThrowErrno(env, "bind", errno);
  return nullptr;
}

// connect(fd, family, hostOrPath, port?, flowinfo?, scopeId?) -> true when
// connected, false when the connection is in progress (wait for writability,
// then call connectResult).
napi_value Connect(napi_env env, napi_callback_info info) {
  int32_t fd;
  sockaddr_storage addr;
  socklen_t len;
  if (!ArgFdAddress(env, info, &fd, &addr, &len)) return nullptr;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), len) == 0) return Bool(env, true);
  // EINTR: the connect goes on asynchronously, as with EINPROGRESS.
  // EAGAIN: a UNIX socket whose listener's backlog is full.
  if (errno == EINPROGRESS || errno == EINTR || WouldBlock(errno)) return Bool(env, false);
  return ThrowErrno(env, "connect", errno);
}

// connectResult(fd): throws the error of a finished non-blocking connect.
napi_value ConnectResult(napi_env env, napi_callback_info info) {
  int32_t fd;
  if (!ArgFd(env, info, &fd)) return nullptr;
  int err = 0;
  socklen_t len = sizeof(err);
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return ThrowErrno(env, "getsockopt", errno);
  if (err != 0) return ThrowErrno(env, "connect", err);
  return nullptr;
}

// listen(fd, backlog)
napi_value Listen(napi_env env, napi_callback_info info) {
  Args args;
  int32_t fd, backlog;
  if (!GetArgs(env, info, &args, 2) || !ArgInt32(env, args.values[0], "fd", &fd) ||
      !ArgInt32(env, args.values[1], "backlog", &backlog)) {
    return nullptr;
  }
  if (listen(fd, backlog) != 0) return ThrowErrno(env, "listen", errno);
  return nullptr;
}

// A connection accepted by AcceptFromArgs.
struct Accepted {
  int fd;  // non-blocking and close-on-exec from birth (accept4)
  sockaddr_storage peer;
  socklen_t peer_len;
};

// Accepts one pending connection on the listening fd given as the call's
// argument: true with `*out` filled, or false with `*early` to return:
// null when none is pending (ECONNABORTED, a peer that gave up while
// queued, counts as none), or nullptr with an exception pending.
bool AcceptFromArgs(napi_env env, napi_callback_info info, Accepted* out, napi_value* early) {
  int32_t fd;
  *early = nullptr;
  if (!ArgFd(env, info, &fd)) return false;
  do {
    out->peer_len = sizeof(out->peer);
    out->fd = accept4(fd, reinterpret_cast<sockaddr*>(&out->peer), &out->peer_len, SOCK_NONBLOCK | SOCK_CLOEXEC);
  } while (out->fd < 0 && errno == EINTR);
  if (out->fd >= 0) return true;
  *early = WouldBlock(errno) || errno == ECONNABORTED ? Null(env) : ThrowErrno(env, "accept", errno);
  return false;
}

// accept(fd) -> [fd, peerAddress] | null when no connection is pending.
napi_value Accept(napi_env env, napi_callback_info info) {
  Accepted accepted;
  napi_value result;
  if (!AcceptFromArgs(env, info, &accepted, &result)) return result;
  napi_create_array_with_length(env, 2, &result);
  napi_set_element(env, result, 0, Int(env, accepted.fd));
  napi_set_element(env, result, 1, AddressValue(env, accepted.peer, accepted.peer_len));
  return result;
}

// acceptFd(fd) -> fd | null: accept without the peer's address, for servers
// that hand the fd on: it saves an inet_ntop, a string and an array per
// connection that nobody reads.
napi_value AcceptFd(napi_env env, napi_callback_info info) {
  Accepted accepted;
  napi_value early;
  if (!AcceptFromArgs(env, info, &accepted, &early)) return early;
  return Int(env, accepted.fd);
}

// Reads the (fd, buffer, offset, length) arguments of recv and send: `*bytes`
// and `*length` give buffer[offset, offset + length). A TypeError names a bad
// argument; a RangeError says when the range does not lie within buffer.
bool ArgFdBytes(napi_env env, napi_callback_info info, int32_t* fd, uint8_t** bytes, size_t* length) {
  Args args;
  int32_t offset, count;
  uint8_t* data;
  size_t size;
  if (!GetArgs(env, info, &args, 4) || !ArgInt32(env, args.values[0], "fd", fd) ||
      !ArgBytes(env, args.values[1], "buffer", &data, &size) ||
      !ArgInt32(env, args.values[2], "offset", &offset) || !ArgInt32(env, args.values[3], "length", &count)) {
    return false;
  }
  if (offset < 0 || count < 0 || static_cast<size_t>(offset) + static_cast<size_t>(count) > size) {
    napi_throw_range_error(env, nullptr, "offset and length must lie within buffer");
    return false;
  }
  *bytes = data + offset;
  *length = static_cast<size_t>(count);
  return true;
}

// recv(fd, buffer, offset, length) -> bytes read (0 at EOF) | null if none yet
napi_value Recv(napi_env env, napi_callback_info info) {
  int32_t fd;
  uint8_t* bytes;
  size_t length;
  if (!ArgFdBytes(env, info, &fd, &bytes, &length)) return nullptr;
  ssize_t n;
  do {
    n = recv(fd, bytes, length, 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return WouldBlock(errno) ? Null(env) : ThrowErrno(env, "recv", errno);
  return Int(env, static_cast<int32_t>(n));
}

// send(fd, buffer, offset, length) -> bytes sent | null if the buffer is full.
// MSG_NOSIGNAL: a closed peer is an EPIPE error, never a process-killing SIGPIPE.
napi_value Send(napi_env env, napi_callback_info info) {
  int32_t fd;
  uint8_t* bytes;
  size_t length;
  if (!ArgFdBytes(env, info, &fd, &bytes, &length)) return nullptr;
  ssize_t n;
  do {
    n = send(fd, bytes, length, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return WouldBlock(errno) ? Null(env) : ThrowErrno(env, "send", errno);
  return Int(env, static_cast<int32_t>(n));
}

// shutdown(fd, how)
napi_value Shutdown(napi_env env, napi_callback_info info) {
  Args args;
  int32_t fd, how;
  if (!GetArgs(env, info, &args, 2) || !ArgInt32(env, args.values[0], "fd", &fd) ||
      !ArgInt32(env, args.values[1], "how", &how)) {
    return nullptr;
  }
  if (shutdown(fd, how) != 0) return ThrowErrno(env, "shutdown", errno);
  return nullptr;
}

napi_value NameOf(napi_env env, napi_callback_info info, bool peer) {
  int32_t fd;
  if (!ArgFd(env, info, &fd)) return nullptr;
  sockaddr_storage addr;
  memset(&addr, 0, sizeof(addr));
  socklen_t len = sizeof(addr);
  int rc = peer ? getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len)
                : getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  if (rc != 0) return ThrowErrno(env, peer ? "getpeername" : "getsockname", errno);
  return AddressValue(env, addr, len);
}

// getsockname(fd) -> address
napi_value GetSockName(napi_env env, napi_callback_info info) { return NameOf(env, info, false); }

// getpeername(fd) -> address
napi_value GetPeerName(napi_env env, napi_callback_info info) { return NameOf(env, info, true); }

// Reads the (fd, level, option) arguments that setsockopt and getsockopt
// begin with, of at least `required` arguments; `args` keeps them all.
bool ArgSockOpt(napi_env env, napi_callback_info info, size_t required, Args* args, int32_t* fd, int32_t* level,
                int32_t* option) {
  return GetArgs(env, info, args, required) && ArgInt32(env, args->values[0], "fd", fd) &&
         ArgInt32(env, args->values[1], "level", level) && ArgInt32(env, args->values[2], "option", option);
}

// setsockopt(fd, level, option, value): value an int or raw bytes.
napi_value SetSockOpt(napi_env env, napi_callback_info info) {
  Args args;
  int32_t fd, level, option;
  if (!ArgSockOpt(env, info, 4, &args, &fd, &level, &option)) return nullptr;
  napi_valuetype type;
  napi_typeof(env, args.values[3], &type);
  int rc;
  if (type == napi_number) {
    int32_t value;
    napi_get_value_int32(env, args.values[3], &value);
    int int_value = value;
    rc = setsockopt(fd, level, option, &int_value, sizeof(int_value));
  } else {
    uint8_t* data;
    size_t size;
    if (!ArgBytes(env, args.values[3], "value", &data, &size)) return nullptr;
    rc = setsockopt(fd, level, option, data, static_cast<socklen_t>(size));
  }
  if (rc != 0) return ThrowErrno(env, "setsockopt", errno);
  return nullptr;
}

// getsockopt(fd, level, option) -> int
napi_value GetSockOpt(napi_env env, napi_callback_info info) {
  Args args;
  int32_t fd, level, option;
  if (!ArgSockOpt(env, info, 3, &args, &fd, &level, &option)) return nullptr;
  int value = 0;
  socklen_t len = sizeof(value);
  if (getsockopt(fd, level, option, &value, &len) != 0) return ThrowErrno(env, "getsockopt", errno);
  return Int(env, value);
}

// setNonBlocking(fd, flag)
napi_value SetNonBlocking(napi_env env, napi_callback_info info) {
  Args args;
  int32_t fd;
  bool flag = false;
  if (!GetArgs(env, info, &args, 2) || !ArgInt32(env, args.values[0], "fd", &fd)) return nullptr;
  napi_get_value_bool(env, args.values[1], &flag);
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0) return ThrowErrno(env, "fcntl", errno);
  int wanted = flag ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
  if (wanted != flags && fcntl(fd, F_SETFL, wanted) != 0) return ThrowErrno(env, "fcntl", errno);
  return nullptr;
}

// isNonBlocking(fd) -> boolean
napi_value IsNonBlocking(napi_env env, napi_callback_info info) {
  int32_t fd;
  if (!ArgFd(env, info, &fd)) return nullptr;
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0) return ThrowErrno(env, "fcntl", errno);
  return Bool(env, (flags & O_NONBLOCK) != 0);
}

// dup(fd) -> a new close-on-exec fd for the same open file (F_DUPFD_CLOEXEC):
// how an fd changes owner, e.g. from the coordinator to a worker thread.
napi_value Dup(napi_env env, napi_callback_info info) {
  int32_t fd;
  if (!ArgFd(env, info, &fd)) return nullptr;
  int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) return ThrowErrno(env, "dup", errno);
  return Int(env, copy);
}

// close(fd), which also ends its ownership (see own). EINTR is not retried:
// on Linux the fd is released regardless, and retrying could close an fd
// another thread has just been given.
napi_value Close(napi_env env, napi_callback_info info) {
  int32_t fd;
  if (!ArgFd(env, info, &fd)) return nullptr;
  GetAddonData(env)->owned_fds.erase(fd);
  if (close(fd) != 0 && errno != EINTR) return ThrowErrno(env, "close", errno);
  return nullptr;
}

// own(fd): this thread owns `fd` until close(fd) or disown(fd); if the
// thread's environment is torn down first, the fd is closed.
napi_value Own(napi_env env, napi_callback_info info) {
  int32_t fd;
  if (!ArgFd(env, info, &fd)) return nullptr;
  GetAddonData(env)->owned_fds.insert(fd);
  return nullptr;
}

// disown(fd): ends own(fd) without closing the fd (it has a new owner).
napi_value Disown(napi_env env, napi_callback_info info) {
  int32_t fd;
  if (!ArgFd(env, info, &fd)) return nullptr;
  GetAddonData(env)->owned_fds.erase(fd);
  return nullptr;
}

void SetConstants(napi_env env, napi_value exports) {
  napi_value c;
  napi_create_object(env, &c);
  SetInt(env, c, "AF_UNSPEC", AF_UNSPEC);
  SetInt(env, c, "AF_INET", AF_INET);
  SetInt(env, c, "AF_INET6", AF_INET6);
  SetInt(env, c, "AF_UNIX", AF_UNIX);
  SetInt(env, c, "SOCK_STREAM", SOCK_STREAM);
  SetInt(env, c, "SOCK_DGRAM", SOCK_DGRAM);
  SetInt(env, c, "SOCK_RAW", SOCK_RAW);
  SetInt(env, c, "IPPROTO_IP", IPPROTO_IP);
  SetInt(env, c, "IPPROTO_TCP", IPPROTO_TCP);
  SetInt(env, c, "IPPROTO_UDP", IPPROTO_UDP);
  SetInt(env, c, "IPPROTO_IPV6", IPPROTO_IPV6);
  SetInt(env, c, "IPV6_V6ONLY", IPV6_V6ONLY);
  SetInt(env, c, "TCP_NODELAY", TCP_NODELAY);
  SetInt(env, c, "SOL_SOCKET", SOL_SOCKET);
  SetInt(env, c, "SO_REUSEADDR", SO_REUSEADDR);
  SetInt(env, c, "SO_REUSEPORT", SO_REUSEPORT);
  SetInt(env, c, "SO_KEEPALIVE", SO_KEEPALIVE);
  SetInt(env, c, "SO_BROADCAST", SO_BROADCAST);
  SetInt(env, c, "SO_RCVBUF", SO_RCVBUF);
  SetInt(env, c, "SO_SNDBUF", SO_SNDBUF);
  SetInt(env, c, "SO_ERROR", SO_ERROR);
  SetInt(env, c, "SO_TYPE", SO_TYPE);
  SetInt(env, c, "SO_DOMAIN", SO_DOMAIN);
  SetInt(env, c, "SO_PROTOCOL", SO_PROTOCOL);
  SetInt(env, c, "SO_ACCEPTCONN", SO_ACCEPTCONN);
  SetInt(env, c, "SHUT_RD", SHUT_RD);
  SetInt(env, c, "SHUT_WR", SHUT_WR);
  SetInt(env, c, "SHUT_RDWR", SHUT_RDWR);
  SetInt(env, c, "AI_PASSIVE", AI_PASSIVE);
  SetInt(env, c, "AI_CANONNAME", AI_CANONNAME);
  SetInt(env, c, "AI_NUMERICHOST", AI_NUMERICHOST);
  SetInt(env, c, "AI_NUMERICSERV", AI_NUMERICSERV);
  SetInt(env, c, "AI_V4MAPPED", AI_V4MAPPED);
  SetInt(env, c, "AI_ALL", AI_ALL);
  SetInt(env, c, "AI_ADDRCONFIG", AI_ADDRCONFIG);
  SetInt(env, c, "NI_NUMERICHOST", NI_NUMERICHOST);
  SetInt(env, c, "NI_NUMERICSERV", NI_NUMERICSERV);
  SetInt(env, c, "NI_NOFQDN", NI_NOFQDN);
  SetInt(env, c, "NI_NAMEREQD", NI_NAMEREQD);
  SetInt(env, c, "NI_DGRAM", NI_DGRAM);
  napi_set_named_property(env, exports, "constants", c);
}

}  // namespace

void InitSyscalls(napi_env env, napi_value exports) {
  SetMethod(env, exports, "socket", Socket);
  SetMethod(env, exports, "socketpair", SocketPair);
  SetMethod(env, exports, "bind", Bind);
  SetMethod(env, exports, "connect", Connect);
  SetMethod(env, exports, "connectResult", ConnectResult);
  SetMethod(env, exports, "listen", Listen);
  SetMethod(env, exports, "accept", Accept);
  SetMethod(env, exports, "acceptFd", AcceptFd);
  SetMethod(env, exports, "recv", Recv);
  SetMethod(env, exports, "send", Send);
  SetMethod(env, exports, "shutdown", Shutdown);
  SetMethod(env, exports, "getsockname", GetSockName);
  SetMethod(env, exports, "getpeername", GetPeerName);
  SetMethod(env, exports, "setsockopt", SetSockOpt);
  SetMethod(env, exports, "getsockopt", GetSockOpt);
  SetMethod(env, exports, "setNonBlocking", SetNonBlocking);
  SetMethod(env, exports, "isNonBlocking", IsNonBlocking);
  SetMethod(env, exports, "dup", Dup);
  SetMethod(env, exports, "close", Close);
  SetMethod(env, exports, "own", Own);
  SetMethod(env, exports, "disown", Disown);
  SetConstants(env, exports);
}

}  // namespace multiloop
