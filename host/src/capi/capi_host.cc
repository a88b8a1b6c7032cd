// Options, the host and its tick (artana.h, "options", "the host").
#include <chrono>
#include <cstdlib>
#include <functional>
#include <limits>
#include <string>

#include "artana/host/outside_settings.h"
#include "artana/host/run_request.h"
#include "artana/kernel/lmdb_event_store.h"
#include "capi_internal.h"

using artana::Result;
using artana::Status;
using namespace artana::capi;

namespace {

Result<uint64_t> positive_integer(const char* key, const std::string& value, uint64_t max) {
  if (value.empty() || value.find_first_not_of("0123456789") != std::string::npos ||
      value.size() > 19) {
    return Status::invalid_argument("option '{}': '{}' is not a positive integer", key, value);
  }
  const uint64_t n = std::stoull(value);
  if (n == 0 || n > max) {
    return Status::invalid_argument("option '{}': {} is out of range 1..{}", key, n, max);
  }
  return n;
}

Status set_option(artana_options& options, const std::string& key, const std::string& value) {
  using artana::kernel::Durability;
  if (key == "data_dir") {
    if (value.empty()) return Status::invalid_argument("option 'data_dir': empty path");
    options.data_dir = value;
  } else if (key == "durability") {
    if (value == "full") {
      options.durability = Durability::kFull;
    } else if (value == "effects") {
      options.durability = Durability::kEffects;
    } else if (value == "none") {
      options.durability = Durability::kNone;
    } else {
      return Status::invalid_argument("option 'durability': '{}' is not full, effects or none",
                                      value);
    }
  } else if (key == "policy") {
    if (value != "permissive" && value != "enforced") {
      return Status::invalid_argument("option 'policy': '{}' is not permissive or enforced", value);
    }
    options.enforced = value == "enforced";
  } else if (key == "max_memory_mb") {
    ARTANA_ASSIGN_OR_RETURN(options.max_memory_mb,
                            positive_integer("max_memory_mb", value, 1 << 20));
  } else if (key == "max_instructions") {
    ARTANA_ASSIGN_OR_RETURN(options.max_instructions,
                            positive_integer("max_instructions", value, uint64_t{1} << 62));
  } else if (key == "threads") {
    if (value != "none" && value != "worker") {
      return Status::invalid_argument(
          "option 'threads': '{}' is not none (the application ticks) or worker (a thread of "
          "the host's ticks it)",
          value);
    }
    options.worker = value == "worker";
  } else if (key == "stdlib_dir") {
    options.stdlib_dir = value;
  } else if (key == "http_allow") {
    ARTANA_ASSIGN_OR_RETURN(options.http_allow,
                            artana::host::http_allow_setting("option 'http_allow'", value));
  } else if (key == "secret_env") {
    ARTANA_ASSIGN_OR_RETURN(options.secret_env,
                            artana::host::secret_env_setting("option 'secret_env'", value));
  } else if (key == "workspace") {
    ARTANA_ASSIGN_OR_RETURN(options.workspace,
                            artana::host::workspace_setting("option 'workspace'", value));
  } else if (key == "models") {
    ARTANA_ASSIGN_OR_RETURN(options.models,
                            artana::host::endpoints_from_file("option 'models'", value));
  } else {
    return Status::invalid_argument(
        "unknown option '{}' (data_dir, durability, policy, max_memory_mb, max_instructions, "
        "threads, stdlib_dir, http_allow, secret_env, workspace, models)",
        key);
  }
  return Status();
}

std::string data_dir_of(const artana_options& options) {
  if (!options.data_dir.empty()) return options.data_dir;
  if (const char* home = std::getenv("ARTANA_HOME"); home != nullptr && *home != '\0') return home;
  return "./.artana";
}

}  // namespace

