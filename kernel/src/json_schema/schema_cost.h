// Bounds on the work a schema can make valijson do, which does not grow with the schema's
// text: subschemas reached through "$ref"/"allOf"/... are applied again on every path that
// reaches them, so a schema of 27 definitions, each referring twice to the next, applies
// 2^27 subschemas to one value, and `{"allOf": [{"items": {"$ref": "#"}}, {"items": {"$ref":
// "#"}}]}` applies 2^d to a value nested d deep. compile() refuses the first kind
// (ExpansionCheck), and validate() counts the applications before valijson runs
// (count_applications), refusing a value whose validation would take too long.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "artana/kernel/json.h"
#include "artana/kernel/status.h"
#include "json_schema/schema_prepare.h"

namespace artana::kernel::schema {

// At most this many subschemas may apply to one value through in-place keywords, and a chain
// of them may be at most kMaxInPlaceDepth long (valijson recurses once per link, in frames
// of several KB).
inline constexpr uint64_t kMaxInPlaceSchemas = 10'000;
inline constexpr uint64_t kMaxInPlaceDepth = 128;

// A subschema and the document its "#..." references resolve in (the schema, or the
// meta-schema for a "$ref" to it).
using Located = std::pair<const Json*, const Json*>;

// Subschemas valijson applies to the same value as `node`: "$ref" (alone, as draft 7 says),
// allOf/anyOf/oneOf, not/if/then/else, schema dependencies. `meta` may be null (the
// meta-schema's own references are then not followed).
void in_place_subschemas(const Json& node, const Json& doc, const Json* meta,
                         std::vector<Located>& out);

// Measures the in-place subschemas of each subschema of one schema, remembering what it
// measured: refuses a loop (validation would never end), more than kMaxInPlaceSchemas, or a
// chain deeper than kMaxInPlaceDepth. Its recursion is bounded by kMaxInPlaceDepth.
class ExpansionCheck {
 public:
  explicit ExpansionCheck(const Json& schema) : schema_(schema) {}
  // invalid_argument naming `at` (the path of `node` in the schema) and the problem.
  Status check(const Json& node, const Path& at);

 private:
  struct Size {
    uint64_t schemas = 0;  // subschemas applied to the value, itself included
    uint64_t depth = 0;    // the longest chain, itself included
  };
  enum class Problem { kNone, kLoop, kTooMany, kTooDeep };
  Problem measure(const Json* node, uint64_t depth, Size& out);

  const Json& schema_;
  std::unordered_map<const Json*, Size> measured_;
  std::unordered_set<const Json*> on_path_;
};

// The (subschema, value) pairs validating `value` visits, over-approximated (every
// patternProperties and both branches of if count), or `limit` + 1 once it passes `limit`.
uint64_t count_applications(const Json& schema, const Json& meta, const Json& value,
                            uint64_t limit);

}  // namespace artana::kernel::schema
