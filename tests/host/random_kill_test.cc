// 1 000 random SIGKILLs across the samples, retries and reconciles included: each sample's
// process is killed at a random moment (a random fault point and crossing, or a SIGKILL after
// a random delay), executed again — and killed again — until it ends; a golden charge whose
// outcome was lost is settled by a random operator decision (retry, or the charge's real
// result), any other side effect cut by a kill (a stage deployed, a release shipped or its
// notes published by a child run, a file written or a check run) by a retry. Every run ends
// with the output of an uninterrupted run, each side effect is made at most once per operator
// decision (once, plus once per retry), and every ledger verifies.
//
// Random but reproducible: the seed is printed on failure and ARTANA_KILL_SEED replays it
// (a timed kill lands where the machine's speed puts it, so only the fault-point kills repeat
// exactly); ARTANA_KILL_ONLY=golden keeps one sample's trials.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "artana/kernel/canonical_json.h"
#include "artana/kernel/json_parse.h"
#include "support/run_cli.h"
#include "support/sample_cli.h"
#include "support/temp_dir.h"

extern char** environ;

namespace artana::testing {
namespace {

// Under AddressSanitizer each CLI process starts ~10x slower: fewer kills keep that build's
// test run short (the plain build, where the figure is asserted, makes 1 000; the per-sample
// crash tests cover every fault point under ASan too). 50 kills: ~90 s of CI time a 100 took.
#if defined(__SANITIZE_ADDRESS__)
constexpr int kKills = 50;
#else
constexpr int kKills = 1000;
#endif

using kernel::Json;
using Clock = std::chrono::steady_clock;

std::string sample(const std::string& path) {
  return std::string(ARTANA_SOURCE_DIR) + "/samples/" + path;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

struct Attempt {
  int exit_code = -1;  // 128 + signal when killed
  bool killed = false;
  std::string out, err;
};

// How an attempt is to be killed: not at all, at a fault point, or after a delay.
struct Kill {
  std::string crash_at;               // ARTANA_CRASH_AT, e.g. "append.after:7"
  std::chrono::microseconds after{};  // > 0: SIGKILL this long after the start
};

// Runs `artana --data DATA <args>` (args already split) with `kill` applied.
Attempt run_artana(const std::string& dir, const std::vector<std::string>& args, const Kill& kill) {
  const std::string out_path = dir + "/out.txt", err_path = dir + "/err.txt";
  std::vector<std::string> argv = {ARTANA_CLI, "--data", dir + "/ledger"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::string(*e).rfind("ARTANA_CRASH_AT=", 0) != 0) env.emplace_back(*e);
  }
  if (!kill.crash_at.empty()) env.push_back("ARTANA_CRASH_AT=" + kill.crash_at);
  std::vector<char*> c_argv, c_env;
  for (std::string& a : argv) c_argv.push_back(a.data());
  c_argv.push_back(nullptr);
  for (std::string& e : env) c_env.push_back(e.data());
  c_env.push_back(nullptr);
  // Gone before the fork: a child killed before it opens them leaves none, not the last
  // attempt's.
  ::unlink(out_path.c_str());
  ::unlink(err_path.c_str());
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    const int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (out < 0 || err < 0 || ::dup2(out, 1) < 0 || ::dup2(err, 2) < 0) ::_exit(127);
    ::execve(c_argv[0], c_argv.data(), c_env.data());
    ::_exit(127);
  }
  if (kill.after.count() > 0) {
    // Choosing the moment of the kill, not waiting for anything: the process may be done.
    std::this_thread::sleep_for(kill.after);
    ::kill(pid, SIGKILL);  // an exited (unreaped) child ignores it
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  Attempt attempt;
  if (WIFEXITED(status)) attempt.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) attempt.exit_code = 128 + WTERMSIG(status);
  attempt.killed = attempt.exit_code == 128 + SIGKILL;
  attempt.out = read_all(out_path);
  attempt.err = read_all(err_path);
  return attempt;
}

std::string text(const Json& value) {
  auto canonical = kernel::canonical_json(value);
  return canonical.ok() ? *canonical : "?";
}

Json result_of(const Attempt& attempt) {
  INFO("stdout: " << attempt.out << "\nstderr: " << attempt.err);
  auto parsed = kernel::parse_json(attempt.out);
  REQUIRE(parsed.ok());
  return *parsed;
}

struct Case {
  const char* name;
  std::vector<std::string> run;     // after `--json`; "WS" is the trial's workspace
  std::vector<std::string> resume;  // when the run pauses (exit 3): how to go on
  // The lines its side effects print (or, with a workspace, log in check_runs.log),
  // each with how many times an uninterrupted run makes that effect.
  std::vector<std::pair<std::string, size_t>> effects = {};
  bool workspace = false;  // a fresh copy of tdd_fix's workspace for each run (sample_cli.h)
};

std::vector<Case> cases() {
  return {
      {"golden", {"run", sample("golden/golden.lua"), "--run-id", "r"}, {}},
      {"chat",
       {"run", sample("chat/chat.lua"), "--run-id", "r", "--input",
        R"({"questions":["a","b","c"]})"},
       {}},
      {"debate",
       {"run", sample("debate/debate.lua"), "--run-id", "r", "--input",
        R"({"topic":"t","rounds":2})"},
       {}},
      {"enforced_step",
       {"run", sample("enforced_step/enforced_step.lua"), "--run-id", "r", "--policy", "enforced",
        "--caps", "crm:write", "--budget", "1", "--input", R"({"email":"ada@example.com"})"},
       {}},
      {"pause",
       {"run", sample("pause/pause.lua"), "--run-id", "r"},
       {"resume", "r", "--input", R"("approved")"}},
      {"deploy_harness",
       {"run", sample("deploy_harness/deploy_harness.lua"), "--run-id", "r", "--input",
        R"({"service":"billing","version":"2.4.0"})"},
       {"resume", "r"},
       {{"DEPLOYED build ", 1}, {"DEPLOYED deploy ", 1}}},
      {"tdd_fix",
       {"run", sample("tdd_fix/tdd_fix.lua"), "--run-id", "r", "--workspace", "WS", "--caps",
        "exec:run,workspace:read,workspace:write"},
       {},
       {{"CHECK RAN\n", 2}},
       true},
      {"supervisor",
       {"run", sample("supervisor/supervisor.lua"), "--run-id", "r", "--policy", "enforced",
        "--caps", "deploy:write,notes:write", "--input",
        R"({"service":"billing","version":"2.4.0"})"},
       {},
       {{"SHIPPED ", 1}, {"PUBLISHED ", 1}}},
      {"graph",
       {"run", sample("graph/graph.lua"), "--run-id", "r", "--input", R"({"goal":"ship v2"})"},
       {}},
      {"draft_verify_agent",
       {"run", sample("draft_verify_agent/draft_verify_agent.lua"), "--run-id", "r"},
       {}},
  };
}

// `args` with `--json` first, the run id "r" replaced by `run` and "WS" by its workspace,
// `dir`/ws-<run>.
std::vector<std::string> with_json(const std::vector<std::string>& args, const std::string& run,
                                   const std::string& dir) {
  std::vector<std::string> out = {"--json"};
  for (const std::string& arg : args) {
    out.push_back(arg == "r" ? run : arg == "WS" ? dir + "/ws-" + run : arg);
  }
  return out;
}

TEST_CASE(
    "1 000 random SIGKILLs across the samples: the same outputs, each side effect at most "
    "once per operator decision, every ledger intact",
    "[samples][crash][random]") {
  const char* seed_text = std::getenv("ARTANA_KILL_SEED");
  const uint64_t seed = seed_text != nullptr ? std::strtoull(seed_text, nullptr, 10) : 20261204;
  INFO("ARTANA_KILL_SEED=" << seed);
  std::mt19937_64 random(seed);
  const char* only = std::getenv("ARTANA_KILL_ONLY");  // one sample's name: only its trials
  auto below = [&](uint64_t n) {
    return std::uniform_int_distribution<uint64_t>(0, n - 1)(random);
  };

  // Each case uninterrupted, in its own ledger (which its trials then share, each with a
  // run of its own): its output, and how long it takes (the range of timed kills).
  const std::vector<Case> all = cases();
  std::vector<std::unique_ptr<TempDir>> ledgers;
  std::vector<std::string> expected(all.size());
  std::vector<std::chrono::microseconds> duration(all.size());
  for (size_t i = 0; i < all.size(); ++i) {
    ledgers.push_back(std::make_unique<TempDir>());
    const std::string dir = ledgers.back()->str();
    if (all[i].workspace) sample_cli::copy_tdd_fix_workspace(dir + "/ws-baseline");
    const auto start = Clock::now();
    Attempt done = run_artana(dir, with_json(all[i].run, "baseline", dir), {});
    if (done.exit_code == 3) done = run_artana(dir, with_json(all[i].resume, "baseline", dir), {});
    duration[i] = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
    INFO(all[i].name << ": " << done.out << done.err);
    REQUIRE(done.exit_code == 0);
    expected[i] = text(*result_of(done).find("output"));
  }

  static const char* const kPoints[] = {"syscall", "append.before", "append.after", "tool.start",
                                        "tool.end"};
  int kills = 0, trials = 0, retries_total = 0, reconciled_total = 0;
  bool scripted_done = false;
  while (kills < kKills) {
    REQUIRE(trials < 5000);  // a trial that never gets killed would loop forever otherwise
    ++trials;
    const size_t which = below(all.size());
    const Case& c = all[which];
    if (only != nullptr && c.name != std::string(only)) continue;
    const std::string dir = ledgers[which]->str();
    const std::string run = "t" + std::to_string(trials);
    // The first golden trial is killed just after its charge is made (before the result is
    // recorded) and settled with the charge's real result: that path is taken every time, not
    // only when the random kills happen to land there.
    const bool scripted = std::string(c.name) == "golden" && !scripted_done;
    scripted_done = scripted_done || scripted;
    auto random_kill = [&]() -> Kill {
      Kill kill;
      if (scripted) {
        kill.crash_at = "tool.end:1";
        return kill;
      }
      if (below(2) == 0) {
        // The tool points are crossed once per run; the others a few times per step.
        const size_t point = below(5);
        kill.crash_at =
            std::string(kPoints[point]) + ":" + std::to_string(1 + (point < 3 ? below(12) : 0));
      } else {
        kill.after = std::chrono::microseconds(1 + below(duration[which].count() * 6 / 5 + 1));
      }
      return kill;
    };
    if (c.workspace) sample_cli::copy_tdd_fix_workspace(dir + "/ws-" + run);
    std::string printed;  // every process's stderr: the side effects' lines
    std::string history;  // each round: its kill and its exit
    int retries = 0, acts = 0;
    bool paused_done = false;
    std::vector<std::string> next = c.run;
    Attempt attempt;
    // Up to three kills, then it must finish.
    for (int round = 0;; ++round) {
      INFO(c.name << " trial " << trials << " round " << round);
      REQUIRE(round < 20);
      const Kill kill = round < 3 ? random_kill() : Kill{};
      attempt = run_artana(dir, with_json(next, run, dir), kill);
      printed += attempt.err;
      history +=
          (kill.crash_at.empty() ? std::to_string(kill.after.count()) + "us" : kill.crash_at) +
          " -> " + std::to_string(attempt.exit_code) + " charged " +
          std::to_string(occurrences(attempt.err, "CHARGED ")) + "\n";
      INFO("kill " << kill.crash_at << kill.after.count() << "us: exit " << attempt.exit_code
                   << "\n"
                   << attempt.out << attempt.err);
      if (attempt.killed) {
        ++kills;
        continue;  // executed again: the same command
      }
      if (attempt.exit_code == 3 && !c.resume.empty() && !paused_done) {
        paused_done = true;  // paused for approval: the approval, from now on
        next = c.resume;
        continue;
      }
      // An operator acts until nothing needs attention, then the same command runs again. A
      // side effect whose outcome was lost is settled — golden's charge at random, any other
      // with a retry; when it is a child's (the supervisor's children run at once: a kill can
      // cut both), the child is resumed, which takes its parent on — to its end, or to the
      // next child that needs attention. A parent held by such a child names it: resumed, its
      // own error says what it needs.
      for (Attempt held = attempt; held.exit_code == 4;) {
        REQUIRE(++acts < 20);
        INFO("operator: " << held.out << held.err);
        const Json error = *result_of(held).find("error");
        const std::string child = sample_cli::child_needing_attention(error);
        if (!child.empty()) {
          history += "resume " + child + "\n";
          held = run_artana(dir, {"--json", "resume", child}, {});
          printed += held.err;
          INFO(held.out << held.err);
          REQUIRE((held.exit_code == 0 || held.exit_code == 4));
          continue;
        }
        const sample_cli::CutStep cut = sample_cli::cut_step(error);
        std::vector<std::string> decision = {"reconcile", cut.run, "--step", cut.step};
        const size_t charged = printed.rfind("CHARGED ");
        const bool golden = std::string(c.name) == "golden";
        if (golden) REQUIRE((cut.run == run && cut.step == "charge"));
        if (scripted) REQUIRE(charged != std::string::npos);
        if (!golden || charged == std::string::npos || (!scripted && below(2) == 0)) {
          decision.push_back("--retry");
          ++retries;
        } else {
          const std::string key = printed.substr(charged + 8, 12);
          decision.insert(decision.end(), {"--outcome", "success", "--result",
                                           R"({"charge_id":"ch_)" + key + R"(","amount":12.5})"});
          ++reconciled_total;
        }
        history += "reconcile " + cut.run + " " + cut.step + " " + decision[4] + "\n";
        Attempt settled = run_artana(dir, decision, {});
        INFO(settled.out << settled.err);
        REQUIRE(settled.exit_code == 0);
        if (cut.run == run) break;
        history += "resume " + cut.run + "\n";
        held = run_artana(dir, {"--json", "resume", cut.run}, {});
        printed += held.err;
        INFO(held.out << held.err);
        REQUIRE((held.exit_code == 0 || held.exit_code == 4));
      }
      if (attempt.exit_code == 4) continue;
      break;
    }
    INFO(c.name << " trial " << trials << ": " << attempt.out << attempt.err);
    INFO(history);
    REQUIRE(attempt.exit_code == 0);
    const std::string output = text(*result_of(attempt).find("output"));
    if (std::string(c.name) == "golden") {
      // The charge id comes from the run's idempotency key: the same for every attempt.
      const size_t charges = occurrences(printed, "CHARGED ");
      CHECK(charges <= static_cast<size_t>(1 + retries));
      const size_t at = printed.find("CHARGED ");
      REQUIRE(at != std::string::npos);
      const std::string id = "ch_" + printed.substr(at + 8, 12);
      CHECK(output == R"({"charge":{"amount":12.5,"charge_id":")" + id +
                          R"("},"receipt":"Receipt: )" + id + R"("})");
    } else {
      CHECK(output == expected[which]);
    }
    if (c.workspace) printed += sample_cli::read_text(dir + "/ws-" + run + "/check_runs.log");
    for (const auto& [line, made] : c.effects) {
      INFO(line);
      CHECK(occurrences(printed, line) >= made);
      CHECK(occurrences(printed, line) <= made + retries);
    }
    retries_total += retries;
  }
  for (size_t i = 0; i < all.size(); ++i) {
    INFO(all[i].name);
    Attempt verify = run_artana(ledgers[i]->str(), {"ledger", "verify"}, {});
    INFO(verify.out << verify.err);
    CHECK(verify.exit_code == 0);
  }
  // The decisions were exercised, not just possible.
  CHECK(retries_total > 0);
  CHECK(reconciled_total > 0);
  WARN(kills << " kills in " << trials << " trials; " << retries_total << " retries, "
             << reconciled_total << " reconciled by result");
}

}  // namespace
}  // namespace artana::testing
