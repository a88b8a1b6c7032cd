// artana.hpp: the C++ API of Artana Host, header-only over the C API (artana.h). RAII handles
// (move-only), std::string_view in, artana::Result<T> out; nothing here throws.
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

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

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

class Host;

// A loaded script. Unloaded when destroyed (runs started from it go on).
class Script {
 public:
  Script() = default;
  Script(Script&& other) noexcept
      : script_(std::exchange(other.script_, nullptr)), host_(std::move(other.host_)) {}
  Script& operator=(Script&& other) noexcept {
    if (this != &other) {
      reset();
      script_ = std::exchange(other.script_, nullptr);
      host_ = std::move(other.host_);
    }
    return *this;
  }
  Script(const Script&) = delete;
  Script& operator=(const Script&) = delete;
  ~Script() { reset(); }

  // The C handle; NULL once unloaded or its host destroyed.
  artana_script* get() const { return detail::alive(host_) ? script_ : nullptr; }
  void reset() {
    artana_script* handle = std::exchange(script_, nullptr);
    if (handle != nullptr && detail::alive(host_)) artana_script_unload(handle);
    host_.reset();
  }

 private:
  friend class Host;
  Script(artana_script* script, detail::HostAlive host) : script_(script), host_(std::move(host)) {}
  artana_script* script_ = nullptr;
  detail::HostAlive host_;
};

// A handle on a run (not the run: releasing it stops nothing).
class Run {
 public:
  Run() = default;
  Run(Run&& other) noexcept
      : run_(std::exchange(other.run_, nullptr)), host_(std::move(other.host_)) {}
  Run& operator=(Run&& other) noexcept {
    if (this != &other) {
      reset();
      run_ = std::exchange(other.run_, nullptr);
      host_ = std::move(other.host_);
    }
    return *this;
  }
  Run(const Run&) = delete;
  Run& operator=(const Run&) = delete;
  ~Run() { reset(); }

  // The C handle; NULL once released or its host destroyed.
  artana_run* get() const { return detail::alive(host_) ? run_ : nullptr; }
  void reset() {
    artana_run* handle = std::exchange(run_, nullptr);
    if (handle != nullptr && detail::alive(host_)) artana_run_release(handle);
    host_.reset();
  }

  std::string id() const { return artana_run_id(get()); }
  Result<std::string> status() const {
    const char* status = nullptr;
    const artana_status code = artana_get() status(get(), &status);
    if (code != ARTANA_OK) return detail::last_error(code);
    return std::string(status);
  }
  Result<std::string> output() const {
    char* json = nullptr;
    size_t len = 0;
    const artana_status code = artana_get() output(get(), &json, &len);
    return detail::take(code, json, len);
  }
  Result<std::string> error() const {
    char* json = nullptr;
    size_t len = 0;
    const artana_status code = artana_get() error(get(), &json, &len);
    return detail::take(code, json, len);
  }
  Result<void> resume(std::string_view input_json = "null") const {
    return detail::check(artana_get() resume(get(), detail::c_string(input_json).c_str()));
  }
  Result<void> cancel(std::string_view reason = "cancelled") const {
    return detail::check(artana_get() cancel(get(), detail::c_string(reason).c_str()));
  }

 private:
  friend class Host;
  Run(artana_run* run, detail::HostAlive host) : run_(run), host_(std::move(host)) {}
  artana_run* run_ = nullptr;
  detail::HostAlive host_;
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
      : host_(std::exchange(other.host_, nullptr)), alive_(std::move(other.alive_)) {}
  Host& operator=(Host&& other) noexcept {
    if (this != &other) {
      reset();
      host_ = std::exchange(other.host_, nullptr);
      alive_ = std::move(other.alive_);
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
};

}  // namespace cxx_v1
}  // namespace artana

#endif  // ARTANA_ARTANA_HPP