extern "C" {

artana_status artana_options_create(artana_options** out) {
  return guarded("artana_options_create", [&] {
    if (out == nullptr) return null_argument("artana_options_create", "out");
    *out = new artana_options();
    return ok();
  });
}

void artana_options_destroy(artana_options* options) { delete options; }

artana_status artana_options_set(artana_options* options, const char* key, const char* value) {
  constexpr const char* kFunction = "artana_options_set";
  return guarded(kFunction, [&] {
    if (options == nullptr) return null_argument(kFunction, "options");
    if (key == nullptr) return null_argument(kFunction, "key");
    if (value == nullptr) return null_argument(kFunction, "value");
    Status set = set_option(*options, key, value);
    return set.ok() ? ok() : fail(kFunction, set);
  });
}

artana_status artana_host_create(int abi_version, const artana_options* options,
                                 artana_host** out) {
  constexpr const char* kFunction = "artana_host_create";
  return guarded(kFunction, [&] {
    if (out == nullptr) return null_argument(kFunction, "out");
    *out = nullptr;
    if (abi_version != ARTANA_ABI_VERSION) {
      return fail(kFunction, ARTANA_E_ABI,
                  "the caller was built for ABI " + std::to_string(abi_version) +
                      ", this library is ABI " + std::to_string(ARTANA_ABI_VERSION));
    }
    const artana_options defaults;
    const artana_options& o = options != nullptr ? *options : defaults;
    auto made = std::make_unique<artana_host>();
    route_logs(made->log);
    const LogScope log(made->log.get());
    artana::kernel::LmdbStoreOptions store_options;
    store_options.durability = o.durability;
    auto store = artana::kernel::open_lmdb_store(data_dir_of(o), store_options);
    if (!store.ok()) return fail(kFunction, store.status());
    made->store = std::move(*store);
    artana::kernel::KernelOptions kernel_options = artana::host::policy_kernel_options(o.enforced);
    artana_host* raw = made.get();  // owns the kernel: outlives every call of these
    kernel_options.on_event = [raw](const artana::kernel::Event& event,
                                    std::optional<artana::kernel::RunStatus> status) {
      observe_event(*raw, event, status);
    };
    auto kernel = artana::kernel::Kernel::open(*made->store, std::move(kernel_options));
    if (!kernel.ok()) return fail(kFunction, kernel.status());
    made->kernel = std::move(*kernel);
    artana::host::HostOptions host_options;
    host_options.limits.max_memory_bytes = o.max_memory_mb << 20;
    host_options.limits.max_instructions = o.max_instructions;
    host_options.stdlib_dir = o.stdlib_dir.value_or(artana::host::default_stdlib_dir());
    host_options.http_allow = o.http_allow;
    host_options.secret_env = o.secret_env;
    host_options.workspace = o.workspace;
    host_options.models = o.models;
    host_options.print_sink = [raw](const artana::kernel::RunId& run, std::string_view line) {
      observe_print(*raw, run, line);
    };
    made->host = std::make_unique<artana::host::Host>(*made->kernel, std::move(host_options));
    if (o.worker) start_worker(*made);
    *out = made.release();
    return ok();
  });
}

void artana_host_destroy(artana_host* host) {
  if (host == nullptr) return;
  if (in_callback(*host)) {
    fail("artana_host_destroy", ARTANA_E_STATE,
         "called from the host's own callback: the host is not destroyed");
    return;
  }
  try {
    stop_worker(*host);  // worker mode: no tick from here on
    const LogScope log(host->log.get());
    // The host first (it stops its runs), then what it runs on.
    host->host.reset();
    host->kernel.reset();
    host->store.reset();
  } catch (...) {
    // Nothing may unwind into C; what could not be closed is closed by the process's end.
  }
  try {
    unroute_logs(host->log);
  } catch (...) {
  }
  delete host;
}

artana_status artana_host_tick(artana_host* host, int64_t budget_us, artana_tick_stats* stats) {
  constexpr const char* kFunction = "artana_host_tick";
  return guarded(kFunction, [&] {
    if (host == nullptr) return null_argument(kFunction, "host");
    if (host->worker_mode)
      return fail(kFunction, ARTANA_E_STATE, "the host ticks itself (threads=worker)");
    if (in_callback(*host))
      return fail(kFunction, ARTANA_E_STATE, "called from the host's own callback");
    if (budget_us < 0) return fail(kFunction, ARTANA_E_INVALID_ARGUMENT, "budget_us is negative");
    HostCall call(*host);
    const artana::host::TickResult tick = host->host->tick(std::chrono::microseconds(budget_us));
    deliver_events(*host);
    if (stats != nullptr) {
      stats->resumed = tick.resumed;
      stats->ready = tick.ready > 0 ? tick.ready : (tick.more_ready ? 1 : 0);
      stats->next_wakeup_us = tick.next_timer_us.value_or(-1);
    }
    return ok();
  });
}

artana_status artana_host_run_until_idle(artana_host* host, int64_t timeout_ms) {
  constexpr const char* kFunction = "artana_host_run_until_idle";
  return guarded(kFunction, [&] {
    if (host == nullptr) return null_argument(kFunction, "host");
    if (in_callback(*host))
      return fail(kFunction, ARTANA_E_STATE, "called from the host's own callback");
    if (host->worker_mode) return wait_until_idle(kFunction, *host, timeout_ms);
    HostCall call(*host);
    using Clock = std::chrono::steady_clock;
    const auto deadline = timeout_ms < 0 ? Clock::time_point::max()
                                         : Clock::now() + std::chrono::milliseconds(timeout_ms);
    artana::host::Host& h = *host->host;
    for (;;) {
      h.tick(std::chrono::milliseconds(20));
      deliver_events(*host);
      if (h.idle() && h.in_flight() == 0) return ok();
      const auto now = Clock::now();
      if (now >= deadline) {
        return fail(kFunction, ARTANA_E_STATE,
                    "still busy after " + std::to_string(timeout_ms) + " ms");
      }
      // Waiting on a call in flight: sleep until it completes (or the deadline).
      if (h.idle()) {
        const auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - now);
        h.wait_for_work(std::min<std::chrono::microseconds>(left, std::chrono::milliseconds(250)));
      }
    }
  });
}

}  // extern "C"
