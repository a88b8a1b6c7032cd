// artana.hpp: the C++ API of Artana Host, header-only over the C API (artana.h). RAII handles
// (move-only), std::string_view in, artana::Result<T> out, lambdas as native tools and ports.
// Nothing here throws, and nothing throws into C: a lambda's exception becomes a permanent
// error of its call.
//
//   artana::Host host = artana::Host::create({{"data_dir", "./.artana"}}).value();
//   artana::Script script = host.load_memory("hello", "return function(run) return 1 end").value();
//   artana::Run run = host.start(script, "{}").value();
//   host.run_until_idle(10000);
//   std::string output = run.output().value();
//
// The types live in an inline namespace: a program that also includes the host's internal
// C++ headers (which have an artana::Result of their own) links without a clash.
#ifndef ARTANA_ARTANA_HPP
#define ARTANA_ARTANA_HPP

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "artana/artana.h"

namespace artana {
inline namespace cxx_v1 {

// What a failed call returned: its code and artana_last_error()'s text.
struct Error {
  artana_status code = ARTANA_E_INTERNAL;
  std::string message;
};

// A value or the Error of the call that should have made it.
template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}      // NOLINT: a value converts
  Result(Error error) : error_(std::move(error)) {}  // NOLINT: so does an error
  bool ok() const { return value_.has_value(); }
  explicit operator bool() const { return ok(); }
  // The value; only when ok().
  T& value() & { return *value_; }
  T&& value() && { return std::move(*value_); }
  const T& value() const& { return *value_; }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }
  // The error; meaningful only when !ok().
  const Error& error() const { return error_; }

 private:
  std::optional<T> value_;
  Error error_;
};

// The Result of a call that makes no value.
template <>
class Result<void> {
 public:
  Result() = default;
  Result(Error error) : failed_(true), error_(std::move(error)) {}  // NOLINT
  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return error_; }

 private:
  bool failed_ = false;
  Error error_;
};

namespace detail {

inline Error last_error(artana_status code) { return Error{code, artana_last_error()}; }

inline Result<void> check(artana_status code) {
  if (code == ARTANA_OK) return {};
  return last_error(code);
}

// A string the library handed over (artana_free).
inline Result<std::string> take(artana_status code, char* text, size_t len) {
  if (code != ARTANA_OK) return last_error(code);
  std::string out(text, len);
  artana_free(text);
  return out;
}

// A NUL-terminated copy of a view, for the C calls that take C strings.
inline std::string c_string(std::string_view text) { return std::string(text); }

// Whether the host a handle came from still exists: artana_host_destroy frees every handle
// of the host, so a Script or Run outliving its Host must not touch its own.
using HostAlive = std::shared_ptr<const bool>;
inline bool alive(const HostAlive& host) { return host != nullptr && *host; }

}  // namespace detail

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

class Host;

// A loaded script. Unloaded when destroyed: its runs stop executing here (losing no work)
// until a script of the same name is loaded again (artana_script_unload).
class Script : public detail::HostHandle<artana_script, detail::unload_script> {
 public:
  using HostHandle::HostHandle;
};

// A handle on a run (not the run: releasing it stops nothing).
class Run : public detail::HostHandle<artana_run, artana_run_release> {
 public:
  using HostHandle::HostHandle;

  std::string id() const { return artana_run_id(get()); }
  Result<std::string> status() const {
    const char* status = nullptr;
    const artana_status code = artana_run_status(get(), &status);
    if (code != ARTANA_OK) return detail::last_error(code);
    return std::string(status);
  }
  Result<std::string> output() const {
    char* json = nullptr;
    size_t len = 0;
    const artana_status code = artana_run_output(get(), &json, &len);
    return detail::take(code, json, len);
  }
  Result<std::string> error() const {
    char* json = nullptr;
    size_t len = 0;
    const artana_status code = artana_run_error(get(), &json, &len);
    return detail::take(code, json, len);
  }
  Result<void> resume(std::string_view input_json = "null") const {
    return detail::check(artana_run_resume(get(), detail::c_string(input_json).c_str()));
  }
  Result<void> cancel(std::string_view reason = "cancelled") const {
    return detail::check(artana_run_cancel(get(), detail::c_string(reason).c_str()));
  }
};

