// Scripts and runs (artana.h, "scripts", "runs").
#include <algorithm>
#include <cstring>
#include <string>

#include "artana/host/run_request.h"
#include "artana/kernel/canonical_json.h"
#include "artana/kernel/json_parse.h"
#include "artana/lua/chunk_check.h"
#include "capi_internal.h"
#include "script_source.h"

using artana::Result;
using artana::Status;
using artana::kernel::Json;
using namespace artana::capi;

namespace {

constexpr size_t kMaxScriptName = 200;

// A memory script's name: what `mem:<name>` and its errors show.
bool valid_script_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxScriptName) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.' || c == '/';
  });
}

Result<Json> parse_argument(const char* text, std::string_view argument, Json absent) {
  if (text == nullptr) return absent;
  return artana::kernel::parse_json(text, argument);
}

artana_script* add_script(artana_host& host, std::string path, std::string name) {
  auto script = std::make_unique<artana_script>();
  script->host = &host;
  script->path = std::move(path);
  script->name = std::move(name);
  host.scripts.push_back(std::move(script));
  return host.scripts.back().get();
}

artana_run* add_run(artana_host& host, artana::kernel::RunId id) {
  auto run = std::make_unique<artana_run>();
  run->host = &host;
  run->id = std::move(id);
  host.runs.push_back(std::move(run));
  return host.runs.back().get();
}

template <typename Handle>
void erase_handle(std::vector<std::unique_ptr<Handle>>& handles, Handle* handle) {
  handles.erase(std::remove_if(handles.begin(), handles.end(),
                               [&](const std::unique_ptr<Handle>& h) { return h.get() == handle; }),
                handles.end());
}

// The options of artana_run_start, into the request prepare_run takes.
Result<artana::host::RunRequest> run_request(const Json& options,
                                             std::optional<std::string>& run_id) {
  artana::host::RunRequest request;
  if (!options.is_object()) return Status::invalid_argument("options_json must be an object");
  for (const auto& [key, value] : options.as_object()) {
    if (key == "run_id") {
      if (!value.is_string())
        return Status::invalid_argument("options_json.run_id must be a string");
      run_id = value.as_string();
    } else if (key == "tenant") {
      if (!value.is_string())
        return Status::invalid_argument("options_json.tenant must be a string");
      request.tenant = value.as_string();
    } else if (key == "caps") {
      if (!value.is_array()) return Status::invalid_argument("options_json.caps must be an array");
      for (const Json& cap : value.as_array()) {
        if (!cap.is_string())
          return Status::invalid_argument("options_json.caps must hold strings");
        request.caps.push_back(cap.as_string());
      }
    } else if (key == "budget_usd") {
      const bool number = value.is_integer() || value.is_double();
      const double usd = value.is_integer() ? static_cast<double>(value.as_integer())
                         : number           ? value.as_double()
                                            : -1;
      if (!number || usd < 0 || usd > 1e9)
        return Status::invalid_argument("options_json.budget_usd must be a number 0..1e9");
      request.budget_micro_usd = static_cast<int64_t>(usd * 1e6 + 0.5);
    } else if (key == "replay") {
      const std::string policy = value.is_string() ? value.as_string() : "";
      if (policy == "strict") {
        request.replay = artana::kernel::ReplayPolicy::kStrict;
      } else if (policy == "allow_prompt_drift") {
        request.replay = artana::kernel::ReplayPolicy::kAllowPromptDrift;
      } else if (policy == "fork_on_drift") {
        request.replay = artana::kernel::ReplayPolicy::kForkOnDrift;
      } else {
        return Status::invalid_argument(
            "options_json.replay must be strict, allow_prompt_drift or fork_on_drift");
      }
    } else if (key == "seed") {
      if (!value.is_integer())
        return Status::invalid_argument("options_json.seed must be an integer");
      request.seed = value.as_integer();
    } else {
      return Status::invalid_argument(
          "options_json: unknown key '{}' (run_id, tenant, caps, budget_usd, replay, seed)", key);
    }
  }
  return request;
}

// The output a completed run recorded (its run_completed event); ARTANA_E_STATE when the
// ledger does not hold it completed.
Result<Json> recorded_output(artana::kernel::EventStore& store, const artana::kernel::RunId& id) {
  ARTANA_ASSIGN_OR_RETURN(artana::kernel::RunInfo info, store.run_info(id));
  if (info.status == artana::kernel::RunStatus::kCompleted && info.head_seq > 0) {
    ARTANA_ASSIGN_OR_RETURN(artana::kernel::Event ending, store.read_event(id, info.head_seq));
    if (ending.type == "run_completed") {
      if (const Json* output = ending.payload.find("output")) return *output;
    }
  }
  return Status::failed_precondition("run '{}' is {}, not completed", id.str(),
                                     artana::kernel::run_status_name(info.status));
}

}  // namespace

