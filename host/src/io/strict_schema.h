// A step's output schema in the form OpenAI's structured outputs accept with `strict: true`
// (the server then only samples tokens the schema allows), or, when that cannot be done
// faithfully, the schema unchanged with `strict: false`.
//
// Strict mode wants every object closed (`additionalProperties: false`) with every property
// `required`, and refuses some keywords. So:
// - an optional property stays optional by becoming nullable (`anyOf: [its schema, {type:
//   null}]`); the answer's nulls for it are dropped again by the caller (drop_added_nulls);
// - keywords strict mode refuses (string lengths and patterns, numeric bounds, array and
//   object sizes…) are left out of what is sent: the host validates the answer against the
//   original schema anyway (finish_model), so nothing the script asked for is lost;
// - a root that is not an object is wrapped as `{value: <schema>}` and unwrapped after;
// - what cannot be expressed closed (an open map: `additionalProperties` a schema or
//   absent-and-unlisted `properties`, `allOf`, `not`, `if`/`then`/`else`,
//   `patternProperties`) keeps the schema as it is, sent with `strict: false`.
#pragma once

#include "artana/kernel/json.h"

namespace artana::io {

struct StrictSchema {
  kernel::Json schema;   // what the request carries
  bool strict = false;   // `strict: true` may be sent with it
  bool wrapped = false;  // the answer is {"value": …}: unwrap it
};

StrictSchema strict_schema(const kernel::Json& schema);

// The answer as the original schema expects it: unwrapped when the schema was wrapped, and
// without the null members strict mode made the model write for optional properties it
// did not fill (they were absent-able, not nullable, in the original).
kernel::Json answer_for_original(kernel::Json answer, const kernel::Json& original,
                                 const StrictSchema& sent);

}  // namespace artana::io
