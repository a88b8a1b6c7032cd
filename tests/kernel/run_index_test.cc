// Runs held by reference: a loaded run keeps one small record per step (the ledger's step
// index), reads a recorded result by seq only when a replay returns it, and an older ledger's
// indexes are rebuilt from its events when a writer opens it.
#include <catch2/catch.hpp>

#include <functional>

#include "artana/kernel/event_index.h"
#include "kernel/raw_ledger.h"
#include "ledger/ledger_env.h"
#include "ledger/ledger_reader.h"
#include "support/kernel_fixture.h"

using namespace artana;
using namespace artana::kernel;
using namespace artana::testing;

namespace {

// A StepVisitor keeping the step records it is given in `steps`.
StepVisitor collect_steps(std::map<std::string, StepIndexRecord>& steps) {
  return [&steps](std::string&& key, StepIndexRecord&& record) {
    steps.emplace(std::move(key), std::move(record));
    return Status();
  };
}

// A chat whose history grows by a ~1 KiB message each turn: turn n's request holds n messages.
ModelRequest chat_turn(int turn, Json& history) {
  history.push_back(
      Json::object({{"role", "user"},
                    {"content", "turn " + std::to_string(turn) + " " + std::string(1000, 'x')}}));
  ModelRequest request;
  request.step_key = "turn:" + std::to_string(turn);
  request.model = "demo-model";
  request.messages = history;
  return request;
}

void run_chat(KernelHost& host, const std::string& run, int turns, ScriptedModel& port) {
  Json history = Json::array();
  for (int turn = 1; turn <= turns; ++turn) {
    auto result = run_model(*host.kernel, "acme", run, chat_turn(turn, history), port);
    REQUIRE(result.ok());
  }
}

}  // namespace

TEST_CASE("a loaded run holds a small record per step however large its requests and results",
          "[kernel][index]") {
  KernelHost host;
  REQUIRE(host.kernel->start_run(start_request("chat")).ok());
  ScriptedModel port;
  port.answer = [](const ModelCall& call) {
    ModelOutcome out;
    out.output = Json::object(
        {{"text", std::string(2000, 'y')}, {"turns", static_cast<int64_t>(call.messages->size())}});
    return out;
  };
  constexpr int kTurns = 150;  // the last request alone holds ~150 KiB of messages
  run_chat(host, "chat", kTurns, port);
  REQUIRE(host.kernel->complete(kAcme, RunId("chat"), Json("done")).ok());

  host.reopen();
  REQUIRE(host.kernel->status(kAcme, RunId("chat")).ok());  // loads it
  KernelStats stats = host.kernel->stats();
  CHECK(stats.steps_held == kTurns);
  CHECK(stats.bytes_held / stats.steps_held <= 256);

  // Replayed in order, every result is the recorded one (read back by seq), and the port is
  // never asked again.
  const int calls_before = port.calls;
  Json history = Json::array();
  for (int turn = 1; turn <= kTurns; ++turn) {
    auto replayed = run_model(*host.kernel, "acme", "chat", chat_turn(turn, history), port);
    REQUIRE(replayed.ok());
    CHECK(replayed->replayed);
    CHECK(*replayed->output.find("turns") == Json(static_cast<int64_t>(turn)));
  }
  CHECK(port.calls == calls_before);
  CHECK(host.kernel->stats().bytes_held / kTurns <= 256);
}

TEST_CASE("a drifted step names what changed from the request read back from the ledger",
          "[kernel][index][drift]") {
  KernelHost host;
  REQUIRE(host.kernel->start_run(start_request("r1")).ok());
  ScriptedModel port;
  ModelRequest first = prompt_request("a", "first");
  first.options = Json::object({{"temperature", 0}});
  REQUIRE(run_model(*host.kernel, "acme", "r1", first, port).ok());
  host.reopen();
  ModelRequest changed = first;
  changed.prompt = "changed";
  auto drifted = run_model(*host.kernel, "acme", "r1", changed, port);
  REQUIRE_FALSE(drifted.ok());
  CHECK(drifted.status().error_kind() == ErrorKind::kReplayDrift);
  CHECK_THAT(drifted.status().message(), Catch::Contains("prompt changed"));
  auto halted = events_of(*host.store, "r1");
  REQUIRE(halted.back().type == "run_halted");
  const Json* fields = halted.back().payload.find("drift_fields");
  REQUIRE(fields != nullptr);
  CHECK(*fields == Json::array({Json("prompt")}));
}

