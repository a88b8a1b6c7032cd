// parse_json: simdjson's DOM parser, then a walk that builds Json and adds the checks
// simdjson leaves to us (duplicate keys, integers beyond ±2^53), with errors that name the
// source and the path of the offending value.
#include "artana/kernel/json_parse.h"

#include <simdjson.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "artana/kernel/canonical_json.h"
#include "json_number_error.h"
#include "json_path.h"

namespace artana::kernel {
namespace {

using simdjson::dom::element_type;

// Objects with up to this many members find duplicate keys by scanning the members already
// built (no allocation, no extra pass); larger ones sort a copy of their keys first.
constexpr size_t kLinearDuplicateScanMax = 16;

// After an input larger than this, the thread's buffer and parser are released: the DOM
// parser keeps roughly 14 bytes per input byte, and one huge document should not pin that
// much memory on every thread that ever parsed one.
constexpr size_t kRetainBytes = size_t{1} << 20;

// An array or object being filled by the Converter.
struct Frame {
  // Points into the parent's vector, which gets no new element while this one is open, so
  // the pointer stays valid until the frame is popped.
  Json* container;
  bool is_object;
  bool linear_scan;  // an object small enough for the linear duplicate check
  simdjson::dom::array::iterator array_next, array_end;
  simdjson::dom::object::iterator object_next, object_end;

  bool done() const {
    return is_object ? !(object_next != object_end) : !(array_next != array_end);
  }
};

// State reused across calls on one thread, so a replay of many events allocates only the
// Json it returns.
struct ThreadState {
  simdjson::dom::parser parser;
  // The input is copied here: simdjson reads up to SIMDJSON_PADDING bytes past the end, which
  // in the caller's memory (an LMDB map ending on a page boundary) could fault.
  std::unique_ptr<char[]> buffer;
  size_t buffer_capacity = 0;  // usable bytes, not counting the padding
  std::vector<Frame> frames;
  std::vector<PathSegment> path;       // parallel to `frames`
  std::vector<std::string_view> keys;  // scratch for the duplicate check of large objects

  // Copies `text` into `buffer`, growing it; false when out of memory.
  bool load(std::string_view text) {
    if (!buffer || text.size() > buffer_capacity) {
      // Whole pages, so documents of slowly growing size do not reallocate every time.
      size_t capacity = (text.size() + 4095) & ~size_t{4095};
      buffer.reset(new (std::nothrow) char[capacity + simdjson::SIMDJSON_PADDING]);
      buffer_capacity = buffer ? capacity : 0;
      if (!buffer) return false;
    }
    if (!text.empty()) std::memcpy(buffer.get(), text.data(), text.size());
    // simdjson does not need the padding zeroed, but this keeps its reads defined.
    std::memset(buffer.get() + text.size(), 0, simdjson::SIMDJSON_PADDING);
    return true;
  }

  void release() {
    parser = simdjson::dom::parser();
    buffer.reset();
    buffer_capacity = 0;
    keys = {};
  }
};

ThreadState& thread_state() {
  thread_local ThreadState state;
  return state;
}

// Releases the thread state on every return path after a large input (see kRetainBytes).
class ReleaseIfLarge {
 public:
  ReleaseIfLarge(ThreadState& state, size_t input_bytes)
      : state_(state), large_(input_bytes > kRetainBytes) {}
  ReleaseIfLarge(const ReleaseIfLarge&) = delete;
  ReleaseIfLarge& operator=(const ReleaseIfLarge&) = delete;
  ~ReleaseIfLarge() {
    if (large_) state_.release();
  }

 private:
  ThreadState& state_;
  bool large_;
};

// Builds Json from a parsed DOM. Iterative, with the open arrays and objects on an explicit
// stack, so nesting costs heap rather than call stack: recursive frames were 7 KB each under
// ASan, and 1024 of them overflowed an 8 MB stack. `path_` names the value being converted;
// it is rendered only when there is an error to report.
class Converter {
 public:
  Converter(std::string_view source, ThreadState& state)
      : source_(source), frames_(state.frames), path_(state.path), keys_(state.keys) {
    frames_.clear();
    path_.clear();
  }

