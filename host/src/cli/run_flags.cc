#include "run_flags.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <set>

#include "artana/host/outside_settings.h"
#include "artana/kernel/event.h"
#include "artana/kernel/json_parse.h"

namespace artana::host {
namespace {

using kernel::Json;

Result<int64_t> parse_integer(const std::string& flag, const std::string& text, int64_t min) {
  char* end = nullptr;
  errno = 0;
  const long long value = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno != 0 || value < min)
    return Status::invalid_argument("{} expects an integer >= {}, got '{}'", flag, min, text);
  return static_cast<int64_t>(value);
}

Result<int64_t> parse_usd(const std::string& text) {
  char* end = nullptr;
  const double usd = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !std::isfinite(usd) || usd < 0 || usd > 1e9)
    return Status::invalid_argument("--budget expects US dollars (e.g. 2.50), got '{}'", text);
  return static_cast<int64_t>(std::llround(usd * 1e6));
}

// Which flags each verb takes.
const std::set<std::string>& allowed(const std::string& verb) {
  static const std::set<std::string> run = {
      "--run-id",           "--tenant", "--caps",       "--budget",         "--policy",
      "--durability",       "--replay", "--input",      "--seed",           "--max-memory",
      "--max-instructions", "--watch",  "--pinned",     "--model-endpoint", "--api-key-env",
      "--models",           "--stream", "--http-allow", "--secret-env",     "--workspace"};
  static const std::set<std::string> resume = {
      "--input",      "--budget",           "--grant",      "--policy",         "--durability",
      "--max-memory", "--max-instructions", "--pinned",     "--model-endpoint", "--api-key-env",
      "--models",     "--stream",           "--http-allow", "--secret-env",     "--workspace"};
  static const std::set<std::string> worker = {
      "--once",       "--poll-ms",          "--policy",         "--durability",
      "--max-memory", "--max-instructions", "--model-endpoint", "--api-key-env",
      "--models",     "--stream",           "--http-allow",     "--secret-env",
      "--workspace"};
  if (verb == "run") return run;
  if (verb == "resume") return resume;
  return worker;
}

}  // namespace

Result<RunFlags> parse_run_flags(const std::vector<std::string>& args) {
  RunFlags flags;
  flags.verb = args[0];
  const std::set<std::string>& ok = allowed(flags.verb);
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg.rfind("--", 0) != 0) {
      if (!flags.target.empty() || flags.verb == "worker")
        return Status::invalid_argument("{}: unexpected argument '{}'", flags.verb, arg);
      flags.target = arg;
      continue;
    }
    if (!ok.count(arg)) return Status::invalid_argument("{} does not take {}", flags.verb, arg);
    if (arg == "--watch") {
      flags.watch = true;
      continue;
    }
    if (arg == "--pinned") {
      flags.pinned = true;
      continue;
    }
    if (arg == "--once") {
      flags.once = true;
      continue;
    }
    if (arg == "--stream") {
      flags.stream = true;
      continue;
    }
    if (i + 1 >= args.size()) return Status::invalid_argument("{} needs a value", arg);
    const std::string& value = args[++i];
    if (arg == "--run-id") {
      ARTANA_RETURN_IF_ERROR(kernel::check_identifier("--run-id", value));
      flags.run_id = value;
    } else if (arg == "--tenant") {
      ARTANA_RETURN_IF_ERROR(kernel::check_identifier("--tenant", value));
      flags.tenant = value;
    } else if (arg == "--caps") {
      flags.caps = split_list(value);
    } else if (arg == "--grant") {
      flags.grants = split_list(value);
    } else if (arg == "--budget") {
      ARTANA_ASSIGN_OR_RETURN(flags.budget_micro_usd, parse_usd(value));
    } else if (arg == "--policy") {
      if (value != "permissive" && value != "enforced")
        return Status::invalid_argument("--policy is permissive or enforced, not '{}'", value);
      flags.enforced = value == "enforced";
    } else if (arg == "--durability") {
      auto durability = kernel::parse_durability(value);
      if (!durability.ok())
        return Status::invalid_argument("--durability is full, effects or none, not '{}'", value);
      flags.durability = *durability;
    } else if (arg == "--replay") {
      auto policy = kernel::parse_replay_policy(value);
      if (!policy.ok())
        return Status::invalid_argument(
            "--replay is strict, allow_prompt_drift or fork_on_drift, not '{}'", value);
      flags.replay = *policy;
    } else if (arg == "--input") {
      auto input = kernel::parse_json(value);
      if (!input.ok())
        return Status::invalid_argument("--input is not JSON: {}", input.status().message());
      flags.input = std::move(*input);
    } else if (arg == "--seed") {
      ARTANA_ASSIGN_OR_RETURN(int64_t seed, parse_integer(arg, value, -(int64_t{1} << 53)));
      if (seed > (int64_t{1} << 53)) return Status::invalid_argument("--seed must be within ±2^53");
      flags.seed = seed;
    } else if (arg == "--max-memory") {
      ARTANA_ASSIGN_OR_RETURN(int64_t mb, parse_integer(arg, value, 1));
      if (mb > (int64_t{1} << 20))
        return Status::invalid_argument("--max-memory is in MB, at most 1048576");
      flags.max_memory_mb = static_cast<uint64_t>(mb);
    } else if (arg == "--max-instructions") {
      ARTANA_ASSIGN_OR_RETURN(int64_t n, parse_integer(arg, value, 1000));
      flags.max_instructions = static_cast<uint64_t>(n);
    } else if (arg == "--model-endpoint") {
      flags.model_endpoint = value;
    } else if (arg == "--api-key-env") {
      flags.api_key_env = value;
    } else if (arg == "--models") {
      flags.models_file = value;
    } else if (arg == "--workspace") {
      ARTANA_ASSIGN_OR_RETURN(flags.workspace, workspace_setting(arg, value));
    } else if (arg == "--http-allow") {
      ARTANA_ASSIGN_OR_RETURN(const std::vector<std::string> hosts, http_allow_setting(arg, value));
      flags.http_allow.insert(flags.http_allow.end(), hosts.begin(), hosts.end());
    } else if (arg == "--secret-env") {
      ARTANA_ASSIGN_OR_RETURN(const std::vector<std::string> names, secret_env_setting(arg, value));
      flags.secret_env.insert(flags.secret_env.end(), names.begin(), names.end());
    } else if (arg == "--poll-ms") {
      ARTANA_ASSIGN_OR_RETURN(flags.poll_ms, parse_integer(arg, value, 1));
    }
  }
  if (flags.verb == "run" && flags.target.empty())
    return Status::invalid_argument("run needs a SCRIPT");
  if (flags.verb == "resume" && flags.target.empty())
    return Status::invalid_argument("resume needs a RUN_ID");
  if (flags.verb == "resume")
    ARTANA_RETURN_IF_ERROR(kernel::check_identifier("RUN_ID", flags.target));
  return flags;
}

Status prepare_run(const RunFlags& flags, kernel::Kernel& kernel, kernel::EventStore& store,
                   bool resume, RunOptions& options, std::string& script) {
  RunRequest request;
  request.tenant = flags.tenant;
  request.caps = flags.caps;
  request.grants = flags.grants;
  request.budget_micro_usd = flags.budget_micro_usd;
  request.replay = flags.replay;
  request.input = flags.input;
  request.seed = flags.seed;
  request.pinned = flags.pinned;
  return host::prepare_run(request, kernel, store, resume, options, script);
}

std::string stdlib_directory() { return default_stdlib_dir(); }

}  // namespace artana::host