TEST_CASE("the step index holds what the run's events fold to, forks' shared prefix included",
          "[kernel][index][verify]") {
  KernelHost host;
  StartRunRequest start = start_request("r1");
  start.replay = ReplayPolicy::kForkOnDrift;
  REQUIRE(host.kernel->start_run(start).ok());
  ScriptedModel port;
  REQUIRE(run_model(*host.kernel, "acme", "r1", prompt_request("a", "one"), port).ok());
  REQUIRE(run_model(*host.kernel, "acme", "r1", prompt_request("b", "two"), port).ok());
  REQUIRE(host.kernel->summary(kAcme, RunId("r1"), "progress", Json(1), "s:1").ok());
  host.reopen();
  REQUIRE(run_model(*host.kernel, "acme", "r1", prompt_request("a", "one"), port).ok());
  auto forked = run_model(*host.kernel, "acme", "r1", prompt_request("b", "other"), port);
  REQUIRE(forked.ok());
  const RunId fork = forked->run_id;
  REQUIRE(fork.str() != "r1");

  // The fork's index: step a from the shared prefix, b live in the fork; no summary yet.
  std::map<std::string, StepIndexRecord> steps;
  auto index = host.store->run_index(fork, collect_steps(steps));
  REQUIRE(index.ok());
  REQUIRE(steps.count("a") == 1);
  CHECK(steps["a"].terminal_seq != 0);
  CHECK(steps["a"].terminal_seq <= index->info.header.forked_from->seq);
  REQUIRE(steps.count("b") == 1);
  CHECK(steps["b"].terminal_seq > index->info.header.forked_from->seq);
  CHECK(steps.count("s:1") == 0);
  auto report = host.store->verify();
  REQUIRE(report.ok());
  CHECK(report->ok);

  // A record changed behind the ledger's back is caught.
  edit_raw_ledger(host, [](ledger::LedgerEnv& env, MDB_txn* txn) {
    ledger::LedgerReader reader(env, txn);
    auto run_number = reader.find_run_number("r1");
    REQUIRE(run_number.ok());
    std::string key = ledger::run_name_key(**run_number, "a");
    MDB_val k = ledger::to_val(key), v;
    REQUIRE(mdb_get(txn, env.dbi().steps, &k, &v) == 0);
    std::string value(ledger::from_val(v));
    value[2] = static_cast<char>(StepEnd::kFailed);  // the end byte
    MDB_val nv = ledger::to_val(value);
    REQUIRE(mdb_put(txn, env.dbi().steps, &k, &nv, 0) == 0);
  });
  auto damaged = host.store->verify();
  REQUIRE(damaged.ok());
  CHECK_FALSE(damaged->ok);
  CHECK(damaged->bad_run_id == "r1");
  CHECK_THAT(damaged->problem, Catch::Contains("step index"));
}

TEST_CASE("a schema 2 ledger is migrated when opened: indexes rebuilt, runs replay",
          "[kernel][index][migrate]") {
  KernelHost host;
  ScriptedModel port;
  start_run_with_step(host, port, "r1", "a", "one");
  REQUIRE(host.kernel->write_artifact(kAcme, RunId("r1"), "art:1", "report", Json("v1")).ok());
  REQUIRE(host.kernel->summary(kAcme, RunId("r1"), "progress", Json(7)).ok());
  // Make it look as version 2 wrote it: a seq per step key, `summaries`, no `latest`.
  edit_raw_ledger(host, [](ledger::LedgerEnv& env, MDB_txn* t) {
    std::vector<std::pair<std::string, std::string>> old_steps;
    {
      MDB_cursor* cursor = nullptr;
      REQUIRE(mdb_cursor_open(t, env.dbi().steps, &cursor) == 0);
      MDB_val k, v;
      for (int rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST); rc == 0;
           rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
        auto record = decode_step_record(ledger::from_val(v), "test");
        REQUIRE(record.ok());
        std::string seq;
        ledger::put_u64be(seq, record->second.terminal_seq);
        old_steps.emplace_back(std::string(ledger::from_val(k)), seq);
      }
      mdb_cursor_close(cursor);
    }
    for (auto& [key, seq] : old_steps) {
      MDB_val k = ledger::to_val(key), v = ledger::to_val(seq);
      REQUIRE(mdb_put(t, env.dbi().steps, &k, &v, 0) == 0);
    }
    REQUIRE(mdb_drop(t, env.dbi().latest, 1) == 0);
    MDB_dbi summaries;
    REQUIRE(mdb_dbi_open(t, "summaries", MDB_CREATE, &summaries) == 0);
    std::string version;
    ledger::put_u64be(version, 2);
    MDB_val vk = ledger::to_val(std::string_view("schema_version")), vv = ledger::to_val(version);
    REQUIRE(mdb_put(t, env.dbi().meta, &vk, &vv, 0) == 0);
  });
  // edit_raw_ledger reopened it with a writer: migrated
  auto report = host.store->verify();
  REQUIRE(report.ok());
  CHECK(report->ok);
  auto artifact = host.kernel->read_artifact(kAcme, RunId("r1"), "read:1", "report");
  REQUIRE(artifact.ok());
  CHECK(artifact->value == Json("v1"));
  auto summary = host.store->latest_summary(RunId("r1"), "progress");
  REQUIRE(summary.ok());
  REQUIRE(summary->has_value());
  auto replayed = run_model(*host.kernel, "acme", "r1", prompt_request("a", "one"), port);
  REQUIRE(replayed.ok());
  CHECK(replayed->replayed);
  CHECK(port.calls == 1);
}

