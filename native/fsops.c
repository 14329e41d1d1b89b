/*
 * fsops: the few filesystem calls Node does not offer, for unpacking image layers.
 *
 *   mknod(path, mode, major, minor)      devices, fifos and overlayfs whiteouts (char 0/0)
 *   lsetxattr(path, name, value)         xattrs from tar PAX records, trusted.overlay.opaque
 *   lgetxattr(path, name) -> Buffer|undefined   (undefined when the attribute is absent)
 *
 * All are synchronous and never follow a final symlink. Failures throw an Error shaped like Node's fs errors
 * (code = errno name, errno = -errno, syscall, path) so callers can switch on `code`.
 * Built with plain gcc by scripts/build-native.sh; C and Node-API only, so no node-gyp and no C++ runtime.
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <errno.h>
#include <node_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/xattr.h>

/* Returns NULL after throwing when a call failed, so callers can `if (!x) return NULL;`. */
#define CHECK(env, call)                                                                                             \
  do {                                                                                                               \
    if ((call) != napi_ok) {                                                                                         \
      throw_last(env);                                                                                               \
      return NULL;                                                                                                   \
    }                                                                                                                \
  } while (0)

static void throw_last(napi_env env) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) return;
  const napi_extended_error_info *info = NULL;
  napi_get_last_error_info(env, &info);
  napi_throw_error(env, NULL, info && info->error_message ? info->error_message : "node-api call failed");
}

/* Throws an Error like Node's fs errors: "EPERM: operation not permitted, mknod '/x'". */
static void throw_errno(napi_env env, int err, const char *syscall, const char *path) {
  const char *name = strerrorname_np(err);
  char code[32];
  if (name == NULL) {
    snprintf(code, sizeof code, "E%d", err);
    name = code;
  }
  size_t len = strlen(name) + strlen(strerror(err)) + strlen(syscall) + strlen(path) + 16;
  char *message = malloc(len);
  if (message == NULL) {
    napi_throw_error(env, name, "out of memory");
    return;
  }
  snprintf(message, len, "%s: %s, %s '%s'", name, strerror(err), syscall, path);
  /* Node's fs messages read "ENOENT: no such file or directory, ...": lower-case strerror's capital. */
  size_t at = strlen(name) + 2;
  if (at < len && message[at] >= 'A' && message[at] <= 'Z') message[at] = (char)(message[at] - 'A' + 'a');
  napi_value msg, error, value;
  if (napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg) != napi_ok ||
      napi_create_error(env, NULL, msg, &error) != napi_ok) {
    free(message);
    throw_last(env);
    return;
  }
  free(message);
  if (napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &value) == napi_ok)
    napi_set_named_property(env, error, "code", value);
  if (napi_create_int32(env, -err, &value) == napi_ok) napi_set_named_property(env, error, "errno", value);
  if (napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &value) == napi_ok)
    napi_set_named_property(env, error, "syscall", value);
  if (napi_create_string_utf8(env, path, NAPI_AUTO_LENGTH, &value) == napi_ok)
    napi_set_named_property(env, error, "path", value);
  napi_throw(env, error);
}

/*
 * Copies a JS string argument into a malloc'd C string. A string with an embedded NUL is refused: C would see
 * only its prefix, which could name a different file than the one the caller checked.
 */
static char *get_string(napi_env env, napi_value value, const char *what) {
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_string) {
    char message[64];
    snprintf(message, sizeof message, "%s must be a string", what);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
    return NULL;
  }
  size_t len = 0;
  if (napi_get_value_string_utf8(env, value, NULL, 0, &len) != napi_ok) {
    throw_last(env);
    return NULL;
  }
  char *buf = malloc(len + 1);
  if (buf == NULL) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  if (napi_get_value_string_utf8(env, value, buf, len + 1, &len) != napi_ok) {
    free(buf);
    throw_last(env);
    return NULL;
  }
  if (strlen(buf) != len) {
    free(buf);
    char message[64];
    snprintf(message, sizeof message, "%s must not contain NUL bytes", what);
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", message);
    return NULL;
  }
  return buf;
}

