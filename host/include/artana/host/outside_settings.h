// What an operator lets runs reach outside the host — run:http's hosts and secrets, run:exec's
// workspace, the model endpoints — read and checked one way for the CLI's flags (--http-allow,
// --secret-env, --workspace, --models) and the C API's options (http_allow, secret_env,
// workspace, models). Each error names `what` (the flag or the option) and the bad item.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "artana/host/model_endpoints.h"
#include "artana/kernel/status.h"

namespace artana::host {

// The comma-separated items of `text`, empty ones dropped.
std::vector<std::string> split_list(std::string_view text);

// The workspace of run:exec: an existing directory, made absolute and normal.
Result<std::string> workspace_setting(std::string_view what, const std::string& dir);
// Hosts run:http may reach ("host[:port]", comma-separated), each checked as the host's
// allowlist reads it.
Result<std::vector<std::string>> http_allow_setting(std::string_view what, std::string_view list);
// Environment variables a request header may read ({secret = "NAME"}): names only.
Result<std::vector<std::string>> secret_env_setting(std::string_view what, std::string_view list);
// Model endpoints from a file: sandboxed Lua returning a table of entries
// (parse_model_endpoints), run with small limits.
Result<ModelEndpoints> endpoints_from_file(std::string_view what, const std::string& path);

}  // namespace artana::host
