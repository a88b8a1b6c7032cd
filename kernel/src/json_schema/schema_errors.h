// How failures read: valijson's first error, and whatever valijson throws, become our
// messages and Statuses (schema_errors.cc). Pure functions, thread-safe.
#pragma once

#include "json_schema/valijson.h"

#include <string>
#include <string_view>

#include "artana/kernel/json.h"
#include "artana/kernel/status.h"

namespace artana::kernel::schema {

// `text` in single quotes, escaped and clipped as quote_json_key does.
std::string quoted(std::string_view text);

// Maps what escaped valijson (or std::regex, or the allocator) to a Status. Call only from a
// catch block: it rethrows the exception being handled.
Status exception_status(std::string_view doing);

// valijson's first error (the innermost of the first failure) as "<path>: <what failed>".
// `value` is what was validated, `schema` the source of the schema it failed, `meta` true
// when that schema is the meta-schema.
std::string describe(const valijson::ValidationResults::Error& error, const Json& value,
                     std::string_view root, const Json& schema, bool meta);

}  // namespace artana::kernel::schema
