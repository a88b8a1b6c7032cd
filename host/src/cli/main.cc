// artana: the command-line host: `run`, `resume`, `worker` execute scripts; `status`,
// `runs`, `cancel`, `reconcile` are the operator's; `ledger verify|export` check the ledger.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "artana/kernel/error_kind.h"
#include "artana/kernel/lmdb_event_store.h"
#include "ledger_commands.h"
#include "run_commands.h"
#include "script_commands.h"

namespace {

constexpr const char* kUsage = R"(usage: artana [--data DIR] [--json] <command> ...

commands:
  run SCRIPT [--run-id ID] [--tenant ID] [--caps a,b] [--budget USD]
      [--policy permissive|enforced] [--durability full|effects|none]
      [--replay strict|allow_prompt_drift|fork_on_drift] [--input JSON] [--seed N]
      [--max-memory MB] [--max-instructions N] [--watch] [--pinned]
      [--model-endpoint URL [--api-key-env NAME]] [--models FILE] [--stream]
      [--http-allow host[:port],...] [--secret-env NAME,...] [--workspace DIR]
                                   execute a Lua script as a durable run; with the id of an
                                   existing run, execute that run again (replaying what it
                                   recorded). Exit 0 completed, 1 failed, 3 paused or
                                   sleeping, 4 needs attention, 5 budget exceeded, 6 denied,
                                   7 cancelled. --json prints {run_id, status, output, error}
  resume RUN_ID [--input JSON] [--budget USD] [--grant a,b] [the model and http flags]
                                   give a paused run its input (or a halted one a larger
                                   budget or capabilities: recorded) and execute it again
  worker [--once] [--poll-ms N] [the model and http flags]
                                   wake sleeping runs whose timers are due and take over
                                   running runs nobody holds, until SIGTERM
  status RUN_ID                    the run's status, tenant, events and spend; exit 0 running
                                   or completed, 1 failed, 3 paused, 4 needs attention,
                                   7 cancelled, 9 no such run
  runs [--tenant T] [--status S]   the runs (all, in creation order, without --tenant)
  cancel RUN_ID [--reason TEXT] [--wait]
                                   cancel a run (exit 0): at once, or, while another process
                                   executes it, within one tick of that process; --wait
                                   waits until the run has ended
  reconcile RUN_ID --step KEY (--retry | --outcome success|failed --result JSON | --abandon)
                                   settle a tool step whose outcome is unknown (the process
                                   died during the call); --retry runs it once more with the
                                   same idempotency key when the run resumes
  ledger verify [RUN_ID]           check every hash, link, seq, head, index and total
                                   exit 0: valid; 10: invalid (names the first bad run and
                                   seq); 8: the ledger cannot be opened
  ledger export [RUN_ID] [--inline]
                                   one JSON line per event (RFC 8785 canonical, with its
                                   hash); all runs in creation order without RUN_ID.
                                   --inline replaces large-value references by the values
                                   (those lines then no longer hash to their "hash")

options (before or after the command):
  --data DIR    the ledger directory (default: $ARTANA_HOME, else ./.artana)
  --json        machine-readable output: one JSON object on stdout
  --log-level L trace, debug, info (default), warn, error, off; logs go to stderr
  --lease-ttl-ms N
                how long a run's owner may go silent before another process may take the
                run over (default 30000); an owner executing a run renews it every N/3
  --help        this text
  --version     the version

durability (for commands that write; set per store):
  full      every commit synced: nothing committed is ever lost
  effects   (default) data synced at each commit, the meta page not: a power loss can undo
            the last commit but never corrupts; full sync before side effects, pauses, run end
  none      no sync: survives a process crash (SIGKILL) but NOT a power loss or OS crash
)";

}  // namespace

int main(int argc, char** argv) {
  using namespace artana::host;
  // Logs (and scripts' print) go to stderr: stdout is for results (--json).
  spdlog::set_default_logger(spdlog::stderr_color_st("artana"));
  GlobalOptions global;
  global.data_dir = artana::kernel::default_data_dir();
  std::vector<std::string> rest;
  // Global options are accepted anywhere, before or after the verb: `artana run x.lua --data D`.
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--json") {
      global.json = true;
    } else if (arg == "--lease-ttl-ms") {
      char* end = nullptr;
      const long long ms = i + 1 < argc ? std::strtoll(argv[i + 1], &end, 10) : 0;
      if (i + 1 >= argc || *end != '\0' || ms <= 0 || ms > 86'400'000) {
        std::fprintf(stderr, "artana: --lease-ttl-ms needs milliseconds, 1..86400000\n");
        return artana::exit_code::kUsage;
      }
      global.lease_ttl_ms = ms;
      ++i;
    } else if ((arg == "--help" || arg == "-h") && rest.empty()) {
      std::fputs(kUsage, stdout);
      return artana::exit_code::kOk;
    } else if (arg == "--version" && rest.empty()) {
      std::puts("artana " ARTANA_VERSION);
      return artana::exit_code::kOk;
    } else if (arg == "--log-level") {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "artana: --log-level needs trace, debug, info, warn, error or off\n");
        return artana::exit_code::kUsage;
      }
      const auto level = spdlog::level::from_str(argv[++i]);
      if (level == spdlog::level::off && std::strcmp(argv[i], "off") != 0) {
        std::fprintf(stderr, "artana: unknown log level '%s'\n", argv[i]);
        return artana::exit_code::kUsage;
      }
      spdlog::set_level(level);
    } else if (arg == "--data") {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "artana: --data needs a directory\n");
        return artana::exit_code::kUsage;
      }
      global.data_dir = argv[++i];
    } else if (arg.rfind("--data=", 0) == 0) {
      global.data_dir = arg.substr(7);
    } else if (arg[0] == '-' && rest.empty()) {
      std::fprintf(stderr, "artana: unknown option '%s' (see artana --help)\n", arg.c_str());
      return artana::exit_code::kUsage;
    } else {
      rest.push_back(arg);
    }
  }
  if (rest.empty()) {
    std::fputs(kUsage, stderr);
    return artana::exit_code::kUsage;
  }
  if (rest[0] == "ledger") {
    return run_ledger_command(global, std::vector<std::string>(rest.begin() + 1, rest.end()));
  }
  if (int code = run_script_command(global, rest); code >= 0) return code;
  if (int code = run_operator_command(global, rest); code >= 0) return code;
  std::fprintf(stderr, "artana: unknown command '%s' (see artana --help)\n", rest[0].c_str());
  return artana::exit_code::kUsage;
}
