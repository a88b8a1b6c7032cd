// The application's hooks into a host: its clock, its log and its modules (artana.h, "the
// library's log", "the application's modules", "the host's clock").
#include <functional>
#include <optional>
#include <string>

#include "capi_internal.h"

using artana::Result;
using artana::Status;
using namespace artana::capi;

artana_status artana_host_set_clock(artana_host* host, artana_clock_fn fn, void* user) {
  constexpr const char* kFunction = "artana_host_set_clock";
  return guarded(kFunction, [&] {
    if (host == nullptr) return null_argument(kFunction, "host");
    HostCall call(*host);
    std::function<int64_t()> clock;
    if (fn != nullptr) clock = [fn, user] { return fn(user); };
    Status set = host->host->set_clock(std::move(clock));
    return set.ok() ? ok() : fail(kFunction, ARTANA_E_STATE, set.message());
  });
}

artana_status artana_host_set_log(artana_host* host, int min_level, artana_log_fn fn, void* user) {
  constexpr const char* kFunction = "artana_host_set_log";
  return guarded(kFunction, [&] {
    if (host == nullptr) return null_argument(kFunction, "host");
    if (min_level < ARTANA_LOG_DEBUG || min_level > ARTANA_LOG_ERROR) {
      return fail(kFunction, ARTANA_E_INVALID_ARGUMENT,
                  "min_level " + std::to_string(min_level) +
                      " is not an ARTANA_LOG_* level (1 debug .. 4 error)");
    }
    HostCall call(*host);
    std::lock_guard<std::recursive_mutex> lock(host->log->mu);
    host->log->fn = fn;
    host->log->user = user;
    host->log->min_level = min_level;
    return ok();
  });
}

artana_status artana_host_set_module_loader(artana_host* host, artana_module_fn fn, void* user) {
  constexpr const char* kFunction = "artana_host_set_module_loader";
  return guarded(kFunction, [&] {
    if (host == nullptr) return null_argument(kFunction, "host");
    HostCall call(*host);
    artana::host::ModuleLoader loader;
    if (fn != nullptr) {
      loader = [host, fn, user](std::string_view name) -> Result<std::optional<std::string>> {
        const std::string module(name);
        const char* src = nullptr;
        size_t len = 0;
        ++host->callback_depth;
        const int found = fn(user, module.c_str(), &src, &len);
        --host->callback_depth;
        if (found == 0) return std::optional<std::string>();
        if (found < 0) {
          return Status::internal("it returned {}{}{}", found, src != nullptr ? ": " : "",
                                  src != nullptr ? src : "");
        }
        if (src == nullptr && len > 0)
          return Status::internal("it returned 1 with a NULL source of {} bytes", len);
        return std::optional<std::string>(std::string(src != nullptr ? src : "", len));
      };
    }
    host->host->set_module_loader(std::move(loader));
    return ok();
  });
}