  Status convert(simdjson::dom::element root, Json& out) {
    simdjson::dom::element element = root;
    Json* target = &out;
    while (true) {
      ARTANA_RETURN_IF_ERROR(store(element, *target));
      // The next value is the next child of the innermost container not yet finished.
      while (!frames_.empty() && frames_.back().done()) {
        frames_.pop_back();
        path_.pop_back();
      }
      if (frames_.empty()) return {};
      Frame& frame = frames_.back();
      if (frame.is_object) {
        simdjson::dom::key_value_pair field = *frame.object_next;
        ++frame.object_next;
        Json::Object& members = frame.container->as_object();
        if (frame.linear_scan) {
          for (const Json::Member& member : members) {
            if (member.first == field.key) {
              path_.pop_back();  // the error names the object, not the member
              return duplicate_key(field.key);
            }
          }
        }
        path_.back().key = field.key;
        target = &members.emplace_back(std::string(field.key), Json()).second;
        element = field.value;
      } else {
        Json::Array& items = frame.container->as_array();
        path_.back().index = items.size();
        target = &items.emplace_back();
        element = *frame.array_next;
        ++frame.array_next;
      }
    }
  }

 private:
  // Stores a scalar into `out`, or makes `out` an empty container and opens a frame for it.
  Status store(simdjson::dom::element element, Json& out) {
    switch (element.type()) {
      case element_type::NULL_VALUE:
        out = Json();
        return {};
      case element_type::BOOL:
        out = Json(element.get_bool().value_unsafe());
        return {};
      case element_type::INT64: {
        int64_t value = element.get_int64().value_unsafe();
        // Up to 2^53 every integer is an exact double; beyond it JavaScript, jq and many
        // other JSON readers round silently (I-JSON, RFC 7493 §2.2), so we refuse what
        // others would read as a different number. The canonical encoder agrees.
        if (value > kMaxSafeInteger || value < -kMaxSafeInteger) return large_integer(value, out);
        out = Json(value);
        return {};
      }
      case element_type::UINT64:  // simdjson's type for integers above INT64_MAX
        return large_integer(element.get_uint64().value_unsafe(), out);
      case element_type::DOUBLE:  // any literal with a fraction or exponent: 1.0, 1e2
        out = Json(element.get_double().value_unsafe());
        return {};
      case element_type::STRING:  // simdjson has validated the UTF-8
        out = Json(element.get_string().value_unsafe());
        return {};
      case element_type::ARRAY: {
        simdjson::dom::array array = element.get_array().value_unsafe();
        Json::Array items;
        items.reserve(array.size());  // saturates at 2^24 - 1; emplace_back grows past it
        out = Json(std::move(items));
        frames_.push_back(Frame{.container = &out,
                                .is_object = false,
                                .linear_scan = false,
                                .array_next = array.begin(),
                                .array_end = array.end()});
        path_.push_back(PathSegment{});
        return {};
      }
      case element_type::OBJECT: {
        simdjson::dom::object object = element.get_object().value_unsafe();
        size_t size = object.size();
        bool linear_scan = size <= kLinearDuplicateScanMax;
        if (!linear_scan) ARTANA_RETURN_IF_ERROR(check_keys_sorted(object));
        Json::Object members;
        members.reserve(size);
        out = Json(std::move(members));
        frames_.push_back(Frame{.container = &out,
                                .is_object = true,
                                .linear_scan = linear_scan,
                                .object_next = object.begin(),
                                .object_end = object.end()});
        path_.push_back(PathSegment{.is_key = true});
        return {};
      }
    }
    return unknown_type();
  }

  // Sorts a copy of the keys: O(n log n) for objects too large to scan pairwise.
  Status check_keys_sorted(simdjson::dom::object object) {
    keys_.clear();
    for (simdjson::dom::key_value_pair field : object) keys_.push_back(field.key);
    std::sort(keys_.begin(), keys_.end());
    auto duplicate = std::adjacent_find(keys_.begin(), keys_.end());
    if (duplicate != keys_.end()) return duplicate_key(*duplicate);
    return {};
  }