// A ledger and the runs on it. Destroying it stops every run where it stands and frees its
// scripts' and runs' handles: a Script or Run that outlives it becomes empty.
class Host {
 public:
  using Option = std::pair<std::string_view, std::string_view>;

  // A host on the options given (artana_options_set keys).
  static Result<Host> create(std::initializer_list<Option> options = {}) {
    artana_options* made = nullptr;
    if (artana_status code = artana_options_create(&made); code != ARTANA_OK)
      return detail::last_error(code);
    for (const Option& option : options) {
      const artana_status code = artana_options_set(made, detail::c_string(option.first).c_str(),
                                                    detail::c_string(option.second).c_str());
      if (code != ARTANA_OK) {
        Error error = detail::last_error(code);
        artana_options_destroy(made);
        return error;
      }
    }
    artana_host* host = nullptr;
    const artana_status code = artana_host_create(ARTANA_ABI_VERSION, made, &host);
    artana_options_destroy(made);
    if (code != ARTANA_OK) return detail::last_error(code);
    return Host(host);
  }

  Host(Host&& other) noexcept
      : host_(std::exchange(other.host_, nullptr)),
        alive_(std::move(other.alive_)),
        functions_(std::move(other.functions_)) {}
  Host& operator=(Host&& other) noexcept {
    if (this != &other) {
      reset();
      host_ = std::exchange(other.host_, nullptr);
      alive_ = std::move(other.alive_);
      functions_ = std::move(other.functions_);
    }
    return *this;
  }
  Host(const Host&) = delete;
  Host& operator=(const Host&) = delete;
  ~Host() { reset(); }

  artana_host* get() const { return host_; }
  void reset() {
    if (host_ == nullptr) return;
    *alive_ = false;
    artana_host_destroy(std::exchange(host_, nullptr));
    functions_ = Functions();  // after the host: it calls none of them any more
  }

  Result<Script> load_memory(std::string_view name, std::string_view source) {
    artana_script* script = nullptr;
    const artana_status code = artana_script_load_memory(host_, detail::c_string(name).c_str(),
                                                         source.data(), source.size(), &script);
    if (code != ARTANA_OK) return detail::last_error(code);
    return Script(script, alive_);
  }
  Result<Script> load_file(std::string_view path) {
    artana_script* script = nullptr;
    const artana_status code =
        artana_script_load_file(host_, detail::c_string(path).c_str(), &script);
    if (code != ARTANA_OK) return detail::last_error(code);
    return Script(script, alive_);
  }
  // Starts a run (artana_run_start: input and options as JSON text).
  Result<Run> start(const Script& script, std::string_view input_json = "{}",
                    std::string_view options_json = "{}") {
    artana_run* run = nullptr;
    const artana_status code =
        artana_run_start(host_, script.get(), detail::c_string(input_json).c_str(),
                         detail::c_string(options_json).c_str(), &run);
    if (code != ARTANA_OK) return detail::last_error(code);
    return Run(run, alive_);
  }
  Result<Run> open(std::string_view run_id) {
    artana_run* run = nullptr;
    const artana_status code = artana_run_open(host_, detail::c_string(run_id).c_str(), &run);
    if (code != ARTANA_OK) return detail::last_error(code);
    return Run(run, alive_);
  }
  // A native tool (artana_tool_register: spec_json {name, description, args, version,
  // capability, side_effect}) answered by `fn`.
  Result<void> tool(std::string_view spec_json, Handler fn) {
    auto& handlers = functions_.handlers;
    handlers.push_back(std::make_unique<Handler>(std::move(fn)));
    return detail::check(artana_tool_register(host_, detail::c_string(spec_json).c_str(),
                                              detail::call_handler, handlers.back().get()));
  }
  // A model port for a model name or a prefix ending in '*' (artana_model_port_register).
  Result<void> port(std::string_view name_or_prefix, Handler fn) {
    auto& handlers = functions_.handlers;
    handlers.push_back(std::make_unique<Handler>(std::move(fn)));
    return detail::check(artana_model_port_register(host_, detail::c_string(name_or_prefix).c_str(),
                                                    detail::call_handler, handlers.back().get()));
  }

