// Hot reload of a script (artana.h, artana_script_reload, artana_script_reload_file).
#include <string>

#include "artana/kernel/canonical_json.h"
#include "artana/lua/chunk_check.h"
#include "capi_internal.h"
#include "script_source.h"

using artana::Status;
using namespace artana::capi;

namespace {

static_assert(static_cast<int>(artana::host::ReloadOutcome::kContinued) == ARTANA_RELOAD_CONTINUED);
static_assert(static_cast<int>(artana::host::ReloadOutcome::kDriftAllowed) ==
              ARTANA_RELOAD_DRIFT_ALLOWED);
static_assert(static_cast<int>(artana::host::ReloadOutcome::kForked) == ARTANA_RELOAD_FORKED);
static_assert(static_cast<int>(artana::host::ReloadOutcome::kHaltedDrift) ==
              ARTANA_RELOAD_HALTED_DRIFT);
static_assert(static_cast<int>(artana::host::ReloadOutcome::kHaltedError) ==
              ARTANA_RELOAD_HALTED_ERROR);
static_assert(static_cast<int>(artana::host::ReloadOutcome::kEnded) == ARTANA_RELOAD_ENDED);
static_assert(static_cast<int>(artana::host::ReloadOutcome::kSuspended) == ARTANA_RELOAD_SUSPENDED);

// The application's reload_fn behind a ReloadListener (inside a callback: no tick, destroy).
artana::host::ReloadListener listener(artana_host* host, artana_reload_fn fn, void* user) {
  if (fn == nullptr) return {};
  return [host, fn, user](const artana::host::ReloadReport& report) {
    auto detail = artana::kernel::canonical_json(report.detail);
    const std::string text = detail.ok() ? *detail : "{}";
    ++host->callback_depth;
    fn(user, report.run.str().c_str(), static_cast<int>(report.outcome), text.c_str());
    --host->callback_depth;
  };
}

}  // namespace

extern "C" {

artana_status artana_script_reload(artana_script* script, const char* src, size_t len,
                                   artana_reload_fn fn, void* user) {
  constexpr const char* kFunction = "artana_script_reload";
  return guarded(kFunction, [&] {
    if (script == nullptr) return null_argument(kFunction, "script");
    HostCall call(*script->host);
    if (src == nullptr && len != 0) return null_argument(kFunction, "src");
    if (script->name.empty()) {
      return fail(kFunction, ARTANA_E_INVALID_ARGUMENT,
                  "script '" + script->path +
                      "' was loaded from a file: reload it with artana_script_reload_file");
    }
    std::string text(src == nullptr ? "" : src, len);
    Status compiled = artana::lua::check_script_syntax(text, script->name);
    if (!compiled.ok()) return fail(kFunction, compiled);
    artana_host& host = *script->host;
    host.host->set_memory_script(script->name, std::move(text));
    host.host->reload_script(script->path, listener(&host, fn, user));
    return ok();
  });
}

artana_status artana_script_reload_file(artana_script* script, artana_reload_fn fn, void* user) {
  constexpr const char* kFunction = "artana_script_reload_file";
  return guarded(kFunction, [&] {
    if (script == nullptr) return null_argument(kFunction, "script");
    HostCall call(*script->host);
    if (!script->name.empty()) {
      return fail(kFunction, ARTANA_E_INVALID_ARGUMENT,
                  "script 'mem:" + script->name +
                      "' was loaded from memory: reload it with artana_script_reload");
    }
    auto source = artana::host::ScriptSource::from_file(script->path, "");
    if (!source.ok()) return fail(kFunction, source.status());
    Status compiled =
        artana::lua::check_script_syntax(source->entry().text, source->entry().chunkname);
    if (!compiled.ok()) return fail(kFunction, compiled);
    artana_host& host = *script->host;
    host.host->reload_script(script->path, listener(&host, fn, user));
    return ok();
  });
}

}  // extern "C"