extern "C" {

artana_status artana_script_load_memory(artana_host* host, const char* name, const char* src,
                                        size_t len, artana_script** out) {
  constexpr const char* kFunction = "artana_script_load_memory";
  return guarded(kFunction, [&] {
    if (out == nullptr) return null_argument(kFunction, "out");
    *out = nullptr;
    if (host == nullptr) return null_argument(kFunction, "host");
    HostCall call(*host);
    if (name == nullptr) return null_argument(kFunction, "name");
    if (src == nullptr && len != 0) return null_argument(kFunction, "src");
    if (!valid_script_name(name)) {
      return fail(kFunction, ARTANA_E_INVALID_ARGUMENT,
                  std::string("name '") + name +
                      "' is not 1..200 bytes of letters, digits, '_', '-', '.', '/'");
    }
    for (const auto& script : host->scripts) {
      if (script->name == name)
        return fail(kFunction, ARTANA_E_STATE,
                    std::string("script '") + name + "' is loaded already (unload it first)");
    }
    std::string text(src == nullptr ? "" : src, len);
    Status compiled = artana::lua::check_script_syntax(text, name);
    if (!compiled.ok()) return fail(kFunction, compiled);
    host->host->set_memory_script(name, std::move(text));
    *out = add_script(*host, "mem:" + std::string(name), name);
    host->host->resume_script((*out)->path);  // its runs, stopped by an unload, go on
    return ok();
  });
}

artana_status artana_script_load_file(artana_host* host, const char* path, artana_script** out) {
  constexpr const char* kFunction = "artana_script_load_file";
  return guarded(kFunction, [&] {
    if (out == nullptr) return null_argument(kFunction, "out");
    *out = nullptr;
    if (host == nullptr) return null_argument(kFunction, "host");
    HostCall call(*host);
    if (path == nullptr) return null_argument(kFunction, "path");
    // Read and compiled now, so a missing file or a syntax error is this call's; each run
    // started from it reads the file (and its modules) again, as `artana run` does.
    auto source = artana::host::ScriptSource::from_file(path, "");
    if (!source.ok()) return fail(kFunction, source.status());
    Status compiled =
        artana::lua::check_script_syntax(source->entry().text, source->entry().chunkname);
    if (!compiled.ok()) return fail(kFunction, compiled);
    for (const auto& script : host->scripts) {
      if (script->name.empty() && script->path == source->entry_path())
        return fail(kFunction, ARTANA_E_STATE,
                    "script '" + source->entry_path() + "' is loaded already (unload it first)");
    }
    *out = add_script(*host, source->entry_path(), "");
    host->host->resume_script((*out)->path);  // its runs, stopped by an unload, go on
    return ok();
  });
}

artana_status artana_script_unload(artana_script* script) {
  constexpr const char* kFunction = "artana_script_unload";
  return guarded(kFunction, [&] {
    if (script == nullptr) return ok();
    artana_host& host = *script->host;
    HostCall call(host);
    host.host->suspend_script(script->path);
    if (!script->name.empty()) host.host->remove_memory_script(script->name);
    erase_handle(host.scripts, script);
    return ok();
  });
}

artana_status artana_run_start(artana_host* host, artana_script* script, const char* input_json,
                               const char* options_json, artana_run** out) {
  constexpr const char* kFunction = "artana_run_start";
  return guarded(kFunction, [&] {
    if (out == nullptr) return null_argument(kFunction, "out");
    *out = nullptr;
    if (host == nullptr) return null_argument(kFunction, "host");
    HostCall call(*host);
    if (script == nullptr) return null_argument(kFunction, "script");
    if (script->host != host)
      return fail(kFunction, ARTANA_E_INVALID_ARGUMENT, "script belongs to another host");
    auto input = parse_argument(input_json, "input_json", Json::object());
    if (!input.ok()) return fail(kFunction, input.status());
    auto options = parse_argument(options_json, "options_json", Json::object());
    if (!options.ok()) return fail(kFunction, options.status());
    std::optional<std::string> run_id;
    auto request = run_request(*options, run_id);
    if (!request.ok()) return fail(kFunction, request.status());
    request->input = std::move(*input);
    artana::host::RunOptions run_options;
    if (run_id) {
      Status valid = artana::kernel::check_identifier("options_json.run_id", *run_id);
      if (!valid.ok()) return fail(kFunction, valid);
      run_options.run_id = artana::kernel::RunId(*run_id);
    } else {
      run_options.run_id = artana::kernel::Kernel::new_run_id();
    }
    std::string path = script->path;
    Status prepared = artana::host::prepare_run(*request, *host->kernel, *host->store,
                                                /*resume=*/false, run_options, path);
    if (!prepared.ok()) return fail(kFunction, prepared);
    auto started = host->host->start(path, std::move(run_options));
    if (!started.ok()) return fail(kFunction, started.status());
    *out = add_run(*host, *started);
    return ok();
  });
}

artana_status artana_run_open(artana_host* host, const char* run_id, artana_run** out) {
  constexpr const char* kFunction = "artana_run_open";
  return guarded(kFunction, [&] {
    if (out == nullptr) return null_argument(kFunction, "out");
    *out = nullptr;
    if (host == nullptr) return null_argument(kFunction, "host");
    HostCall call(*host);
    if (run_id == nullptr) return null_argument(kFunction, "run_id");
    auto info = host->store->run_info(artana::kernel::RunId(run_id));
    if (!info.ok()) return fail(kFunction, info.status());
    *out = add_run(*host, artana::kernel::RunId(run_id));
    return ok();
  });
}

const char* artana_run_id(artana_run* run) { return run == nullptr ? "" : run->id.str().c_str(); }

artana_status artana_run_status(artana_run* run, const char** status) {
  constexpr const char* kFunction = "artana_run_status";
  return guarded(kFunction, [&] {
    if (run == nullptr) return null_argument(kFunction, "run");
    HostCall call(*run->host);
    if (status == nullptr) return null_argument(kFunction, "status");
    *status = nullptr;
    // The ledger's: it is where every change lands (an execution here, a cancel, another
    // process). A run that failed before it was recorded (its script raised while loading)
    // has only this host's outcome.
    auto info = run->host->store->run_info(run->id);
    if (info.ok()) {
      run->status = std::string(artana::kernel::run_status_name(info->status));
    } else if (auto outcome = run->host->host->outcome(run->id);
               outcome && info.status().code() == artana::StatusCode::kNotFound) {
      run->status = std::string(artana::kernel::run_status_name(outcome->status));
    } else {
      return fail(kFunction, info.status());
    }
    *status = run->status.c_str();
    return ok();
  });
}

artana_status artana_run_output(artana_run* run, char** json, size_t* len) {
  constexpr const char* kFunction = "artana_run_output";
  return guarded(kFunction, [&] {
    if (run == nullptr) return null_argument(kFunction, "run");
    HostCall call(*run->host);
    if (json == nullptr) return null_argument(kFunction, "json");
    *json = nullptr;
    if (auto outcome = run->host->host->outcome(run->id);
        outcome && outcome->status == artana::kernel::RunStatus::kCompleted) {
      return hand_out_json(kFunction, outcome->output, json, len);
    }
    // Not ended in this host: a run that completed elsewhere (another process, an earlier
    // host) ends with its run_completed event, the head of its chain.
    auto output = recorded_output(*run->host->store, run->id);
    if (!output.ok()) return fail(kFunction, output.status());
    return hand_out_json(kFunction, *output, json, len);
  });
}

artana_status artana_run_error(artana_run* run, char** json, size_t* len) {
  constexpr const char* kFunction = "artana_run_error";
  return guarded(kFunction, [&] {
    if (run == nullptr) return null_argument(kFunction, "run");
    HostCall call(*run->host);
    if (json == nullptr) return null_argument(kFunction, "json");
    *json = nullptr;
    auto outcome = run->host->host->outcome(run->id);
    return hand_out_json(kFunction, outcome ? outcome->error : Json(), json, len);
  });
}

artana_status artana_run_resume(artana_run* run, const char* input_json) {
  constexpr const char* kFunction = "artana_run_resume";
  return guarded(kFunction, [&] {
    if (run == nullptr) return null_argument(kFunction, "run");
    HostCall call(*run->host);
    auto input = parse_argument(input_json, "input_json", Json());
    if (!input.ok()) return fail(kFunction, input.status());
    Status resumed = run->host->host->resume(run->id, *input);
    return resumed.ok() ? ok() : fail(kFunction, resumed);
  });
}

artana_status artana_run_cancel(artana_run* run, const char* reason) {
  constexpr const char* kFunction = "artana_run_cancel";
  return guarded(kFunction, [&] {
    if (run == nullptr) return null_argument(kFunction, "run");
    HostCall call(*run->host);
    Status cancelled = run->host->host->cancel(run->id, reason != nullptr ? reason : "cancelled");
    return cancelled.ok() ? ok() : fail(kFunction, cancelled);
  });
}

void artana_run_release(artana_run* run) {
  if (run == nullptr) return;
  try {
    HostCall call(*run->host);
    erase_handle(run->host->runs, run);
  } catch (...) {
  }
}

}  // extern "C"