  // The application's time, µs since the epoch (artana_host_set_clock): what run:now()
  // records and run:sleep() waits on; before the first run. An empty function: the system
  // clock. A throwing one reads the system clock for that call (nothing unwinds into C).
  Result<void> clock(std::function<int64_t()> fn) {
    if (!fn) return detail::check(artana_host_set_clock(host_, nullptr, nullptr));
    auto owned = std::make_unique<std::function<int64_t()>>(std::move(fn));
    const artana_status code = artana_host_set_clock(host_, detail::call_clock, owned.get());
    if (code != ARTANA_OK) return detail::last_error(code);
    functions_.clock = std::move(owned);
    return {};
  }

  // The library's log lines about this host at `min_level` (ARTANA_LOG_*) or above
  // (artana_host_set_log), on the thread that logged them. An empty function: stderr. An
  // exception it throws is dropped with its line.
  Result<void> log(int min_level, detail::LogFn fn) {
    if (!fn) {
      const artana_status code = artana_host_set_log(host_, min_level, nullptr, nullptr);
      if (code == ARTANA_OK) functions_.log.reset();
      return detail::check(code);
    }
    auto owned = std::make_unique<detail::LogFn>(std::move(fn));
    const artana_status code = artana_host_set_log(host_, min_level, detail::call_log, owned.get());
    if (code != ARTANA_OK) return detail::last_error(code);
    functions_.log = std::move(owned);  // the old one is called no more: set_log waited for it
    return {};
  }

  // The application's modules (artana_host_set_module_loader): the source of a module, or
  // nullopt when it has none by that name; an exception fails the require with its what().
  Result<void> modules(detail::ModuleFn fn) {
    if (!fn) {
      const artana_status code = artana_host_set_module_loader(host_, nullptr, nullptr);
      if (code == ARTANA_OK) functions_.modules.reset();
      return detail::check(code);
    }
    auto owned = std::make_unique<detail::ModuleLoader>(detail::ModuleLoader{std::move(fn), {}});
    const artana_status code =
        artana_host_set_module_loader(host_, detail::call_module_loader, owned.get());
    if (code != ARTANA_OK) return detail::last_error(code);
    functions_.modules = std::move(owned);
    return {};
  }

  Result<artana_tick_stats> tick(int64_t budget_us) {
    artana_tick_stats stats{};
    const artana_status code = artana_host_tick(host_, budget_us, &stats);
    if (code != ARTANA_OK) return detail::last_error(code);
    return stats;
  }
  Result<void> run_until_idle(int64_t timeout_ms) {
    return detail::check(artana_host_run_until_idle(host_, timeout_ms));
  }

 private:
  explicit Host(artana_host* host) : host_(host), alive_(std::make_shared<bool>(true)) {}
  artana_host* host_ = nullptr;
  std::shared_ptr<bool> alive_;
  // What the C library calls back: owned here, at fixed addresses, until the host is gone.
  struct Functions {
    std::vector<std::unique_ptr<Handler>> handlers;  // the tools' and ports'
    std::unique_ptr<std::function<int64_t()>> clock;
    std::unique_ptr<detail::LogFn> log;
    std::unique_ptr<detail::ModuleLoader> modules;
  };
  Functions functions_;
};

}  // namespace cxx_v1
}  // namespace artana

#endif  // ARTANA_ARTANA_HPP
