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
// C++ headers (which have an artana::Result of their own) links without a clash. Its parts:
// artana/cxx/result.hpp (Result, Error), artana/cxx/callbacks.hpp (Call, Completion, the
// callbacks behind lambdas, handles); here the Host, Script and Run.
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
#include "artana/cxx/callbacks.hpp"
#include "artana/cxx/result.hpp"

namespace artana {
inline namespace cxx_v1 {

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
  // Hot reload (artana_script_reload): `source` compiled first (an error changes nothing),
  // then every run of `script` replays under it on the next ticks, and `fn` (may be empty)
  // hears once per run how that went, on the ticking thread; an exception it throws is
  // dropped. The function is kept until the host goes: runs may be told on later ticks.
  Result<void> reload(const Script& script, std::string_view source, ReloadFn fn = {}) {
    auto owned = fn ? std::make_unique<ReloadFn>(std::move(fn)) : nullptr;
    const artana_status code =
        artana_script_reload(script.get(), source.data(), source.size(),
                             owned ? detail::call_reload : nullptr, owned.get());
    return keep_listener(code, std::move(owned));
  }
  // The same for a script loaded from a file (artana_script_reload_file): read again.
  Result<void> reload_file(const Script& script, ReloadFn fn = {}) {
    auto owned = fn ? std::make_unique<ReloadFn>(std::move(fn)) : nullptr;
    const artana_status code =
        artana_script_reload_file(script.get(), owned ? detail::call_reload : nullptr, owned.get());
    return keep_listener(code, std::move(owned));
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
  // A reload's listener, kept once the reload is taken (a refused one tells nobody).
  Result<void> keep_listener(artana_status code, std::unique_ptr<ReloadFn> owned) {
    if (code != ARTANA_OK) return detail::last_error(code);
    if (owned) functions_.reloads.push_back(std::move(owned));
    return {};
  }
  artana_host* host_ = nullptr;
  std::shared_ptr<bool> alive_;
  // What the C library calls back: owned here, at fixed addresses, until the host is gone.
  struct Functions {
    std::vector<std::unique_ptr<Handler>> handlers;  // the tools' and ports'
    std::unique_ptr<std::function<int64_t()>> clock;
    std::unique_ptr<detail::LogFn> log;
    std::unique_ptr<detail::ModuleLoader> modules;
    std::vector<std::unique_ptr<ReloadFn>> reloads;  // each reload's listener
  };
  Functions functions_;
};

}  // namespace cxx_v1
}  // namespace artana

#endif  // ARTANA_ARTANA_HPP
