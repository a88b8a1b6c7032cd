#include "artana/kernel/json.h"

namespace artana::kernel {

const Json* Json::find(std::string_view key) const {
  if (!is_object()) return nullptr;
  for (const Member& m : as_object()) {
    if (m.first == key) return &m.second;
  }
  return nullptr;
}

Json* Json::find(std::string_view key) {
  return const_cast<Json*>(static_cast<const Json*>(this)->find(key));
}

Json& Json::set(std::string key, Json value) {
  if (is_null()) v_ = Object();
  if (Json* existing = find(key)) {
    *existing = std::move(value);
    return *existing;
  }
  Object& members = as_object();
  members.emplace_back(std::move(key), std::move(value));
  return members.back().second;
}

Json& Json::push_back(Json value) {
  if (is_null()) v_ = Array();
  Array& items = as_array();
  items.push_back(std::move(value));
  return items.back();
}

size_t Json::size() const {
  if (is_array()) return as_array().size();
  if (is_object()) return as_object().size();
  return 0;
}

bool operator==(const Json& a, const Json& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_integer() && b.is_integer()) return a.as_integer() == b.as_integer();
    return a.as_number() == b.as_number();
  }
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case Json::Type::kArray:
      return a.as_array() == b.as_array();
    case Json::Type::kObject: {
      // Member order carries no meaning in JSON: a parsed (canonical, sorted) payload equals
      // the draft it came from.
      if (a.size() != b.size()) return false;
      for (const Json::Member& m : a.as_object()) {
        const Json* other = b.find(m.first);
        if (other == nullptr || !(m.second == *other)) return false;
      }
      return true;
    }
    default:
      return a.v_ == b.v_;
  }
}

std::string_view json_type_name(Json::Type type) {
  switch (type) {
    case Json::Type::kNull:
      return "null";
    case Json::Type::kBool:
      return "boolean";
    case Json::Type::kInteger:
      return "integer";
    case Json::Type::kDouble:
      return "number";
    case Json::Type::kString:
      return "string";
    case Json::Type::kArray:
      return "array";
    case Json::Type::kObject:
      return "object";
  }
  return "unknown";
}

size_t json_bytes(const Json& value) {
  size_t bytes = sizeof(Json);
  switch (value.type()) {
    case Json::Type::kString:
      bytes += value.as_string().capacity();
      break;
    case Json::Type::kArray:
      for (const Json& item : value.as_array()) bytes += json_bytes(item);
      break;
    case Json::Type::kObject:
      for (const auto& [key, member] : value.as_object()) {
        bytes += sizeof(std::string) + key.capacity() + json_bytes(member);
      }
      break;
    default:
      break;
  }
  return bytes;
}

}  // namespace artana::kernel
