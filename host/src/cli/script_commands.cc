// `artana run`, `artana resume`, `artana worker`: executing scripts as durable runs.
#include "script_commands.h"

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "artana/host/host.h"
#include "artana/kernel/canonical_json.h"
#include "artana/kernel/error_kind.h"
#include "artana/kernel/json_parse.h"
#include "artana/kernel/lmdb_event_store.h"
#include "model_flags.h"
#include "run_flags.h"
#include "script_watch.h"

namespace artana::host {
namespace {

using kernel::Json;
using kernel::RunId;
using kernel::RunStatus;

// The signal that asked this process to stop (SIGINT, SIGTERM), or 0; and the flag every Lua
// state's hook reads, so a script stops even where it never yields (lua_limits.h).
volatile std::sig_atomic_t g_stop = 0;
std::atomic<bool> g_interrupt{false};
static_assert(std::atomic<bool>::is_always_lock_free, "set from a signal handler");
void on_signal(int signal) {
  g_stop = signal;
  g_interrupt.store(true, std::memory_order_relaxed);
}

// A run stopped by a signal: it is left running, its events whole (the host stops between
// slices and syscalls), and the process exits 128 + the signal, as a shell reports it.
int stopped_by_signal(const RunId& run) {
  std::fprintf(stderr,
               "artana: stopped by %s; run %s stays running: run it again with --run-id %s, "
               "or let `artana worker` take it on\n",
               g_stop == SIGINT ? "SIGINT" : "SIGTERM", run.str().c_str(), run.str().c_str());
  return 128 + g_stop;
}

int usage(const std::string& message) {
  std::fprintf(stderr, "artana: %s (see artana --help)\n", message.c_str());
  return exit_code::kUsage;
}

// The exit code a scheduler acts on, from the run's status and its error's kind.
int exit_for(const RunOutcome& outcome) {
  const Json* kind = outcome.error.find("kind");
  const ErrorKind error =
      kind != nullptr && kind->is_string()
          ? parse_error_kind(kind->as_string()).value_or(ErrorKind::kScriptError)
          : ErrorKind::kNone;
  return kernel::exit_code_for(outcome.status, error);
}

int exit_for_status(const Status& status) {
  std::fprintf(stderr, "artana: %s\n", kernel::one_line_text(status.to_string()).c_str());
  return kernel::exit_code_for(status);
}

// The one --json result object: {run_id, status, output, error (, forked_from)}.
void print_result(Json out) {
  auto text = kernel::canonical_json(out);
  std::printf("%s\n", text.ok() ? text->c_str() : "{}");
  std::fflush(stdout);  // --watch keeps running: a reader waits for this line now
}

// A command that fails before its run executes (a script that does not load, an unusable
// ledger, a run another process holds): with --json the object goes to stdout as well,
// naming the run it was for (status null), so a scheduler reading stdout always gets one.
int exit_for_failure(const GlobalOptions& global, const std::string& run_id, const Status& status) {
  if (global.json) {
    print_result(
        Json::object({{"run_id", run_id},
                      {"status", Json()},
                      {"output", Json()},
                      {"error", Json::object({{"kind", error_kind_name(visible_kind(status))},
                                              {"message", visible_message(status)}})}}));
  }
  return exit_for_status(status);
}

void report(const GlobalOptions& global, const RunOutcome& outcome) {
  if (global.json) {
    Json out = Json::object({{"run_id", outcome.run_id.str()},
                             {"status", std::string(kernel::run_status_name(outcome.status))},
                             {"output", outcome.output},
                             {"error", outcome.error}});
    if (outcome.forked_from) out.set("forked_from", outcome.forked_from->str());
    print_result(std::move(out));
    return;
  }
  std::printf("run %s: %s\n", outcome.run_id.str().c_str(),
              std::string(kernel::run_status_name(outcome.status)).c_str());
  if (!outcome.output.is_null()) {
    auto text = kernel::canonical_json(outcome.output);
    std::printf("output: %s\n", text.ok() ? text->c_str() : "?");
  }
  if (!outcome.error.is_null()) {
    const Json* kind = outcome.error.find("kind");
    const Json* message = outcome.error.find("message");
    const Json* where = outcome.error.find("where");
    // A script wrote the message: escaped, so it cannot forge lines or move the cursor.
    auto text_of = [](const Json* value) {
      return value != nullptr && value->is_string() ? kernel::one_line_text(value->as_string())
                                                    : std::string();
    };
    const std::string kind_text = kind != nullptr && kind->is_string() ? text_of(kind) : "error";
    std::fprintf(stderr, "error: %s: %s%s%s\n", kind_text.c_str(), text_of(message).c_str(),
                 where != nullptr && where->is_string() ? " at " : "", text_of(where).c_str());
  }
  std::fflush(stdout);
}

// Ticks until the run has nothing left to do here; returns its outcome. With a watch, a
// change to the code while the run is busy reloads it in flight.
RunOutcome drive(Host& host, const RunId& run, ScriptWatch* watch) {
  for (;;) {
    if (g_stop) break;
    if (watch != nullptr && watch->changed()) {
      std::fprintf(stderr, "artana: the code changed: reloading run %s\n", run.str().c_str());
      Status reloaded = host.reload(run);
      if (!reloaded.ok()) {  // the new code does not load: report it, wait for the next change
        RunOutcome failed;
        failed.run_id = run;
        failed.status = RunStatus::kRunning;
        failed.error = Json::object({{"kind", error_kind_name(visible_kind(reloaded))},
                                     {"message", visible_message(reloaded)}});
        return failed;
      }
    }
    host.tick(std::chrono::milliseconds(20));
    if (!host.idle()) continue;
    if (auto outcome = host.outcome(run)) return *outcome;
    // Waiting for a model's answer (or a call an old execution made): sleep until it comes;
    // a quarter second at most, to see a signal or a change to the code.
    host.wait_for_work(std::chrono::milliseconds(250));
  }
  RunOutcome interrupted;
  interrupted.run_id = run;
  interrupted.status = RunStatus::kRunning;
  return interrupted;
}

struct Session {
  std::unique_ptr<kernel::EventStore> store;
  std::unique_ptr<kernel::Kernel> kernel;
  std::unique_ptr<Host> host;
};

Result<Session> open_session(const GlobalOptions& global, const RunFlags& flags,
                             ModelEndpoints models) {
  Session session;
  kernel::LmdbStoreOptions store_options;
  store_options.durability = flags.durability;
  store_options.lease_ttl_ms = global.lease_ttl_ms;
  ARTANA_ASSIGN_OR_RETURN(session.store, kernel::open_lmdb_store(global.data_dir, store_options));
  ARTANA_ASSIGN_OR_RETURN(
      session.kernel, kernel::Kernel::open(*session.store, policy_kernel_options(flags.enforced)));
  HostOptions host_options;
  host_options.limits.max_memory_bytes = flags.max_memory_mb << 20;
  host_options.limits.max_instructions = flags.max_instructions;
  host_options.limits.interrupt = &g_interrupt;
  host_options.stdlib_dir = stdlib_directory();
  host_options.models = std::move(models);
  host_options.http_allow = flags.http_allow;
  host_options.secret_env = flags.secret_env;
  host_options.workspace = flags.workspace;
  session.host = std::make_unique<Host>(*session.kernel, std::move(host_options));
  return session;
}

// Runs `script` as `options.run_id` until idle (and, with --watch, again on every change).
int execute(const GlobalOptions& global, const RunFlags& flags, Session& session,
            const std::string& script, RunOptions options) {
  const RunId run = *options.run_id;
  std::optional<ScriptWatch> watch;
  if (flags.watch) {
    auto made = ScriptWatch::create(script);
    if (!made.ok()) return exit_for_status(made.status());
    watch.emplace(std::move(*made));
  }
  for (;;) {
    auto started = session.host->start(script, options);
    if (!started.ok()) {
      if (!watch) return exit_for_failure(global, run.str(), started.status());
      std::fprintf(stderr, "artana: %s\n", started.status().to_string().c_str());
    } else {
      RunOutcome outcome = drive(*session.host, run, watch ? &*watch : nullptr);
      report(global, outcome);
      (void)session.host->unload(run);
      // Stopped by the signal (not ended before it came): the run is left running.
      if (g_stop && outcome.status == RunStatus::kRunning) return stopped_by_signal(run);
      if (!watch) return exit_for(outcome);
    }
    // --watch: wait for the script (or a module next to it) to change, then run again:
    // the run replays under the new code and the replay policy decides what drift means.
    std::fprintf(stderr, "artana: watching %s for changes (Ctrl-C to stop)\n", script.c_str());
    if (!watch->wait_for_change(g_stop)) return g_stop ? 128 + g_stop : exit_code::kOk;
  }
}

}  // namespace

int run_script_command(const GlobalOptions& global, const std::vector<std::string>& args) {
  if (args.empty()) return -1;
  const std::string& verb = args[0];
  if (verb != "run" && verb != "resume" && verb != "worker") return -1;
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  auto flags = parse_run_flags(args);
  if (!flags.ok()) return usage(flags.status().message());
  auto models = endpoints_from_flags(*flags);
  if (!models.ok()) return usage(models.status().message());
  // The run this command is for, as given (a new `run` without --run-id gets its id below).
  const std::string given_run = verb == "run" ? flags->run_id.value_or("") : flags->target;
  auto session = open_session(global, *flags, std::move(*models));
  if (!session.ok()) return exit_for_failure(global, given_run, session.status());
  if (verb == "worker")
    return run_worker(global, *flags, *session->kernel, *session->store, *session->host, g_stop);

  RunOptions options;
  std::string script;
  if (verb == "run") {
    script = flags->target;
    options.run_id = flags->run_id ? RunId(*flags->run_id) : kernel::Kernel::new_run_id();
  } else {
    options.run_id = RunId(flags->target);
  }
  auto prepared =
      prepare_run(*flags, *session->kernel, *session->store, verb == "resume", options, script);
  if (!prepared.ok()) return exit_for_failure(global, options.run_id->str(), prepared);
  return execute(global, *flags, *session, script, std::move(options));
}

}  // namespace artana::host
