// JsonAdapter: lets valijson read an artana::kernel::Json in place, modelled on valijson's
// picojson_adapter.hpp. Every type here borrows the Json it wraps, which must outlive it.
//
// Number typing follows JSON Schema rather than our storage: a double with no fractional
// part (2.0) is also an integer (draft 7, type.json "a float with zero fractional part is an
// integer"), so isInteger() and isDouble() may both be true; valijson then reads it
// exactly through getDouble() and as an int64 through getInteger().
//
// Include only through json_schema/valijson.h, which defines VALIJSON_USE_EXCEPTIONS: valijson's
// inline error functions abort() without it, and every translation unit must agree.
#pragma once

#if !defined(VALIJSON_USE_EXCEPTIONS) || !VALIJSON_USE_EXCEPTIONS
#error "define VALIJSON_USE_EXCEPTIONS to 1 before including json_adapter.h"
#endif

#include <valijson/exceptions.hpp>
#include <valijson/internal/adapter.hpp>
#include <valijson/internal/basic_adapter.hpp>
#include <valijson/internal/frozen_value.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <utility>

#include "artana/kernel/json.h"

namespace artana::kernel::schema_internal {

class JsonAdapter;
class JsonArrayIterator;
class JsonMemberIterator;
using JsonMember = std::pair<std::string, JsonAdapter>;

// Pointers rather than references, so views and iterators stay copy-assignable.
class JsonArrayView {
 public:
  using const_iterator = JsonArrayIterator;
  using iterator = JsonArrayIterator;

  JsonArrayView() : value_(&empty()) {}
  explicit JsonArrayView(const Json& value) : value_(&value) {
    if (!value.is_array()) valijson::throwRuntimeError("Value is not an array.");
  }
  JsonArrayIterator begin() const;
  JsonArrayIterator end() const;
  size_t size() const { return value_->as_array().size(); }

 private:
  static const Json& empty() {
    static const Json kEmpty = Json::array();
    return kEmpty;
  }
  const Json* value_;
};

class JsonObjectView {
 public:
  using const_iterator = JsonMemberIterator;
  using iterator = JsonMemberIterator;

  JsonObjectView() : value_(&empty()) {}
  explicit JsonObjectView(const Json& value) : value_(&value) {
    if (!value.is_object()) valijson::throwRuntimeError("Value is not an object.");
  }
  JsonMemberIterator begin() const;
  JsonMemberIterator end() const;
  // Objects are small vectors of members: a linear search beats building an index.
  JsonMemberIterator find(const std::string& name) const;
  size_t size() const { return value_->as_object().size(); }

 private:
  static const Json& empty() {
    static const Json kEmpty = Json::object();
    return kEmpty;
  }
  const Json* value_;
};

// An owned copy, for the values of "const" and "enum" that outlive the schema document.
class JsonFrozenValue : public valijson::adapters::FrozenValue {
 public:
  explicit JsonFrozenValue(Json value) : value_(std::move(value)) {}
  FrozenValue* clone() const override { return new JsonFrozenValue(value_); }
  bool equalTo(const valijson::adapters::Adapter& other, bool strict) const override;

 private:
  Json value_;
};

// The value reader valijson's BasicAdapter builds its semantics on.
class JsonValueRef {
 public:
  JsonValueRef() : value_(&empty_object()) {}
  explicit JsonValueRef(const Json& value) : value_(&value) {}

  valijson::adapters::FrozenValue* freeze() const { return new JsonFrozenValue(*value_); }

  std::optional<JsonArrayView> getArrayOptional() const {
    if (!value_->is_array()) return std::nullopt;
    return JsonArrayView(*value_);
  }
  bool getArraySize(size_t& result) const {
    if (!value_->is_array()) return false;
    result = value_->as_array().size();
    return true;
  }
  bool getBool(bool& result) const {
    if (!value_->is_bool()) return false;
    result = value_->as_bool();
    return true;
  }
  // Integers too: valijson treats any number as a double for minimum/maximum/multipleOf.
  bool getDouble(double& result) const {
    if (!value_->is_number()) return false;
    result = value_->as_number();
    return true;
  }
  bool getInteger(int64_t& result) const {
    if (value_->is_integer()) {
      result = value_->as_integer();
      return true;
    }
    // 2^63 is exact as a double; an integral double below it in magnitude converts exactly.
    constexpr double kTwoTo63 = 9223372036854775808.0;
    if (!is_integral_double() || value_->as_double() >= kTwoTo63 ||
        value_->as_double() < -kTwoTo63) {
      return false;
    }
    result = static_cast<int64_t>(value_->as_double());
    return true;
  }
  std::optional<JsonObjectView> getObjectOptional() const {
    if (!value_->is_object()) return std::nullopt;
    return JsonObjectView(*value_);
  }
  bool getObjectSize(size_t& result) const {
    if (!value_->is_object()) return false;
    result = value_->as_object().size();
    return true;
  }
  bool getString(std::string& result) const {
    if (!value_->is_string()) return false;
    result = value_->as_string();
    return true;
  }

