// Host: native tools and model ports of the embedding application (native_calls.h), and a
// cancel that stops an execution here at once.
#include <spdlog/spdlog.h>

#include "artana/host/host.h"
#include "builtin_tools.h"
#include "native_inbox.h"
#include "schedule.h"
#include "script_run.h"

namespace artana::host {

namespace {

uintptr_t owner_tag(const ScriptRun& run) { return reinterpret_cast<uintptr_t>(&run); }

bool valid_port_pattern(const std::string& pattern) {
  if (pattern.empty() || pattern.size() > 200) return false;
  const size_t star = pattern.find('*');
  return star == std::string::npos || star == pattern.size() - 1;
}

}  // namespace

Status Host::add_native_tool(NativeTool tool) {
  const std::string name = tool.spec.name;
  if (!tool.fn) return Status::invalid_argument("native tool '{}' has no function", name);
  if (is_builtin_tool(name))
    return Status::invalid_argument("tool '{}' is a built-in of the host", name);
  if (native_tools_.count(name))
    return Status::already_exists("a native tool '{}' is registered already", name);
  ARTANA_ASSIGN_OR_RETURN(std::shared_ptr<const kernel::RegisteredTool> compiled,
                          kernel::ToolRegistry::compile(tool.spec));
  native_tools_.emplace(name, RegisteredNative{std::move(tool), std::move(compiled)});
  shared_tools_.reset();  // made again with this one
  return Status();
}

// The host's built-ins (run:http, run:exec), under names artana.tool refuses: compiled once
// per process, when the first host is made (their schemas took half a millisecond of the
// first run's start, in a frame), and shared by every run's registry.
const CompiledTools& compiled_builtin_tools() {
  static const CompiledTools builtins = [] {
    CompiledTools compiled;
    for (kernel::ToolSpec& spec : builtin_tool_specs()) {
      compiled.push_back(kernel::ToolRegistry::compile(std::move(spec)));
    }
    return compiled;
  }();
  return builtins;
}

Status Host::add_host_tools(kernel::ToolRegistry& registry) const {
  for (const auto& [name, native] : native_tools_) {
    Status added = registry.add_shared(native.compiled);
    if (!added.ok()) {
      return Status::invalid_argument(
                 "tool '{}' is both the script's and a native tool of the application", name)
          .with_kind(ErrorKind::kInvalidArgument);
    }
  }
  for (const auto& tool : compiled_builtin_tools()) {
    if (!tool.ok()) return tool.status().with_kind(ErrorKind::kInternal);
    ARTANA_RETURN_IF_ERROR(registry.add_shared(*tool));
  }
  return Status();
}

Result<std::shared_ptr<const kernel::ToolRegistry>> Host::shared_tools() {
  if (!shared_tools_) {
    auto registry = std::make_shared<kernel::ToolRegistry>();
    ARTANA_RETURN_IF_ERROR(add_host_tools(*registry));
    shared_tools_ = std::move(registry);
  }
  return shared_tools_;
}

Status Host::add_native_port(const std::string& name_or_prefix, NativeFunction fn) {
  if (!valid_port_pattern(name_or_prefix)) {
    return Status::invalid_argument(
        "model port '{}': give a model name or a prefix ending in '*' (1..200 bytes, '*' only "
        "last)",
        name_or_prefix);
  }
  if (!fn) return Status::invalid_argument("model port '{}' has no function", name_or_prefix);
  if (!native_ports_.emplace(name_or_prefix, std::move(fn)).second)
    return Status::already_exists("a model port '{}' is registered already", name_or_prefix);
  return Status();
}

const Host::RegisteredNative* Host::native_tool(const std::string& name) const {
  auto it = native_tools_.find(name);
  return it == native_tools_.end() ? nullptr : &it->second;
}

const NativeFunction* Host::native_port(const std::string& model) const {
  if (auto exact = native_ports_.find(model); exact != native_ports_.end()) return &exact->second;
  const NativeFunction* best = nullptr;
  size_t best_length = 0;
  for (const auto& [pattern, fn] : native_ports_) {
    if (pattern.back() != '*') continue;
    const std::string_view prefix(pattern.data(), pattern.size() - 1);
    if (std::string_view(model).starts_with(prefix) &&
        (best == nullptr || prefix.size() > best_length)) {
      best = &fn;
      best_length = prefix.size();
    }
  }
  return best;
}

void Host::call_native(const NativeFunction& fn, const NativeCall& call, ScriptRun& run,
                       uint64_t task_id) {
  const uint64_t token = native_->issue(owner_tag(run), task_id);
  try {
    fn(call, token);
    return;
  } catch (const std::exception& e) {
    spdlog::error("run={} the application's function for step '{}' threw: {}", call.run_id,
                  call.step_key, e.what());
  } catch (...) {
    spdlog::error("run={} the application's function for step '{}' threw", call.run_id,
                  call.step_key);
  }
  // Settled here: it failed before it could start anything.
  NativeReply failed;
  failed.ok = false;
  failed.message = "the application's function threw";
  (void)complete_native(token, std::move(failed));
}

void Host::forget_native(const ScriptRun& run) {
  native_->cancel_owner(owner_tag(run));
  std::erase_if(schedule_->native_backlog, [tag = owner_tag(run)](const NativeInbox::Done& done) {
    return done.owner == tag;
  });
}

Status Host::cancel(const kernel::RunId& run, const std::string& reason) {
  auto it = runs_.find(run.str());
  kernel::TenantId tenant;
  if (it != runs_.end() && it->second->started()) {
    tenant = it->second->tenant();
  } else if (auto parked = parked_.find(run.str()); parked != parked_.end()) {
    tenant = parked->second.options.tenant.tenant_id;
  } else {
    ARTANA_ASSIGN_OR_RETURN(kernel::RunInfo info, kernel_.run_info(run));
    tenant = info.header.tenant_id;
  }
  ARTANA_RETURN_IF_ERROR(kernel_.cancel(tenant, run, reason).status());
  if (it != runs_.end()) {
    ScriptRun& script = *it->second;
    script.watch_cancel();  // ends it now, its native calls cancelled with it
    may_have_stopped(script);
  }
  return Status();
}

}  // namespace artana::host
