// The kernel's only way into valijson: every translation unit that uses it includes this
// header before any valijson header, so all of them see the same VALIJSON_USE_EXCEPTIONS.
// valijson's inline functions differ with it, and two differing definitions of one inline
// function in a program break the one-definition rule.
#pragma once

// valijson reports a bad schema or an unusable value by throwing only with this defined;
// without it, it prints and calls abort(). Nothing it throws gets past JsonSchema's methods.
#define VALIJSON_USE_EXCEPTIONS 1
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validation_visitor.hpp>

#include "json_schema/json_adapter.h"
