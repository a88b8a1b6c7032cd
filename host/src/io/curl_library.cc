#include "curl_library.h"

#include <dlfcn.h>

#include <memory>

namespace artana::io {
namespace {

// Finds `name` in `handle` and stores it in `slot` (any function pointer type).
template <typename Fn>
bool bind(void* handle, const char* name, Fn& slot, std::string& missing) {
  void* found = dlsym(handle, name);
  if (found == nullptr) {
    missing += missing.empty() ? name : std::string(", ") + name;
    return false;
  }
  slot = reinterpret_cast<Fn>(found);
  return true;
}

Result<std::unique_ptr<CurlLibrary>> load() {
  // The soname first (the runtime package, libcurl4); the unversioned name only exists with
  // the -dev package.
  const char* const kNames[] = {"libcurl.so.4", "libcurl.so"};
  void* handle = nullptr;
  std::string tried;
  const char* loaded = nullptr;
  for (const char* name : kNames) {
    handle = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (handle != nullptr) {
      loaded = name;
      break;
    }
    const char* why = dlerror();
    tried += fmt::format("{}{}", tried.empty() ? "" : "; ", why != nullptr ? why : name);
  }
  if (handle == nullptr) {
    return Status::failed_precondition(
        "HTTP needs libcurl, which could not be loaded ({}); install it: apt-get install "
        "libcurl4",
        tried);
  }
  // Never dlclose'd: libcurl keeps global state (TLS, its thread-safe init) for the process.
  auto lib = std::make_unique<CurlLibrary>();
  CURLcode (*global_init)(long) = nullptr;
  curl_version_info_data* (*version_info)(CURLversion) = nullptr;
  std::string missing;
  bool ok = bind(handle, "curl_global_init", global_init, missing);
  ok = bind(handle, "curl_version_info", version_info, missing) && ok;
  ok = bind(handle, "curl_easy_init", lib->easy_init, missing) && ok;
  ok = bind(handle, "curl_easy_setopt", lib->easy_setopt, missing) && ok;
  ok = bind(handle, "curl_easy_getinfo", lib->easy_getinfo, missing) && ok;
  ok = bind(handle, "curl_easy_perform", lib->easy_perform, missing) && ok;
  ok = bind(handle, "curl_easy_cleanup", lib->easy_cleanup, missing) && ok;
  ok = bind(handle, "curl_easy_strerror", lib->easy_strerror, missing) && ok;
  ok = bind(handle, "curl_multi_init", lib->multi_init, missing) && ok;
  ok = bind(handle, "curl_multi_setopt", lib->multi_setopt, missing) && ok;
  ok = bind(handle, "curl_multi_add_handle", lib->multi_add_handle, missing) && ok;
  ok = bind(handle, "curl_multi_remove_handle", lib->multi_remove_handle, missing) && ok;
  ok = bind(handle, "curl_multi_perform", lib->multi_perform, missing) && ok;
  ok = bind(handle, "curl_multi_poll", lib->multi_poll, missing) && ok;
  ok = bind(handle, "curl_multi_wakeup", lib->multi_wakeup, missing) && ok;
  ok = bind(handle, "curl_multi_info_read", lib->multi_info_read, missing) && ok;
  ok = bind(handle, "curl_multi_cleanup", lib->multi_cleanup, missing) && ok;
  ok = bind(handle, "curl_multi_strerror", lib->multi_strerror, missing) && ok;
  ok = bind(handle, "curl_slist_append", lib->slist_append, missing) && ok;
  ok = bind(handle, "curl_slist_free_all", lib->slist_free_all, missing) && ok;
  if (!ok) {
    // curl_multi_poll and curl_multi_wakeup arrived in 7.66 and 7.68.
    return Status::failed_precondition(
        "{} lacks {}: HTTP needs libcurl 7.68 or newer; upgrade libcurl4", loaded, missing);
  }
  const curl_version_info_data* info = version_info(CURLVERSION_NOW);
  lib->version = info != nullptr && info->version != nullptr ? info->version : "?";
  lib->path = loaded;
  // Thread-safe since 7.84 (CURL_VERSION_THREADSAFE); get() runs it once under the static
  // initialiser's lock either way.
  if (const CURLcode rc = global_init(CURL_GLOBAL_DEFAULT); rc != CURLE_OK) {
    return Status::failed_precondition("libcurl {} failed to initialise: {}", lib->version,
                                       lib->easy_strerror(rc));
  }
  return lib;
}

}  // namespace

Result<const CurlLibrary*> CurlLibrary::get() {
  // A function-local static: loaded once, under the compiler's initialisation lock.
  static const Result<std::unique_ptr<CurlLibrary>> loaded = load();
  if (!loaded.ok()) return loaded.status();
  return static_cast<const CurlLibrary*>(loaded.value().get());
}

}  // namespace artana::io
