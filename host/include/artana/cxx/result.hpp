// artana/cxx/result.hpp: part of artana.hpp (include that): artana::Result<T>, the Error of a
// failed call, and the helpers that turn the C API's codes into them.
#ifndef ARTANA_CXX_RESULT_HPP
#define ARTANA_CXX_RESULT_HPP

#include <memory>
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

}  // namespace cxx_v1
}  // namespace artana

#endif  // ARTANA_CXX_RESULT_HPP