  // Errors are formatted out of line: the loop above stays small and fast.
  [[gnu::noinline, gnu::cold]] Status duplicate_key(std::string_view key) {
    return Status::invalid_argument(
        "{}: duplicate key {} in the object at {}; a key may appear once per object", source_,
        quote_json_key(key), render_json_path(path_));
  }

  // An integer literal beyond ±2^53 is the number a double names when it is exactly how
  // RFC 8785 writes that double (an integral double below 1e21 is written with all its digits:
  // 2^60 as 1152921504606847000): the ledger must read back what the encoder writes, and any
  // reader of that text gets that same double. Any other such literal would be read as a
  // different number by some reader, so it is refused.
  template <typename Int>
  [[gnu::noinline, gnu::cold]] Status large_integer(Int value, Json& out) {
    const double d = static_cast<double>(value);
    std::string written;
    if (append_canonical_double(written, d, "").ok() && written == std::to_string(value)) {
      out = Json(d);
      return {};
    }
    return inexact(value);
  }

  template <typename Int>
  [[gnu::noinline, gnu::cold]] Status inexact(Int value) {
    return Status::invalid_argument(
        "{}: integer {} at {} is beyond ±2^53 ({}), where other JSON readers lose precision; "
        "pass it as a string",
        source_, value, render_json_path(path_), kMaxSafeInteger);
  }

  [[gnu::noinline, gnu::cold]] Status unknown_type() {
    return Status::internal("{}: unknown simdjson element type at {}", source_,
                            render_json_path(path_));
  }

  std::string_view source_;
  std::vector<Frame>& frames_;
  std::vector<PathSegment>& path_;
  std::vector<std::string_view>& keys_;
};

Status parse_error(simdjson::error_code error, std::string_view text, std::string_view source,
                   ThreadState& state) {
  std::string_view message = simdjson::error_message(error);
  switch (error) {
    case simdjson::EMPTY:
      return Status::invalid_argument("{}: no JSON value: the input is empty or only whitespace",
                                      source);
    case simdjson::TAPE_ERROR:
      return Status::invalid_argument(
          "{}: not valid JSON: {} (is the document truncated, or followed by more text?)", source,
          message);
    case simdjson::DEPTH_ERROR:
      return Status::invalid_argument("{}: arrays and objects nested more than {} levels deep ({})",
                                      source, state.parser.max_depth(), message);
    case simdjson::NUMBER_ERROR:
      // simdjson names neither the number nor whether it was malformed or too large.
      return explain_number_error(text, source, state.path);
    case simdjson::CAPACITY:
      return Status::invalid_argument(
          "{}: {} bytes of JSON is more than the parser accepts ({} bytes)", source, text.size(),
          state.parser.max_capacity());
    case simdjson::MEMALLOC:
      return Status::unavailable("{}: out of memory parsing {} bytes of JSON ({})", source,
                                 text.size(), message);
    default:
      return Status::invalid_argument("{}: not valid JSON: {}", source, message);
  }
}

Result<Json> parse_with(ThreadState& state, std::string_view text, std::string_view source) {
  ReleaseIfLarge release(state, text.size());
  if (!state.load(text)) {
    return Status::unavailable("{}: out of memory copying {} bytes of JSON", source, text.size());
  }
  simdjson::dom::element root;
  simdjson::error_code error =
      state.parser.parse(state.buffer.get(), text.size(), /*realloc_if_needed=*/false).get(root);
  if (error == simdjson::NUMBER_ERROR) {
    // Doubles in [2^64, 1e21) are written with all their digits, which simdjson refuses.
    std::string marked;
    if (mark_large_double_literals(text, marked)) return parse_with(state, marked, source);
  }
  if (error != simdjson::SUCCESS) return parse_error(error, text, source, state);
  Json out;
  Converter converter(source, state);
  ARTANA_RETURN_IF_ERROR(converter.convert(root, out));
  return out;
}

}  // namespace

Result<Json> parse_json(std::string_view text, std::string_view source) {
  // Building Json allocates; bad_alloc must become a Status here, never leave the kernel.
  try {
    return parse_with(thread_state(), text, source);
  } catch (const std::bad_alloc&) {
    return Status::unavailable("{}: out of memory parsing {} bytes of JSON", source, text.size());
  }
}

}  // namespace artana::kernel