  // Strict: a string "1" is never the number 1, whatever the Validator's mode.
  static bool hasStrictTypes() { return true; }
  bool isArray() const { return value_->is_array(); }
  bool isBool() const { return value_->is_bool(); }
  bool isDouble() const { return value_->is_double(); }
  // Every integral double counts, even past int64 (getInteger then fails): valijson's
  // multipleOf would otherwise cast such a double to int64, which is undefined.
  bool isInteger() const { return value_->is_integer() || is_integral_double(); }
  bool isNull() const { return value_->is_null(); }
  bool isNumber() const { return value_->is_number(); }
  bool isObject() const { return value_->is_object(); }
  bool isString() const { return value_->is_string(); }

 private:
  static const Json& empty_object() {
    static const Json kEmpty = Json::object();
    return kEmpty;
  }
  bool is_integral_double() const {
    if (!value_->is_double()) return false;
    double d = value_->as_double();
    return std::isfinite(d) && std::trunc(d) == d;
  }
  const Json* value_;
};

class JsonAdapter : public valijson::adapters::BasicAdapter<JsonAdapter, JsonArrayView, JsonMember,
                                                            JsonObjectView, JsonValueRef> {
 public:
  JsonAdapter() = default;
  JsonAdapter(const Json& value) : BasicAdapter(JsonValueRef(value)) {}  // NOLINT
};

class JsonArrayIterator {
 public:
  using iterator_category = std::bidirectional_iterator_tag;
  using value_type = JsonAdapter;
  using difference_type = std::ptrdiff_t;
  using pointer = JsonAdapter*;
  using reference = JsonAdapter&;

  explicit JsonArrayIterator(Json::Array::const_iterator it) : it_(it) {}
  JsonAdapter operator*() const { return JsonAdapter(*it_); }
  valijson::adapters::DerefProxy<JsonAdapter> operator->() const {
    return valijson::adapters::DerefProxy<JsonAdapter>(**this);
  }
  bool operator==(const JsonArrayIterator& other) const { return it_ == other.it_; }
  bool operator!=(const JsonArrayIterator& other) const { return it_ != other.it_; }
  const JsonArrayIterator& operator++() {
    ++it_;
    return *this;
  }
  JsonArrayIterator operator++(int) { return JsonArrayIterator(it_++); }
  const JsonArrayIterator& operator--() {
    --it_;
    return *this;
  }
  void advance(std::ptrdiff_t n) { it_ += n; }

 private:
  Json::Array::const_iterator it_;
};

class JsonMemberIterator {
 public:
  using iterator_category = std::bidirectional_iterator_tag;
  using value_type = JsonMember;
  using difference_type = std::ptrdiff_t;
  using pointer = JsonMember*;
  using reference = JsonMember&;

  explicit JsonMemberIterator(Json::Object::const_iterator it) : it_(it) {}
  JsonMember operator*() const { return JsonMember(it_->first, JsonAdapter(it_->second)); }
  valijson::adapters::DerefProxy<JsonMember> operator->() const {
    return valijson::adapters::DerefProxy<JsonMember>(**this);
  }
  bool operator==(const JsonMemberIterator& other) const { return it_ == other.it_; }
  bool operator!=(const JsonMemberIterator& other) const { return it_ != other.it_; }
  const JsonMemberIterator& operator++() {
    ++it_;
    return *this;
  }
  JsonMemberIterator operator++(int) { return JsonMemberIterator(it_++); }
  const JsonMemberIterator& operator--() {
    --it_;
    return *this;
  }

 private:
  Json::Object::const_iterator it_;
};

inline bool JsonFrozenValue::equalTo(const valijson::adapters::Adapter& other, bool strict) const {
  return JsonAdapter(value_).equalTo(other, strict);
}
inline JsonArrayIterator JsonArrayView::begin() const {
  return JsonArrayIterator(value_->as_array().begin());
}
inline JsonArrayIterator JsonArrayView::end() const {
  return JsonArrayIterator(value_->as_array().end());
}
inline JsonMemberIterator JsonObjectView::begin() const {
  return JsonMemberIterator(value_->as_object().begin());
}
inline JsonMemberIterator JsonObjectView::end() const {
  return JsonMemberIterator(value_->as_object().end());
}
inline JsonMemberIterator JsonObjectView::find(const std::string& name) const {
  const Json::Object& members = value_->as_object();
  return JsonMemberIterator(std::find_if(members.begin(), members.end(),
                                         [&](const Json::Member& m) { return m.first == name; }));
}

}  // namespace artana::kernel::schema_internal

// valijson finds an adapter's document type (for fetched $ref documents) through this.
template <>
struct valijson::adapters::AdapterTraits<artana::kernel::schema_internal::JsonAdapter> {
  using DocumentType = artana::kernel::Json;
  static std::string adapterName() { return "ArtanaJsonAdapter"; }
};
