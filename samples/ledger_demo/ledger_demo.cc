// ledger_demo: a run's events survive its writer being SIGKILLed mid-run.
//
// The demo starts a writer process that appends an agent-style run (model and tool steps),
// kills it with SIGKILL after a few steps, reopens the ledger, takes over the dead writer's
// lease, finishes the run, and prints what `artana ledger verify` would say.
//   ledger_demo [DATA_DIR]        (default: $ARTANA_HOME, else ./.artana)
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include "artana/kernel/lmdb_event_store.h"

using namespace artana;
using namespace artana::kernel;

namespace {

constexpr int kStepsBeforeKill = 5;

// One agent turn: the model is asked, answers with a tool call; the tool runs.
std::vector<EventDraft> turn(int n) {
  std::string key = "turn_" + std::to_string(n);
  return {
      {"model_requested",
       Json::object({{"step_key", key},
                     {"model", "demo-model"},
                     {"prompt", "Plan step " + std::to_string(n) + " of the migration."}})},
      {"model_completed",
       Json::object(
           {{"step_key", key},
            {"output", Json::object({{"text", "Run the checker on shard " + std::to_string(n)}})},
            {"cost_micro_usd", 1200}})},
      {"tool_completed", Json::object({{"step_key", "tool_" + std::to_string(n)},
                                       {"tool", "check_shard"},
                                       {"outcome", "success"},
                                       {"result", Json::object({{"shard", n}, {"ok", true}})}})},
  };
}

int fail(const Status& s) {
  std::fprintf(stderr, "ledger_demo: %s\n", s.to_string().c_str());
  return 1;
}

// The writer process: appends turns until it is killed; reports each committed seq.
int writer_main(const std::string& dir, const std::string& run) {
  auto store = open_lmdb_store(dir);
  if (!store.ok()) return fail(store.status());
  RunHeader header;
  header.run_id = RunId(run);
  header.tenant_id = TenantId("demo");
  if (auto created = (*store)->create_run(header); !created.ok()) return fail(created.status());
  uint64_t epoch = 0;
  for (int n = 1;; ++n) {
    AppendRequest req;
    req.run_id = RunId(run);
    req.lease_epoch = epoch;
    req.drafts = turn(n);
    auto done = (*store)->append(std::move(req));
    if (!done.ok()) return fail(done.status());
    epoch = done->lease_epoch;
    std::printf("%llu\n", static_cast<unsigned long long>(done->events.back().seq));
    std::fflush(stdout);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::strcmp(argv[1], "--writer") == 0) return writer_main(argv[2], argv[3]);
  const std::string dir = argc > 1 ? argv[1] : default_data_dir();
  const auto stamp = std::chrono::duration_cast<std::chrono::microseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  const std::string run = "demo-" + std::to_string(stamp);
  std::printf("ledger demo: run %s in %s\n", run.c_str(), dir.c_str());

  int out[2];
  if (pipe(out) != 0) return fail(Status::io_error("pipe: {}", std::strerror(errno)));
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], 1);
    close(out[0]);
    execl("/proc/self/exe", argv[0], "--writer", dir.c_str(), run.c_str(), nullptr);
    _exit(127);
  }
  close(out[1]);
  FILE* lines = fdopen(out[0], "r");
  char line[64];
  unsigned long long last_seq = 0;
  for (int steps = 0; steps < kStepsBeforeKill && std::fgets(line, sizeof line, lines); ++steps) {
    last_seq = std::strtoull(line, nullptr, 10);
    std::printf("  writer pid %d committed turn %d (head seq %llu)\n", pid, steps + 1, last_seq);
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  fclose(lines);
  if (last_seq == 0) return fail(Status::internal("the writer committed nothing"));
  std::printf("  SIGKILLed the writer mid-run\n");

  auto store = open_lmdb_store(dir);
  if (!store.ok()) return fail(store.status());
  auto head = (*store)->head(RunId(run));
  if (!head.ok()) return fail(head.status());
  std::printf("reopened: head seq %llu (>= %llu reported), lease of dead pid %lld, epoch %llu\n",
              static_cast<unsigned long long>(head->head_seq), last_seq,
              static_cast<long long>(head->lease.pid),
              static_cast<unsigned long long>(head->lease.epoch));

  AppendRequest finish;
  finish.run_id = RunId(run);
  finish.drafts = turn(1000);
  finish.drafts.push_back({"run_completed", Json::object({{"output", "migrated"}})});
  finish.new_status = RunStatus::kCompleted;
  finish.barrier = true;
  auto done = (*store)->append(std::move(finish));
  if (!done.ok()) return fail(done.status());
  std::printf("took over the lease (epoch %llu) and completed the run at seq %llu\n",
              static_cast<unsigned long long>(done->lease_epoch),
              static_cast<unsigned long long>(done->events.back().seq));
  auto spent = (*store)->totals(RunId(run));
  if (spent.ok()) {
    std::printf("run spend: %lld micro-USD over %llu events\n",
                static_cast<long long>(spent->spend_micro_usd),
                static_cast<unsigned long long>(spent->events));
  }
  auto report = (*store)->verify();
  if (!report.ok()) return fail(report.status());
  if (report->ok) {
    std::printf("ledger verify: ok (%llu runs, %llu events)\n",
                static_cast<unsigned long long>(report->runs_checked),
                static_cast<unsigned long long>(report->events_checked));
    return 0;
  }
  std::printf("ledger verify: INVALID at run '%s' seq %llu: %s\n", report->bad_run_id.c_str(),
              static_cast<unsigned long long>(report->bad_seq), report->problem.c_str());
  return 10;
}
