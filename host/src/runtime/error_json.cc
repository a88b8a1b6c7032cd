#include "error_json.h"

#include <cstdio>

namespace artana::host {

using kernel::Json;

namespace {
std::string field(const Json& error, std::string_view name) {
  const Json* value = error.find(name);
  return value != nullptr && value->is_string() ? value->as_string() : std::string();
}
}  // namespace

Json boundary_error_json(const lua::BoundaryError& error, const std::string& traceback) {
  Json json =
      Json::object({{"kind", std::string(error.kind)}, {"message", std::string(error.message)}});
  if (error.step_key[0] != '\0') json.set("step_key", std::string(error.step_key));
  if (error.where[0] != '\0') json.set("where", std::string(error.where));
  if (!traceback.empty()) json.set("traceback", traceback);
  return json;
}

lua::BoundaryError boundary_from_json(const Json& error) {
  lua::BoundaryError e = lua::BoundaryError::make(field(error, "kind"), field(error, "message"),
                                                  field(error, "step_key"));
  const std::string where = field(error, "where");
  std::snprintf(e.where, sizeof e.where, "%s", where.c_str());
  return e;
}

Json status_error_json(const Status& status) {
  return boundary_error_json(lua::BoundaryError::from(status), {});
}

}  // namespace artana::host
