// artana/cxx/callbacks.hpp: part of artana.hpp (include that): what a native tool or port is
// asked (Call), its answer (Completion), the C callbacks that carry the application's lambdas
// (nothing thrown reaches C), and the handles of a host's scripts and runs.
#ifndef ARTANA_CXX_CALLBACKS_HPP
#define ARTANA_CXX_CALLBACKS_HPP

#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "artana/artana.h"
#include "artana/cxx/result.hpp"

namespace artana {
inline namespace cxx_v1 {

// What a native tool or port is asked (borrowed for the call).
struct Call {
  std::string_view json;  // a tool's arguments, a port's request
  std::string_view run_id, tenant, step_key, idempotency_key;
};

namespace detail {

// One native call's completion, shared by every Completion that refers to it. Whoever lets go
// of it last completes it if nobody did: a call is never left hanging by a dropped handle.
struct CompletionState {
  explicit CompletionState(artana_completion issued) : token(issued) {}
  CompletionState(const CompletionState&) = delete;
  CompletionState& operator=(const CompletionState&) = delete;
  ~CompletionState() {
    if (!done) artana_complete_error(token, ARTANA_FAIL_PERMANENT, unfinished.c_str());
  }
  artana_completion token;
  bool done = false;
  std::string unfinished = "the application dropped the call unfinished";
};

}  // namespace detail

// The answer to one native call: give it once, now or later, from any thread. Move-only; one
// dropped unfinished completes the call with a permanent error.
class Completion {
 public:
  Completion() = default;
  explicit Completion(std::shared_ptr<detail::CompletionState> state) : state_(std::move(state)) {}
  Completion(Completion&&) noexcept = default;
  Completion& operator=(Completion&&) noexcept = default;
  Completion(const Completion&) = delete;
  Completion& operator=(const Completion&) = delete;

  artana_completion token() const { return state_ ? state_->token : 0; }
  // The result as JSON (a tool's result; a port's {"output": ..., "usage": ..., "tool_calls"}).
  Result<void> ok(std::string_view json) {
    if (!state_) return Error{ARTANA_E_STATE, "the completion is empty (moved from)"};
    const artana_status code = artana_complete_ok(state_->token, json.data(), json.size());
    if (code == ARTANA_OK || code == ARTANA_E_STATE || code == ARTANA_E_CANCELLED)
      state_->done = true;
    return detail::check(code);
  }
  Result<void> error(artana_failure failure, std::string_view message) {
    if (!state_) return Error{ARTANA_E_STATE, "the completion is empty (moved from)"};
    const artana_status code =
        artana_complete_error(state_->token, failure, detail::c_string(message).c_str());
    if (code == ARTANA_OK || code == ARTANA_E_STATE || code == ARTANA_E_CANCELLED)
      state_->done = true;
    return detail::check(code);
  }

 private:
  std::shared_ptr<detail::CompletionState> state_;
};

// A native tool's or port's function: answer through the Completion (keep it to answer
// later). An exception it throws completes the call with a permanent error carrying what().
using Handler = std::function<void(const Call& call, Completion done)>;

// How one run's replay under reloaded code went (artana_reload_fn): borrowed for the call.
struct ReloadReport {
  std::string_view run_id;
  int outcome;                   // ARTANA_RELOAD_*
  std::string_view detail_json;  // {} when continued; see artana_reload_fn
};
using ReloadFn = std::function<void(const ReloadReport& report)>;

namespace detail {

inline int64_t call_clock(void* user) {
  try {
    return (*static_cast<std::function<int64_t()>*>(user))();
  } catch (...) {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
}

// The application's log function and module loader, as Host::log and Host::modules take
// them.
using LogFn = std::function<void(int level, std::string_view message)>;
using ModuleFn = std::function<std::optional<std::string>(std::string_view name)>;
struct ModuleLoader {
  ModuleFn fn;
  std::string source;  // the last source handed out: the library copies it before asking again
};

inline void call_reload(void* user, const char* run_id, int outcome, const char* detail_json) {
  try {
    (*static_cast<ReloadFn*>(user))(ReloadReport{run_id, outcome, detail_json});
  } catch (...) {
    // The report is the application's to lose; nothing unwinds into C.
  }
}

inline void call_log(void* user, int level, const char* message) {
  try {
    (*static_cast<LogFn*>(user))(level, message);
  } catch (...) {
    // A log line is not worth a crash, and nothing unwinds into C.
  }
}

inline int call_module_loader(void* user, const char* name, const char** src, size_t* len) {
  auto& loader = *static_cast<ModuleLoader*>(user);
  try {
    std::optional<std::string> found = loader.fn(name);
    if (!found) return 0;
    loader.source = std::move(*found);
  } catch (const std::exception& e) {
    loader.source = std::string("the application's module loader threw: ") + e.what();
    *src = loader.source.c_str();
    return -1;
  } catch (...) {
    loader.source = "the application's module loader threw";
    *src = loader.source.c_str();
    return -1;
  }
  *src = loader.source.data();
  *len = loader.source.size();
  return 1;
}

inline void call_handler(void* user, const artana_call* call, artana_completion token) {
  auto state = std::make_shared<CompletionState>(token);
  try {
    const Call c{std::string_view(call->json, call->len), call->run_id, call->tenant,
                 call->step_key, call->idempotency_key};
    (*static_cast<Handler*>(user))(c, Completion(state));
  } catch (const std::exception& e) {
    state->unfinished = std::string("the application's function threw: ") + e.what();
  } catch (...) {
    state->unfinished = "the application's function threw";
  }
}

// A C handle of the host, freed by `Release` when the wrapper goes — unless its host went
// first (artana_host_destroy freed it): then the wrapper is empty, not dangling.
template <typename T, void (*Release)(T*)>
class HostHandle {
 public:
  HostHandle() = default;
  HostHandle(T* handle, HostAlive host) : handle_(handle), host_(std::move(host)) {}
  HostHandle(HostHandle&& other) noexcept
      : handle_(std::exchange(other.handle_, nullptr)), host_(std::move(other.host_)) {}
  HostHandle& operator=(HostHandle&& other) noexcept {
    if (this != &other) {
      reset();
      handle_ = std::exchange(other.handle_, nullptr);
      host_ = std::move(other.host_);
    }
    return *this;
  }
  HostHandle(const HostHandle&) = delete;
  HostHandle& operator=(const HostHandle&) = delete;
  ~HostHandle() { reset(); }

  // The C handle; NULL once freed or its host destroyed.
  T* get() const { return alive(host_) ? handle_ : nullptr; }
  void reset() {
    T* handle = std::exchange(handle_, nullptr);
    if (handle != nullptr && alive(host_)) Release(handle);
    host_.reset();
  }

 private:
  T* handle_ = nullptr;
  HostAlive host_;
};

inline void unload_script(artana_script* script) { artana_script_unload(script); }

}  // namespace detail

}  // namespace cxx_v1
}  // namespace artana

#endif  // ARTANA_CXX_CALLBACKS_HPP
