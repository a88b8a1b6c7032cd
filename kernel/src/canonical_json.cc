// RFC 8785 encoder over Json: one recursive pass writing into the caller's string. The ok
// path allocates nothing but the output; error paths are rendered only on failure.
#include "artana/kernel/canonical_json.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <vector>

#include "ecmascript_number.h"
#include "jcs_order.h"
#include "jcs_string.h"
#include "json_path.h"
#include "output_buffer.h"
#include "utf8.h"

namespace artana::kernel {
namespace {

// ---- Error paths: payload.messages[3].content, payload["weird key"] ---------------------

// One step from the root, on the encoder's call stack; nothing is allocated per step.
struct PathNode {
  const PathNode* parent = nullptr;
  std::string_view key;  // a member name, when !is_index
  size_t index = 0;
  bool is_index = false;
};

std::string render_path(std::string_view root, const PathNode* leaf) {
  std::vector<PathSegment> segments;
  for (const PathNode* node = leaf; node != nullptr; node = node->parent) {
    PathSegment segment;
    segment.is_key = !node->is_index;
    segment.key = node->key;
    segment.index = node->index;
    segments.push_back(segment);
  }
  std::reverse(segments.begin(), segments.end());
  return render_json_path(segments, root);
}

Status invalid_utf8_error(std::string_view path, std::string_view what, const Utf8Error& e) {
  return Status::invalid_argument("{}: {} is not valid UTF-8 ({} at byte {})", path, what, e.reason,
                                  e.offset);
}

Status non_finite_error(std::string_view path, double value) {
  const char* name = std::isnan(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity";
  return Status::invalid_argument("{}: number is {}, which JSON cannot carry", path, name);
}

// ---- The encoder --------------------------------------------------------------------------

// Methods return false after storing the error in error_, instead of returning a Status:
// this runs once per value on the append path, and an ok Status still builds and destroys
// a std::string each time.
class Encoder {
 public:
  Encoder(std::string& out, std::string_view root) : out_(out), root_(root) {}

  Status take_error() { return std::move(error_); }

  bool value(const Json& v, const PathNode* at) {
    switch (v.type()) {
      case Json::Type::kNull:
        out_.put("null");
        return true;
      case Json::Type::kBool:
        out_.put(v.as_bool() ? "true" : "false");
        return true;
      case Json::Type::kInteger:
        return integer(v.as_integer(), at);
      case Json::Type::kDouble:
        return number(v.as_double(), at);
      case Json::Type::kString:
        return string(v.as_string(), at, "string");
      case Json::Type::kArray:
        return array(v.as_array(), at);
      case Json::Type::kObject:
        return object(v.as_object(), at);
    }
    return fail(Status::internal("{}: unknown JSON type", path(at)));
  }

 private:
  bool fail(Status status) {
    error_ = std::move(status);
    return false;
  }

  // Integers beyond 2^53 would silently change value in every JavaScript (and most other)
  // JSON readers, and JCS defines numbers as IEEE doubles; refuse rather than round.
  bool integer(int64_t v, const PathNode* at) {
    if (v > kMaxSafeInteger || v < -kMaxSafeInteger) {
      return fail(Status::invalid_argument(
          "{}: integer {} is beyond ±2^53 and cannot be carried exactly by JSON; pass it as a "
          "string",
          path(at), v));
    }
    char* out = out_.reserve(20);  // "-9007199254740992" is 17
    out_.commit(std::to_chars(out, out + 20, v).ptr);
    return true;
  }

  bool number(double v, const PathNode* at) {
    if (!std::isfinite(v)) return fail(non_finite_error(path(at), v));
    out_.commit(write_ecmascript_number(out_.reserve(kMaxEcmascriptNumberChars), v));
    return true;
  }

  bool string(std::string_view s, const PathNode* at, std::string_view what) {
    Utf8Error error;
    if (write_jcs_string(out_, s, &error)) return true;
    return fail(invalid_utf8_error(path(at), what, error));
  }

  bool array(const Json::Array& items, const PathNode* at) {
    out_.put('[');
    PathNode item{at, {}, 0, true};
    for (const Json& v : items) {
      if (item.index != 0) out_.put(',');
      if (!value(v, &item)) return false;
      ++item.index;
    }
    out_.put(']');
    return true;
  }

  bool member(const Json::Member& m, const PathNode* at) {
    const PathNode node{at, m.first, 0, false};
    if (!string(m.first, &node, "key")) return false;
    out_.put(':');
    return value(m.second, &node);
  }

  bool object(const Json::Object& members, const PathNode* at) {
    const JcsOrder order(members);
    if (order.duplicate() != nullptr) {
      return fail(
          Status::invalid_argument("{}: duplicate key {}; keys in one object must be unique",
                                   path(at), quote_json_key(*order.duplicate())));
    }
    out_.put('{');
    for (size_t i = 0; i < order.size(); ++i) {
      if (i != 0) out_.put(',');
      if (!member(order[i], at)) return false;
    }
    out_.put('}');
    return true;
  }

  std::string path(const PathNode* at) const { return render_path(root_, at); }

  OutputBuffer out_;
  std::string_view root_;
  Status error_;
};

}  // namespace

Result<std::string> canonical_json(const Json& value, std::string_view root) {
  std::string out;
  ARTANA_RETURN_IF_ERROR(append_canonical_json(out, value, root));
  return out;
}

Status append_canonical_json(std::string& out, const Json& value, std::string_view root) {
  // An empty container (a request's `options` and `tools`, once a step each) is its two
  // bytes: no encoder, whose buffer grows and trims by a few hundred.
  if ((value.is_object() || value.is_array()) && value.size() == 0) {
    out += value.is_object() ? "{}" : "[]";
    return Status();
  }
  Encoder encoder(out, root);  // its OutputBuffer trims `out` when it goes out of scope
  if (encoder.value(value, nullptr)) return Status();
  return encoder.take_error();
}

Status append_canonical_string(std::string& out, std::string_view utf8, std::string_view path) {
  Utf8Error error;
  OutputBuffer buffer(out, 0);
  if (write_jcs_string(buffer, utf8, &error)) return Status();
  return invalid_utf8_error(path, "string", error);
}

Status append_canonical_double(std::string& out, double value, std::string_view path) {
  if (!std::isfinite(value)) return non_finite_error(path, value);
  char digits[kMaxEcmascriptNumberChars];
  out.append(digits, write_ecmascript_number(digits, value));
  return Status();
}

}  // namespace artana::kernel