TEST_CASE("a value step's scalar replays from its step record, equal to a read of its event",
          "[kernel][index][value]") {
  KernelHost host;
  REQUIRE(host.kernel->start_run(start_request("r1")).ok());
  // Doubles are read back as the canonical text reads: 2.0 and -0.0 as integers, 1e21 and the
  // integral doubles beyond 2^53 (written with all their digits) as doubles. Strings and tables are
  // not inlined (their events are read).
  const std::vector<Json> values = {Json(int64_t{1700000000123456}),
                                    Json(0.1),
                                    Json(2.0),
                                    Json(-0.0),
                                    Json(1e21),
                                    Json(-4.5e-300),
                                    Json(9007199254740992.0),
                                    Json(-123456.0),
                                    Json(5e-324),
                                    Json(1.5e300),
                                    Json(1152921504606846976.0),  // 2^60
                                    Json(-1152921504606846976.0),
                                    Json(9007199254740994.0),  // 2^53 + 2
                                    Json(1e20),
                                    Json(1796360726643481000.0),
                                    Json(1.7976931348623157e308),
                                    Json(true),
                                    Json(false),
                                    Json(),
                                    Json("text"),
                                    Json::object({{"a", 1}})};
  for (size_t i = 0; i < values.size(); ++i) {
    auto recorded =
        host.kernel->value_step(kAcme, RunId("r1"), "v:" + std::to_string(i), ValueKind::kStep,
                                [&] { return Result<Json>(values[i]); });
    REQUIRE(recorded.ok());
  }
  host.reopen();
  std::map<std::string, StepIndexRecord> steps;
  auto index = host.store->run_index(RunId("r1"), collect_steps(steps));
  REQUIRE(index.ok());
  for (size_t i = 0; i < values.size(); ++i) {
    const std::string key = "v:" + std::to_string(i);
    INFO(key);
    REQUIRE(steps.count(key) == 1);
    const bool scalar = !values[i].is_string() && !values[i].is_object();
    CHECK(steps[key].value.has() == scalar);
    auto event = host.store->read_event(RunId("r1"), steps[key].terminal_seq);
    REQUIRE(event.ok());
    auto replayed = host.kernel->value_step(kAcme, RunId("r1"), key, ValueKind::kStep,
                                            [] { return Result<Json>(Json("live")); });
    REQUIRE(replayed.ok());
    CHECK(replayed->replayed);
    CHECK(replayed->seq == steps[key].terminal_seq);
    const Json& read = *event->payload.find("value");
    CHECK(replayed->value == read);
    CHECK(replayed->value.type() == read.type());
  }
  auto report = host.store->verify();
  REQUIRE(report.ok());
  CHECK(report->ok);
}

TEST_CASE("a schema 3 ledger is migrated when opened: step records rebuilt with inline values",
          "[kernel][index][migrate]") {
  KernelHost host;
  REQUIRE(host.kernel->start_run(start_request("r1")).ok());
  REQUIRE(host.kernel
              ->value_step(kAcme, RunId("r1"), "time:1", ValueKind::kTime,
                           [] { return Result<Json>(Json(int64_t{42})); })
              .ok());
  // Version 3's records had no inline value: here, no records at all, which only a rebuild
  // from the events brings back.
  edit_raw_ledger(host, [](ledger::LedgerEnv& env, MDB_txn* t) {
    REQUIRE(mdb_drop(t, env.dbi().steps, 0) == 0);
    std::string version;
    ledger::put_u64be(version, 3);
    MDB_val vk = ledger::to_val(std::string_view("schema_version")), vv = ledger::to_val(version);
    REQUIRE(mdb_put(t, env.dbi().meta, &vk, &vv, 0) == 0);
  });
  auto report = host.store->verify();
  REQUIRE(report.ok());
  CHECK(report->ok);
  std::map<std::string, StepIndexRecord> steps;
  auto index = host.store->run_index(RunId("r1"), collect_steps(steps));
  REQUIRE(index.ok());
  REQUIRE(steps.count("time:1") == 1);
  CHECK(steps["time:1"].value.json() == Json(int64_t{42}));
  auto replayed = host.kernel->value_step(kAcme, RunId("r1"), "time:1", ValueKind::kTime,
                                          [] { return Result<Json>(Json(int64_t{7})); });
  REQUIRE(replayed.ok());
  CHECK(replayed->replayed);
  CHECK(replayed->value == Json(int64_t{42}));
}
