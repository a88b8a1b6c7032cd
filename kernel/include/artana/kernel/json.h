// Json: the kernel's JSON value (payloads, requests, results). A plain value type.
//
// Numbers keep the integer/float distinction Lua 5.4 has: kInteger holds an int64_t,
// kDouble a double. Objects keep insertion order and may hold duplicate keys as built;
// the canonical encoder (canonical_json.h) sorts keys and rejects duplicates, so what is
// hashed is always well formed. Thread-compatible.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace artana::kernel {

class Json {
 public:
  enum class Type { kNull, kBool, kInteger, kDouble, kString, kArray, kObject };
  using Array = std::vector<Json>;
  using Member = std::pair<std::string, Json>;
  using Object = std::vector<Member>;

  Json() = default;                                  // null
  Json(std::nullptr_t) {}                            // NOLINT
  Json(bool b) : v_(b) {}                            // NOLINT
  Json(int i) : v_(static_cast<int64_t>(i)) {}       // NOLINT
  Json(int64_t i) : v_(i) {}                         // NOLINT
  Json(uint32_t i) : v_(static_cast<int64_t>(i)) {}  // NOLINT
  Json(double d) : v_(d) {}                          // NOLINT
  Json(const char* s) : v_(std::string(s)) {}        // NOLINT
  Json(std::string s) : v_(std::move(s)) {}          // NOLINT
  Json(std::string_view s) : v_(std::string(s)) {}   // NOLINT
  Json(Array a) : v_(std::move(a)) {}                // NOLINT
  Json(Object o) : v_(std::move(o)) {}               // NOLINT

  static Json array(std::initializer_list<Json> items = {}) { return Json(Array(items)); }
  static Json object(std::initializer_list<Member> members = {}) { return Json(Object(members)); }
  // An object whose members are moved in. A braced list (Json::object({{"k", std::move(v)}}))
  // copies every value, since an initializer_list's elements are const: use this where a
  // value is large, e.g. Json::object_of(Member("request", std::move(request)), ...).
  template <typename... Members>
  static Json object_of(Members&&... members) {
    Object out;
    out.reserve(sizeof...(members));
    (out.push_back(std::forward<Members>(members)), ...);
    return Json(std::move(out));
  }

  Type type() const { return static_cast<Type>(v_.index()); }
  bool is_null() const { return type() == Type::kNull; }
  bool is_bool() const { return type() == Type::kBool; }
  bool is_integer() const { return type() == Type::kInteger; }
  bool is_double() const { return type() == Type::kDouble; }
  bool is_number() const { return is_integer() || is_double(); }
  bool is_string() const { return type() == Type::kString; }
  bool is_array() const { return type() == Type::kArray; }
  bool is_object() const { return type() == Type::kObject; }

  // REQUIRES: the matching type (checked with assert in debug builds via std::get).
  bool as_bool() const { return std::get<bool>(v_); }
  int64_t as_integer() const { return std::get<int64_t>(v_); }
  double as_double() const { return std::get<double>(v_); }
  double as_number() const {
    return is_integer() ? static_cast<double>(as_integer()) : as_double();
  }
  const std::string& as_string() const { return std::get<std::string>(v_); }
  std::string& as_string() { return std::get<std::string>(v_); }
  const Array& as_array() const { return std::get<Array>(v_); }
  Array& as_array() { return std::get<Array>(v_); }
  const Object& as_object() const { return std::get<Object>(v_); }
  Object& as_object() { return std::get<Object>(v_); }

  // Object lookup: the first member named `key`, or nullptr (also when not an object).
  const Json* find(std::string_view key) const;
  Json* find(std::string_view key);
  // Object insert-or-assign; turns a null into an object first. Returns the stored value.
  Json& set(std::string key, Json value);
  // Array append; turns a null into an array first.
  Json& push_back(Json value);

  size_t size() const;  // members or elements; 0 for scalars

  // Structural equality; integer 1 and double 1.0 are equal (JSON has one number type).
  friend bool operator==(const Json& a, const Json& b);

 private:
  std::variant<std::nullptr_t, bool, int64_t, double, std::string, Array, Object> v_;
};

std::string_view json_type_name(Json::Type type);

// The memory a value holds (itself and what it owns), an estimate for accounting.
size_t json_bytes(const Json& value);

}  // namespace artana::kernel