static bool get_uint32(napi_env env, napi_value value, const char *what, uint32_t *out) {
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_number ||
      napi_get_value_uint32(env, value, out) != napi_ok) {
    char message[64];
    snprintf(message, sizeof message, "%s must be a number", what);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
    return false;
  }
  return true;
}

static bool get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) {
    throw_last(env);
    return false;
  }
  if (argc < want) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "missing arguments");
    return false;
  }
  return true;
}

static napi_value undefined(napi_env env) {
  napi_value result;
  CHECK(env, napi_get_undefined(env, &result));
  return result;
}

static napi_value js_mknod(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  uint32_t mode, major, minor;
  if (!get_args(env, info, 4, argv)) return NULL;
  if (!get_uint32(env, argv[1], "mode", &mode) || !get_uint32(env, argv[2], "major", &major) ||
      !get_uint32(env, argv[3], "minor", &minor))
    return NULL;
  char *path = get_string(env, argv[0], "path");
  if (path == NULL) return NULL;
  int rc = mknod(path, (mode_t)mode, makedev(major, minor));
  if (rc != 0) {
    throw_errno(env, errno, "mknod", path);
    free(path);
    return NULL;
  }
  free(path);
  return undefined(env);
}

static napi_value js_lsetxattr(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv)) return NULL;
  bool is_typedarray = false;
  napi_typedarray_type type;
  void *data = NULL;
  size_t length = 0;
  if (napi_is_typedarray(env, argv[2], &is_typedarray) != napi_ok || !is_typedarray ||
      napi_get_typedarray_info(env, argv[2], &type, &length, &data, NULL, NULL) != napi_ok ||
      type != napi_uint8_array) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "value must be a Buffer or Uint8Array");
    return NULL;
  }
  char *path = get_string(env, argv[0], "path");
  if (path == NULL) return NULL;
  char *name = get_string(env, argv[1], "name");
  if (name == NULL) {
    free(path);
    return NULL;
  }
  /* An empty Uint8Array may have no backing store; the kernel wants a valid pointer only for size > 0. */
  int rc = lsetxattr(path, name, length > 0 ? data : "", length, 0);
  int err = errno;
  free(name);
  if (rc != 0) {
    throw_errno(env, err, "lsetxattr", path);
    free(path);
    return NULL;
  }
  free(path);
  return undefined(env);
}

static napi_value js_lgetxattr(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  char *path = get_string(env, argv[0], "path");
  if (path == NULL) return NULL;
  char *name = get_string(env, argv[1], "name");
  if (name == NULL) {
    free(path);
    return NULL;
  }
  napi_value result = NULL;
  char *value = NULL;
  /* The value may grow between the size query and the read: retry on ERANGE. */
  for (;;) {
    ssize_t size = lgetxattr(path, name, NULL, 0);
    if (size < 0) break;
    char *grown = realloc(value, size > 0 ? (size_t)size : 1);
    if (grown == NULL) {
      errno = ENOMEM;
      size = -1;
      break;
    }
    value = grown;
    ssize_t got = lgetxattr(path, name, value, (size_t)size);
    if (got >= 0) {
      if (napi_create_buffer_copy(env, (size_t)got, value, NULL, &result) != napi_ok) throw_last(env);
      free(value);
      free(name);
      free(path);
      return result;
    }
    if (errno != ERANGE) break;
  }
  int err = errno;
  free(value);
  free(name);
  if (err == ENODATA) {
    free(path);
    return undefined(env);
  }
  throw_errno(env, err, "lgetxattr", path);
  free(path);
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"mknod", NULL, js_mknod, NULL, NULL, NULL, napi_enumerable, NULL},
      {"lsetxattr", NULL, js_lsetxattr, NULL, NULL, NULL, napi_enumerable, NULL},
      {"lgetxattr", NULL, js_lgetxattr, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) {
    throw_last(env);
    return NULL;
  }
  return exports;
}
