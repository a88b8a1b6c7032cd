// The C API's objects and the rules every entry follows (artana.h): errors recorded per
// thread, every exception caught at the boundary, the host owning every handle it gave out.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "artana/artana.h"
#include "artana/host/host.h"
#include "artana/host/model_endpoints.h"
#include "artana/kernel/event_store.h"
#include "artana/kernel/kernel.h"
#include "capi_log.h"

struct artana_options {
  std::string data_dir;  // empty: $ARTANA_HOME, else ./.artana
  artana::kernel::Durability durability = artana::kernel::Durability::kEffects;
  bool enforced = false;
  uint64_t max_memory_mb = 256;
  uint64_t max_instructions = 1'000'000'000;
  std::optional<std::string> stdlib_dir;  // unset: $ARTANA_STDLIB, else the build's
  bool worker = false;                    // threads=worker: the host ticks itself
  // What runs may reach outside (outside_settings.h): run:http, run:exec, model endpoints.
  std::vector<std::string> http_allow;
  std::vector<std::string> secret_env;
  std::string workspace;
  artana::host::ModelEndpoints models;
};

struct artana_script {
  artana_host* host = nullptr;
  std::string path;  // what Host::start takes: a file's path, or mem:<name>
  std::string name;  // from memory: the name; else empty
};

struct artana_run {
  artana_host* host = nullptr;
  artana::kernel::RunId id;
  std::string status;  // what artana_run_status last returned (borrowed by the caller)
};

// Owns the ledger, the kernel, the host and every handle it gave out: a handle is freed by
// its unload/release call or with the host, so an application that forgets one leaks
// nothing past artana_host_destroy.
struct artana_host {
  std::unique_ptr<artana::kernel::EventStore> store;
  std::unique_ptr<artana::kernel::Kernel> kernel;
  std::unique_ptr<artana::host::Host> host;
  std::vector<std::unique_ptr<artana_script>> scripts;
  std::vector<std::unique_ptr<artana_run>> runs;
  // > 0 while an application callback runs (a native call): tick and destroy refuse then.
  int callback_depth = 0;
  // The event callback (artana_host_set_event_callback) and what it has yet to hear.
  unsigned event_mask = 0;
  artana_event_fn event_fn = nullptr;
  void* event_user = nullptr;
  std::vector<std::pair<int, std::string>> pending_events;  // kind, JSON
  // The log function (artana_host_set_log); registered with the log router while the host
  // lives.
  std::shared_ptr<artana::capi::LogTarget> log = std::make_shared<artana::capi::LogTarget>();

  // Every entry taking this host holds `mu` (recursive: a callback may call back in). In
  // worker mode (threads=worker) the worker thread holds it while it ticks, and every
  // callback runs there (capi_worker.cc).
  std::recursive_mutex mu;
  bool worker_mode = false;
  std::thread worker;
  std::thread::id worker_id;
  bool stopping = false;               // the worker leaves at its next turn
  std::condition_variable_any ticked;  // after each of the worker's ticks
};

struct artana_event {
  int kind = 0;
  const std::string* json = nullptr;
};

namespace artana::capi {

// ---- events (capi_events.cc) ----
// What the kernel committed, queued for the callback when its kind is asked for.
void observe_event(artana_host& host, const kernel::Event& event,
                   std::optional<kernel::RunStatus> status);
// A script's print line: queued when ARTANA_EVENT_LOG is asked for, else logged.
void observe_print(artana_host& host, const kernel::RunId& run, std::string_view line);
// Hands the queued events to the callback (the ticking thread, at the end of a tick).
void deliver_events(artana_host& host);

// ---- the host's lock and its worker (capi_worker.cc) ----
// Holds the host's lock for an entry; in worker mode, wakes the worker when it lets go (the
// entry may have given it work: a run started, a script loaded, a resume).
class HostCall {
 public:
  explicit HostCall(artana_host& host) : host_(host), lock_(host.mu), log_(host.log.get()) {}
  ~HostCall();
  HostCall(const HostCall&) = delete;
  HostCall& operator=(const HostCall&) = delete;

 private:
  artana_host& host_;
  std::unique_lock<std::recursive_mutex> lock_;
  LogScope log_;  // what is logged meanwhile is about this host
};
// Whether this thread is inside one of the host's callbacks (where tick, run_until_idle and
// destroy are refused).
bool in_callback(const artana_host& host);
// Worker mode: starts the thread that ticks the host; stops and joins it.
void start_worker(artana_host& host);
void stop_worker(artana_host& host);
// Worker mode's artana_host_run_until_idle: waits for the worker to find nothing to do.
artana_status wait_until_idle(const char* function, artana_host& host, int64_t timeout_ms);

// Records "function: message" as this thread's last error; returns `code`.
artana_status fail(const char* function, artana_status code, std::string_view message);
// The same for a Status, its code chosen from its kind and code.
artana_status fail(const char* function, const Status& status);
// A NULL argument: ARTANA_E_INVALID_ARGUMENT naming it.
artana_status null_argument(const char* function, const char* argument);
// The call succeeded: the last error is empty.
artana_status ok();
// The artana_status a failed Status maps to.
artana_status code_for(const Status& status);

// Runs `body` (which returns artana_status), catching every exception: nothing unwinds into
// C. A failure of the library itself is ARTANA_E_INTERNAL.
template <typename Body>
artana_status guarded(const char* function, Body&& body) noexcept {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return fail(function, ARTANA_E_INTERNAL, "out of memory");
  } catch (const std::exception& e) {
    return fail(function, ARTANA_E_INTERNAL, e.what());
  } catch (...) {
    return fail(function, ARTANA_E_INTERNAL, "an unknown exception");
  }
}

// Hands `value` to the caller as canonical JSON text in memory it frees with artana_free
// (NUL-terminated; its length in `*len` unless `len` is NULL).
artana_status hand_out_json(const char* function, const kernel::Json& value, char** json,
                            size_t* len);

}  // namespace artana::capi
