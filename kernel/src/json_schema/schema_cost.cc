// The bounds of schema_cost.h: what one value can cost, measured on the schema at compile
// time, and what a given value costs, counted before valijson sees it.
#include "json_schema/schema_cost.h"

#include <algorithm>
#include <initializer_list>
#include <string_view>

namespace artana::kernel::schema {

void in_place_subschemas(const Json& node, const Json& doc, const Json* meta,
                         std::vector<Located>& out) {
  if (!node.is_object()) return;
  if (const Json* ref = node.find("$ref"); ref != nullptr && ref->is_string()) {
    std::string_view text = ref->as_string();
    const Json* in = &doc;
    if (meta != nullptr && text.starts_with(kMetaSchemaUri)) {
      text.remove_prefix(kMetaSchemaUri.size());
      in = meta;
    }
    if (text.empty()) text = "#";
    if (const Json* target = resolve_pointer(*in, text)) out.emplace_back(target, in);
    return;  // draft 7: keywords beside "$ref" are ignored
  }
  for (std::string_view key : {"allOf", "anyOf", "oneOf"}) {
    const Json* list = node.find(key);
    for (size_t i = 0; list != nullptr && list->is_array() && i < list->size(); ++i) {
      out.emplace_back(&list->as_array()[i], &doc);
    }
  }
  for (std::string_view key : {"not", "if", "then", "else"}) {
    if (const Json* schema = node.find(key)) out.emplace_back(schema, &doc);
  }
  if (const Json* deps = node.find("dependencies"); deps != nullptr && deps->is_object()) {
    for (const Json::Member& m : deps->as_object()) {
      if (!m.second.is_array()) out.emplace_back(&m.second, &doc);
    }
  }
}

// ---- compile time ---------------------------------------------------------------------------

Status ExpansionCheck::check(const Json& node, const Path& at) {
  Size size;
  switch (measure(&node, 1, size)) {
    case Problem::kNone:
      return {};
    case Problem::kLoop:
      return Status::invalid_argument(
          "{}: its \"$ref\", \"allOf\", \"anyOf\", \"oneOf\", \"not\", \"if\", \"then\", "
          "\"else\" or \"dependencies\" lead into a loop that never descends into the value, "
          "so validation would never end",
          render_json_path(at, "schema"));
    case Problem::kTooMany:
      return Status::invalid_argument(
          "{}: its \"$ref\", \"allOf\", \"anyOf\", \"oneOf\", \"not\", \"if\", \"then\", "
          "\"else\" and \"dependencies\" apply more than {} subschemas to one value (a "
          "subschema reached along several paths counts once per path), so validation would "
          "take too long",
          render_json_path(at, "schema"), kMaxInPlaceSchemas);
    case Problem::kTooDeep:
      return Status::invalid_argument(
          "{}: its \"$ref\", \"allOf\", \"anyOf\", \"oneOf\", \"not\", \"if\", \"then\", "
          "\"else\" and \"dependencies\" chain more than {} subschemas deep on one value",
          render_json_path(at, "schema"), kMaxInPlaceDepth);
  }
  return {};
}

ExpansionCheck::Problem ExpansionCheck::measure(const Json* node, uint64_t depth, Size& out) {
  if (auto it = measured_.find(node); it != measured_.end()) {
    out = it->second;
    return Problem::kNone;
  }
  if (on_path_.contains(node)) return Problem::kLoop;
  if (depth > kMaxInPlaceDepth) return Problem::kTooDeep;  // bounds this recursion
  on_path_.insert(node);
  std::vector<Located> next;
  in_place_subschemas(*node, schema_, nullptr, next);  // the meta-schema is known to be fine
  Size total{1, 1};
  for (const Located& child : next) {
    Size size;
    const Problem problem = measure(child.first, depth + 1, size);
    if (problem != Problem::kNone) return problem;
    total.schemas += size.schemas;
    total.depth = std::max(total.depth, size.depth + 1);
    if (total.schemas > kMaxInPlaceSchemas) return Problem::kTooMany;
    // A chain through a subschema measured before (from a shallower start) is as long as
    // its measure says, not as deep as this recursion went.
    if (total.depth > kMaxInPlaceDepth) return Problem::kTooDeep;
  }
  on_path_.erase(node);
  measured_.emplace(node, total);
  out = total;
  return Problem::kNone;
}

// ---- validation time ------------------------------------------------------------------------

namespace {

struct Application {
  const Json* schema;
  const Json* doc;
  const Json* value;
};

// Pending applications, counted as they are pushed so that neither the count nor the stack
// passes the limit (one object's members can fan out to many at once). A stack, not
// recursion: a value 1024 deep under chains 128 long would be too deep.
class Work {
 public:
  explicit Work(uint64_t limit) : limit_(limit) {}
  bool push(const Json* schema, const Json* doc, const Json* value) {
    if (++count_ > limit_) return false;
    stack_.push_back({schema, doc, value});
    return true;
  }
  bool pop(Application& out) {
    if (stack_.empty()) return false;
    out = stack_.back();
    stack_.pop_back();
    return true;
  }
  uint64_t count() const { return count_; }

 private:
  uint64_t limit_;
  uint64_t count_ = 0;
  std::vector<Application> stack_;
};

// The subschemas applying to the members or items of `a.value`; false past the limit.
bool push_descendants(const Application& a, Work& work) {
  const Json& node = *a.schema;
  const Json& value = *a.value;
  if (value.is_object()) {
    static const Json kAnyName{std::string()};  // propertyNames sees a string: no further work
    const Json* properties = node.find("properties");
    const Json* patterns = node.find("patternProperties");
    const Json* additional = node.find("additionalProperties");
    const Json* names = node.find("propertyNames");
    for (const Json::Member& m : value.as_object()) {
      if (properties != nullptr && properties->is_object()) {
        const Json* s = properties->find(m.first);
        if (s != nullptr && !work.push(s, a.doc, &m.second)) return false;
      }
      if (patterns != nullptr && patterns->is_object()) {
        for (const Json::Member& p : patterns->as_object())
          if (!work.push(&p.second, a.doc, &m.second)) return false;
      }
      if (additional != nullptr && !work.push(additional, a.doc, &m.second)) return false;
      if (names != nullptr && !work.push(names, a.doc, &kAnyName)) return false;
    }
  }
  if (value.is_array()) {
    const Json* items = node.find("items");
    const Json* additional = node.find("additionalItems");
    const Json* contains = node.find("contains");
    for (size_t i = 0; i < value.size(); ++i) {
      const Json* item = &value.as_array()[i];
      const Json* by_position = items;
      if (items != nullptr && items->is_array())
        by_position = i < items->size() ? &items->as_array()[i] : additional;
      if (by_position != nullptr && !work.push(by_position, a.doc, item)) return false;
      if (contains != nullptr && !work.push(contains, a.doc, item)) return false;
    }
  }
  return true;
}

}  // namespace

uint64_t count_applications(const Json& schema, const Json& meta, const Json& value,
                            uint64_t limit) {
  Work work(limit);
  std::vector<Located> in_place;
  Application a{};
  if (!work.push(&schema, &schema, &value)) return work.count();
  while (work.pop(a)) {
    if (!a.schema->is_object()) continue;  // true or false
    in_place.clear();
    in_place_subschemas(*a.schema, *a.doc, &meta, in_place);
    for (const Located& s : in_place)
      if (!work.push(s.first, s.second, a.value)) return work.count();
    if (a.schema->find("$ref") == nullptr && !push_descendants(a, work)) return work.count();
  }
  return work.count();
}

}  // namespace artana::kernel::schema
