#include "ledger/payload_codec.h"

#include <algorithm>
#include <vector>

#include "artana/kernel/canonical_json.h"
#include "artana/kernel/json_parse.h"
#include "jcs_order.h"
#include "json_path.h"

namespace artana::kernel::ledger {
namespace {

// A path rendered only when an error needs it: each level points at its parent.
struct PathNode {
  const PathNode* parent;
  std::string_view key;  // used when index == npos
  size_t index;
};

// The shared renderer (json_path.h) writes "$…"; payload paths start at their own root name.
std::string path_string(const PathNode* node) {
  std::vector<PathSegment> segments;
  for (; node->parent != nullptr; node = node->parent) {
    PathSegment segment;
    segment.is_key = node->index == std::string_view::npos;
    segment.key = node->key;
    segment.index = segment.is_key ? 0 : node->index;
    segments.push_back(segment);
  }
  std::reverse(segments.begin(), segments.end());
  return render_json_path(segments, node->key);
}

class Encoder {
 public:
  Encoder(size_t threshold, BlobSink& sink, std::string& out)
      : threshold_(threshold), sink_(sink), out_(out) {}

  Status value(const Json& v, const PathNode* path, bool is_root) {
    switch (v.type()) {
      case Json::Type::kNull:
        out_ += "null";
        return Status();
      case Json::Type::kBool:
        out_ += v.as_bool() ? "true" : "false";
        return Status();
      case Json::Type::kInteger:
        return integer(v.as_integer(), path);
      case Json::Type::kDouble:
        return append_canonical_double(out_, v.as_double(), path_string(path));
      case Json::Type::kString:
        return string(v.as_string(), path);
      case Json::Type::kArray:
        return array(v.as_array(), path);
      case Json::Type::kObject:
        return object(v.as_object(), path, is_root);
    }
    return Status::internal("unknown JSON type");
  }

 private:
  Status integer(int64_t i, const PathNode* path) {
    if (i > kMaxSafeInteger || i < -kMaxSafeInteger) {
      return Status::invalid_argument(
          "{}: integer {} is beyond ±2^53 and cannot be carried exactly by JSON; pass it as a "
          "string",
          path_string(path), i);
    }
    out_ += std::to_string(i);
    return Status();
  }

  Status string(const std::string& s, const PathNode* path) {
    size_t start = out_.size();
    ARTANA_RETURN_IF_ERROR(append_canonical_string(out_, s, path_string_if(s, path)));
    if (s.size() > threshold_) return externalize(start);
    return Status();
  }

  // Strings are checked for UTF-8 by the canonical writer, which wants the path up front; build
  // it only for strings that are not plain ASCII (the only ones that can fail).
  std::string path_string_if(const std::string& s, const PathNode* path) {
    for (unsigned char c : s) {
      if (c >= 0x80) return path_string(path);
    }
    return {};
  }

  Status object(const Json::Object& members, const PathNode* path, bool is_root) {
    size_t start = out_.size();
    const JcsOrder sorted(members);
    if (sorted.duplicate() != nullptr) {
      return Status::invalid_argument("{}: duplicate key \"{}\"", path_string(path),
                                      *sorted.duplicate());
    }
    out_ += '{';
    for (size_t i = 0; i < sorted.size(); ++i) {
      const std::string& key = sorted[i].first;
      PathNode child{path, key, std::string_view::npos};
      if (key.rfind("$artana.", 0) == 0) {
        return Status::invalid_argument(
            "{}: keys beginning \"$artana.\" are reserved by the ledger", path_string(&child));
      }
      if (i > 0) out_ += ',';
      ARTANA_RETURN_IF_ERROR(append_canonical_string(out_, key, path_string_if(key, path)));
      out_ += ':';
      ARTANA_RETURN_IF_ERROR(value(sorted[i].second, &child, false));
    }
    out_ += '}';
    if (!is_root && out_.size() - start > threshold_) return externalize(start);
    return Status();
  }

  Status array(const Json::Array& items, const PathNode* path) {
    size_t start = out_.size();
    // Element boundaries, so chunks can be cut from the text already written.
    std::vector<size_t> bounds;
    bounds.reserve(items.size() + 1);
    out_ += '[';
    for (size_t i = 0; i < items.size(); ++i) {
      if (i > 0) out_ += ',';
      bounds.push_back(out_.size());
      PathNode child{path, {}, i};
      ARTANA_RETURN_IF_ERROR(value(items[i], &child, false));
    }
    bounds.push_back(out_.size());
    out_ += ']';
    if (out_.size() - start <= threshold_) return Status();
    if (items.size() <= kChunkItems) return externalize(start);
    return chunk(start, bounds);
  }

  // Rewrites the array text at out_[start..] as a tree of concatenated chunks.
  Status chunk(size_t start, const std::vector<size_t>& bounds) {
    size_t n = bounds.size() - 1;
    std::vector<std::string> parts;
    parts.reserve(n / kChunkItems + 1);
    for (size_t i = 0; i < n; i += kChunkItems) {
      size_t end = std::min(n, i + kChunkItems);
      // bounds[k] is where element k starts (after its ','); bounds[n] is where the last ends.
      const size_t stop = end < n ? bounds[end] - 1 : bounds[n];
      std::string text;
      text.reserve(stop - bounds[i] + 2);
      text.push_back('[');
      text.append(out_, bounds[i], stop - bounds[i]);
      text.push_back(']');
      ARTANA_RETURN_IF_ERROR(maybe_blob(text));
      parts.push_back(std::move(text));
    }
    while (parts.size() > kChunkItems) {
      std::vector<std::string> groups;
      for (size_t i = 0; i < parts.size(); i += kChunkItems) {
        std::string text = concat_text(parts, i, std::min(parts.size(), i + kChunkItems));
        ARTANA_RETURN_IF_ERROR(maybe_blob(text));
        groups.push_back(std::move(text));
      }
      parts = std::move(groups);
    }
    std::string root = concat_text(parts, 0, parts.size());
    ARTANA_RETURN_IF_ERROR(maybe_blob(root));
    out_.resize(start);
    out_ += root;
    return Status();
  }

