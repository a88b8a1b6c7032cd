// SchemaCache: compiled JSON Schemas by their canonical text, so a schema a run uses on every
// step is compiled once. Thread-safe; grows with the number of distinct schemas seen.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "artana/kernel/json_schema.h"

namespace artana::kernel {

class SchemaCache {
 public:
  // The compiled `schema`, or invalid_argument naming what is wrong with it.
  Result<JsonSchema> get(const Json& schema);

 private:
  std::mutex mu_;
  std::unordered_map<std::string, JsonSchema> compiled_;
};

}  // namespace artana::kernel
