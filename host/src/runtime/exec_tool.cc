#include "exec_tool.h"

#include <cstdlib>

#include "artana/kernel/canonical_json.h"
#include "base64.h"
#include "workspace_path.h"

namespace artana::host {

using kernel::Json;

namespace {

Status bad(std::string_view message) {
  return Status::invalid_argument("run:exec: {}", message).with_kind(ErrorKind::kInvalidArgument);
}

bool env_name(std::string_view name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

// A stream as recorded: text when it is UTF-8, else base64 under `<name>_base64`.
void put_stream(Json& out, std::string_view name, const std::string& bytes) {
  if (kernel::is_valid_utf8(bytes)) {
    out.set(std::string(name), bytes);
  } else {
    out.set(std::string(name) + "_base64", io::base64(bytes));
  }
}

}  // namespace

kernel::ToolSpec exec_tool_spec() {
  kernel::ToolSpec spec;
  spec.name = std::string(kExecTool);
  spec.description = "run:exec: a program in the workspace";
  spec.capability = std::string(kExecCapability);
  spec.capability_required = true;
  spec.side_effect = true;
  spec.arguments = Json::object(
      {{"type", "object"},
       {"required", Json::array({Json("argv")})},
       {"additionalProperties", false},
       {"properties",
        Json::object(
            {{"argv", Json::object({{"type", "array"},
                                    {"minItems", 1},
                                    {"items", Json::object({{"type", "string"}})}})},
             {"cwd", Json::object({{"type", "string"}})},
             {"env", Json::object({{"type", "object"},
                                   {"additionalProperties", Json::object({{"type", "string"}})}})},
             {"timeout_s",
              Json::object({{"type", "number"}, {"exclusiveMinimum", 0}, {"maximum", 3600}})}})}});
  return spec;
}

Result<io::ProcessCall> exec_process_call(const Json& args, const std::string& workspace) {
  if (!args.is_object()) return bad("expects a table");
  io::ProcessCall call;
  std::string cwd = ".";
  double timeout_s = 60;
  std::vector<std::string> extra_env;
  for (const auto& [field, value] : args.as_object()) {
    if (field == "argv" && value.is_array() && value.size() > 0) {
      for (const Json& arg : value.as_array()) {
        if (!arg.is_string() || arg.as_string().find('\0') != std::string::npos) {
          return bad("argv must be an array of strings without NUL");
        }
        call.argv.push_back(arg.as_string());
      }
      if (call.argv[0].empty()) return bad("argv[1] must name a program");
    } else if (field == "cwd" && value.is_string()) {
      cwd = value.as_string();
    } else if (field == "timeout_s" && value.is_number()) {
      timeout_s = value.as_number();
    } else if (field == "env" && value.is_object()) {
      for (const auto& [name, text] : value.as_object()) {
        if (!env_name(name)) return bad("env: '" + name + "' is not a variable name");
        if (!text.is_string() || text.as_string().find('\0') != std::string::npos) {
          return bad("env." + name + " must be a string without NUL");
        }
        extra_env.push_back(name + "=" + text.as_string());
      }
    } else {
      return bad("bad field '" + field + "'");
    }
  }
  if (call.argv.empty()) return bad("`argv` is required: { \"program\", \"arg\", ... }");
  if (!(timeout_s > 0 && timeout_s <= 3600)) {
    return bad("`timeout_s` must be a number of seconds in (0, 3600]");
  }
  if (workspace.empty()) {
    return Status::permission_denied(
               "run:exec: the host has no workspace for programs to run in (--workspace DIR)")
        .with_kind(ErrorKind::kPolicyViolation);
  }
  ARTANA_ASSIGN_OR_RETURN(call.cwd, resolve_inside(workspace, cwd, "run:exec: cwd"));
  for (const char* name : {"PATH", "HOME", "LANG"}) {
    if (const char* value = std::getenv(name)) call.env.push_back(std::string(name) + "=" + value);
  }
  call.env.insert(call.env.end(), extra_env.begin(), extra_env.end());
  call.timeout_ms = static_cast<int64_t>(timeout_s * 1000);
  return call;
}

kernel::ToolOutcome exec_outcome(io::ProcessResult result) {
  kernel::ToolOutcome outcome;
  if (!result.started) {
    outcome.kind = kernel::ToolOutcomeKind::kPermanentError;  // declared: nothing ran
    outcome.error = "run:exec: " + result.error;
    return outcome;
  }
  Json out = Json::object({{"exit_code", static_cast<int64_t>(result.exit_code)},
                           {"truncated", result.truncated},
                           {"timed_out", result.timed_out}});
  if (result.signal != 0) out.set("signal", static_cast<int64_t>(result.signal));
  put_stream(out, "stdout", result.out);
  put_stream(out, "stderr", result.err);
  outcome.result = std::move(out);
  return outcome;
}

}  // namespace artana::host