  static std::string concat_text(const std::vector<std::string>& parts, size_t from, size_t to) {
    std::string text = "{\"";
    text.append(kConcatKey);
    text += "\":[";
    for (size_t i = from; i < to; ++i) {
      if (i > from) text += ',';
      text += parts[i];
    }
    text += "]}";
    return text;
  }

  // Replaces `text` by a reference when it is over the threshold.
  Status maybe_blob(std::string& text) {
    if (text.size() <= threshold_) return Status();
    Sha256 key = Sha256::of(text);
    ARTANA_RETURN_IF_ERROR(sink_.put_blob(key, text));
    text = ref_text(key);
    return Status();
  }

  Status externalize(size_t start) {
    std::string_view text(out_.data() + start, out_.size() - start);
    Sha256 key = Sha256::of(text);
    ARTANA_RETURN_IF_ERROR(sink_.put_blob(key, text));
    out_.resize(start);
    out_ += ref_text(key);
    return Status();
  }

  static std::string ref_text(const Sha256& key) {
    std::string text = "{\"";
    text.append(kBlobKey);
    text += "\":\"";
    append_hex(text, key.raw());
    text += "\"}";
    return text;
  }

  size_t threshold_;
  BlobSink& sink_;
  std::string& out_;
};

// The single member of a reference object, when `v` is one.
const Json* reference(const Json& v, std::string_view key) {
  if (!v.is_object() || v.as_object().size() != 1) return nullptr;
  const Json::Member& m = v.as_object()[0];
  return m.first == key ? &m.second : nullptr;
}

constexpr int kMaxExpandDepth = 64;

Status expand(Json& v, BlobSource& source, std::string_view where, int depth);

Status load_blob(const Json& ref, BlobSource& source, std::string_view where, int depth,
                 Json& out) {
  if (!ref.is_string()) return Status::corruption("{}: a blob reference is not a string", where);
  auto key = Sha256::from_hex(ref.as_string());
  if (!key.ok()) return Status::corruption("{}: {}", where, key.status().message());
  auto content = source.get_blob(*key);
  if (!content.ok()) return content.status().with_context(where);
  auto parsed = parse_json(*content, "blob " + ref.as_string());
  if (!parsed.ok()) return Status::corruption("{}: {}", where, parsed.status().message());
  out = std::move(parsed).value();
  return expand(out, source, where, depth + 1);
}

Status expand(Json& v, BlobSource& source, std::string_view where, int depth) {
  if (depth > kMaxExpandDepth) {
    return Status::corruption("{}: large-value references nest deeper than {}", where,
                              kMaxExpandDepth);
  }
  if (const Json* ref = reference(v, kBlobKey)) {
    Json loaded;
    ARTANA_RETURN_IF_ERROR(load_blob(*ref, source, where, depth, loaded));
    v = std::move(loaded);
    return Status();
  }
  if (const Json* parts = reference(v, kConcatKey)) {
    if (!parts->is_array()) return Status::corruption("{}: a concat reference is malformed", where);
    Json::Array joined;
    for (const Json& part : parts->as_array()) {
      Json piece = part;
      ARTANA_RETURN_IF_ERROR(expand(piece, source, where, depth + 1));
      if (!piece.is_array()) {
        return Status::corruption("{}: a concat part is not an array", where);
      }
      for (Json& item : piece.as_array()) joined.push_back(std::move(item));
    }
    v = Json(std::move(joined));
    return Status();
  }
  if (v.is_array()) {
    for (Json& item : v.as_array()) ARTANA_RETURN_IF_ERROR(expand(item, source, where, depth));
  } else if (v.is_object()) {
    for (Json::Member& m : v.as_object()) {
      ARTANA_RETURN_IF_ERROR(expand(m.second, source, where, depth));
    }
  }
  return Status();
}

}  // namespace

Status encode_payload(const Json& payload, size_t threshold, BlobSink& sink, std::string& out,
                      std::string_view root) {
  if (!payload.is_object()) {
    return Status::invalid_argument("{}: must be a JSON object, got {}", root,
                                    json_type_name(payload.type()));
  }
  Encoder encoder(threshold, sink, out);
  PathNode top{nullptr, root, std::string_view::npos};
  return encoder.value(payload, &top, true);
}

Status expand_payload(Json& value, BlobSource& source, std::string_view where) {
  return expand(value, source, where, 0);
}

void for_each_blob_ref(const Json& value, const std::function<void(const Sha256&)>& visit) {
  if (const Json* ref = reference(value, kBlobKey)) {
    if (ref->is_string()) {
      if (auto key = Sha256::from_hex(ref->as_string()); key.ok()) visit(*key);
    }
    return;
  }
  if (value.is_array()) {
    for (const Json& item : value.as_array()) for_each_blob_ref(item, visit);
  } else if (value.is_object()) {
    for (const Json::Member& m : value.as_object()) for_each_blob_ref(m.second, visit);
  }
}

}  // namespace artana::kernel::ledger
