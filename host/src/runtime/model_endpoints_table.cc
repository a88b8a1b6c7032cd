// parse_model_endpoints: endpoints from a table, every field checked by name.
#include <cmath>

#include "artana/host/model_endpoints.h"

namespace artana::host {
namespace {

using kernel::Json;

// Reads one entry's fields; `bad` names the field.
class EntryReader {
 public:
  EntryReader(std::string_view source, std::string_view key) : source_(source), key_(key) {}

  Status bad(std::string_view field, std::string_view why) const {
    return Status::invalid_argument("{}: models entry '{}': {} {}", source_, key_, field, why);
  }
  Status text(const Json& value, std::string_view field, std::string& out) const {
    if (!value.is_string()) return bad(field, "must be a string");
    out = value.as_string();
    return Status();
  }
  Status number(const Json& value, std::string_view field, double& out) const {
    if (!value.is_number()) return bad(field, "must be a number");
    out = value.as_number();
    return Status();
  }
  Status whole(const Json& value, std::string_view field, int& out) const {
    if (!value.is_integer() || value.as_integer() < INT32_MIN || value.as_integer() > INT32_MAX) {
      return bad(field, "must be an integer");
    }
    out = static_cast<int>(value.as_integer());
    return Status();
  }
  Status prices(const Json& value, ModelPrices& out) const {
    if (!value.is_object()) return bad("prices", "must be a table {input, cached_input, output}");
    for (const auto& [name, price] : value.as_object()) {
      const std::string field = "prices." + name;
      if (name == "input") {
        ARTANA_RETURN_IF_ERROR(number(price, field, out.input));
      } else if (name == "cached_input") {
        ARTANA_RETURN_IF_ERROR(number(price, field, out.cached_input));
      } else if (name == "output") {
        ARTANA_RETURN_IF_ERROR(number(price, field, out.output));
      } else {
        return bad(field, "is not a price (input, cached_input, output)");
      }
    }
    return Status();
  }

 private:
  std::string_view source_, key_;
};

Result<ModelEndpoint> parse_entry(const Json& fields, const EntryReader& read) {
  ModelEndpoint e;
  if (!fields.is_object()) return read.bad("", "must be a table of fields");
  bool has_base = false;
  for (const auto& [name, value] : fields.as_object()) {
    if (name == "base_url") {
      ARTANA_RETURN_IF_ERROR(read.text(value, name, e.base_url));
      has_base = true;
    } else if (name == "api_key_env") {
      ARTANA_RETURN_IF_ERROR(read.text(value, name, e.api_key_env));
    } else if (name == "api_mode") {
      std::string mode;
      ARTANA_RETURN_IF_ERROR(read.text(value, name, mode));
      auto parsed = parse_api_mode(mode);
      if (!parsed.ok()) return read.bad(name, "must be auto, responses or chat");
      e.api_mode = *parsed;
    } else if (name == "connect_timeout_s") {
      ARTANA_RETURN_IF_ERROR(read.number(value, name, e.connect_timeout_s));
    } else if (name == "idle_timeout_s") {
      ARTANA_RETURN_IF_ERROR(read.number(value, name, e.idle_timeout_s));
    } else if (name == "step_deadline_s") {
      ARTANA_RETURN_IF_ERROR(read.number(value, name, e.step_deadline_s));
    } else if (name == "max_retries") {
      ARTANA_RETURN_IF_ERROR(read.whole(value, name, e.max_retries));
    } else if (name == "repair_attempts") {
      ARTANA_RETURN_IF_ERROR(read.whole(value, name, e.repair_attempts));
    } else if (name == "max_connections") {
      ARTANA_RETURN_IF_ERROR(read.whole(value, name, e.max_connections));
    } else if (name == "stream") {
      if (!value.is_bool()) return read.bad(name, "must be true or false");
      e.stream = value.as_bool();
    } else if (name == "prices") {
      ModelPrices prices;
      ARTANA_RETURN_IF_ERROR(read.prices(value, prices));
      e.prices = prices;
    } else {
      return read.bad(name,
                      "is not a field (base_url, api_key_env, api_mode, connect_timeout_s, "
                      "idle_timeout_s, step_deadline_s, max_retries, repair_attempts, "
                      "max_connections, stream, prices)");
    }
  }
  if (!has_base) return read.bad("base_url", "is missing");
  return e;
}

}  // namespace

Result<ModelEndpoints> parse_model_endpoints(const Json& table, std::string_view source) {
  ModelEndpoints endpoints;
  if (!table.is_object()) {
    return Status::invalid_argument(
        "{}: must return a table of entries keyed by model name or prefix "
        "({{[\"gpt-4o*\"] = {{base_url = ...}}}}), not a {}",
        source, kernel::json_type_name(table.type()));
  }
  for (const auto& [key, fields] : table.as_object()) {
    ARTANA_ASSIGN_OR_RETURN(ModelEndpoint endpoint, parse_entry(fields, EntryReader(source, key)));
    endpoints.entries.emplace(key, std::move(endpoint));
  }
  if (Status checked = endpoints.check(); !checked.ok()) {
    return Status::invalid_argument("{}: {}", source, checked.message());
  }
  return endpoints;
}

}  // namespace artana::host
