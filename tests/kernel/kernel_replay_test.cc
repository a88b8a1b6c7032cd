// Kernel runs and model steps: live, replayed after a restart, drift under each policy,
// forks, pending steps, halts — through the real LMDB ledger (pauses, summaries and value
// steps: kernel_steps_test.cc).
#include <catch2/catch.hpp>

#include <limits>

#include "artana/kernel/canonical_json.h"
#include "kernel/model_identity.h"
#include "support/kernel_fixture.h"

using namespace artana;
using namespace artana::kernel;
using namespace artana::testing;

namespace {

using Host = KernelHost;

// The script under test: three model steps, each prompt built from the last reply.
std::vector<ModelResult> agent_script(Kernel& kernel, ScriptedModel& port, const std::string& run,
                                      const std::string& second = "plan") {
  std::vector<ModelResult> results;
  std::string prompt = "start";
  for (std::string key : {"turn_1", "turn_2", "turn_3"}) {
    auto r = run_model(kernel, "acme", run, prompt_request(key, key == "turn_2" ? second : prompt),
                       port);
    INFO(r.status().to_string());
    REQUIRE(r.ok());
    prompt = r->output.find("text")->as_string();
    results.push_back(std::move(r).value());
  }
  return results;
}

}  // namespace

TEST_CASE("a resumed run replays every recorded step with no port call and no new event",
          "[kernel][replay]") {
  Host host;
  REQUIRE(host.kernel->start_run(start_request("r1")).ok());
  ScriptedModel live;
  std::vector<ModelResult> first = agent_script(*host.kernel, live, "r1");
  CHECK(live.calls == 3);
  for (const ModelResult& r : first) CHECK_FALSE(r.replayed);
  const size_t events_before = events_of(*host.store, "r1").size();
  CHECK(events_before == 1 + 3 * 2);  // run_started, then request + terminal per step

  host.reopen();
  ScriptedModel replay;
  std::vector<ModelResult> second = agent_script(*host.kernel, replay, "r1");
  CHECK(replay.calls == 0);
  CHECK(events_of(*host.store, "r1").size() == events_before);
  REQUIRE(second.size() == first.size());
  for (size_t i = 0; i < first.size(); ++i) {
    CHECK(second[i].replayed);
    CHECK(second[i].output == first[i].output);
    CHECK(second[i].usage == first[i].usage);
    CHECK(second[i].seq == first[i].seq);
  }
  auto totals = host.store->totals(RunId("r1"));
  REQUIRE(totals.ok());
  CHECK(totals->spend_micro_usd == 3000);
}

TEST_CASE("strict drift halts the run in needs_attention naming the step and fields, stickily",
          "[kernel][drift]") {
  Host host;
  REQUIRE(host.kernel->start_run(start_request("r1")).ok());
  ScriptedModel port;
  agent_script(*host.kernel, port, "r1");
  host.reopen();

  auto one = run_model(*host.kernel, "acme", "r1", prompt_request("turn_1", "start"), port);
  REQUIRE(one.ok());
  CHECK(one->replayed);
  auto drifted = run_model(*host.kernel, "acme", "r1", prompt_request("turn_2", "new plan"), port);
  REQUIRE_FALSE(drifted.ok());
  CHECK(drifted.status().kind() == "replay_drift");
  CHECK(drifted.status().step_key() == "turn_2");
  CHECK_THAT(drifted.status().message(), Catch::Contains("prompt changed"));
  auto status = host.kernel->status(TenantId("acme"), RunId("r1"));
  REQUIRE(status.ok());
  CHECK(*status == RunStatus::kNeedsAttention);
  // Sticky: the next step (even a recorded one) gets the same error.
  auto later = run_model(*host.kernel, "acme", "r1", prompt_request("turn_3", "x"), port);
  CHECK(later.status().kind() == "replay_drift");
  CHECK(later.status().step_key() == "turn_2");
  CHECK(port.calls == 3);
  auto events = events_of(*host.store, "r1");
  REQUIRE(count_type(events, "run_halted") == 1);
  const Event& halted = events.back();
  CHECK(halted.type == "run_halted");
  CHECK(*halted.payload.find("drift_fields") == Json::array({"prompt"}));

  // Replaying to the same point again (a new process, same code) adds no second event.
  host.reopen();
  REQUIRE(run_model(*host.kernel, "acme", "r1", prompt_request("turn_1", "start"), port).ok());
  auto again = run_model(*host.kernel, "acme", "r1", prompt_request("turn_2", "new plan"), port);
  CHECK(again.status().kind() == "replay_drift");
  CHECK(count_type(events_of(*host.store, "r1"), "run_halted") == 1);

  // Fixed code and a resume: the run goes on.
  REQUIRE(host.kernel->resume(TenantId("acme"), RunId("r1"), Json()).ok());
  auto fixed = run_model(*host.kernel, "acme", "r1", prompt_request("turn_2", "plan"), port);
  REQUIRE(fixed.ok());
  CHECK(fixed->replayed);
}

TEST_CASE("allow_prompt_drift returns the recorded result and notes the drift once",
          "[kernel][drift]") {
  Host host;
  REQUIRE(host.kernel->start_run(start_request("r1")).ok());
  ScriptedModel port;
  std::vector<ModelResult> first = agent_script(*host.kernel, port, "r1");
  const size_t before = events_of(*host.store, "r1").size();
  for (int attempt = 0; attempt < 2; ++attempt) {
    host.reopen();
    ModelRequest request = prompt_request("turn_2", "a better plan");
    request.replay = ReplayPolicy::kAllowPromptDrift;
    REQUIRE(run_model(*host.kernel, "acme", "r1", prompt_request("turn_1", "start"), port).ok());
    auto r = run_model(*host.kernel, "acme", "r1", request, port);
    REQUIRE(r.ok());
    CHECK(r->replayed);
    CHECK(r->output == first[1].output);
    CHECK(r->drift_fields == std::vector<std::string>{"prompt"});
  }
  CHECK(port.calls == 3);
  auto events = events_of(*host.store, "r1");
  CHECK(events.size() == before + 1);
  REQUIRE(count_type(events, "replayed_with_drift") == 1);
  CHECK(events.back().payload.find("step_key")->as_string() == "turn_2");
}

TEST_CASE("fork_on_drift continues live in a fork whose chain verifies through the prefix",
          "[kernel][drift][fork]") {
  Host host;
  StartRunRequest start = start_request("r1");
  start.replay = ReplayPolicy::kForkOnDrift;
  REQUIRE(host.kernel->start_run(start).ok());
  ScriptedModel port;
  agent_script(*host.kernel, port, "r1");
  const auto parent_events = events_of(*host.store, "r1");
  host.reopen();

  ScriptedModel after;
  std::vector<ModelResult> forked = agent_script(*host.kernel, after, "r1", "another plan");
  // turn_1 replays from the shared prefix; turn_2 drifted and turn_3 follow live in the fork.
  CHECK(forked[0].replayed);
  CHECK_FALSE(forked[1].replayed);
  CHECK_FALSE(forked[2].replayed);
  CHECK(after.calls == 2);
  const std::string fork_id = forked[1].run_id.str();
  CHECK_THAT(fork_id, Catch::StartsWith("r1::fork::"));
  CHECK(fork_id.size() == std::string("r1::fork::").size() + 12);
  CHECK(forked[2].run_id.str() == fork_id);

  // The fork: run_forked at fork_seq + 1, linked to the parent's hash at fork_seq.
  auto fork_events = events_of(*host.store, fork_id);
  const uint64_t fork_seq = 3;  // run_started, turn_1's request and terminal
  REQUIRE(fork_events.size() > fork_seq);
  const Event& first_own = fork_events[fork_seq];
  CHECK(first_own.type == "run_forked");
  CHECK(first_own.seq == fork_seq + 1);
  CHECK(first_own.prev_hash == parent_events[fork_seq - 1].hash);
  CHECK(first_own.payload.find("forked_from_run_id")->as_string() == "r1");
  CHECK(first_own.payload.find("fork_seq")->as_integer() == 3);
  auto report = host.store->verify();
  REQUIRE(report.ok());
  CHECK(report->ok);

  // The original: one replayed_with_drift naming the fork, nothing else.
  auto original = events_of(*host.store, "r1");
  CHECK(original.size() == parent_events.size() + 1);
  CHECK(original.back().type == "replayed_with_drift");
  CHECK(original.back().payload.find("fork_run_id")->as_string() == fork_id);

  // The same drift again: the same fork, now replayed there.
  host.reopen();
  ScriptedModel third;
  std::vector<ModelResult> again = agent_script(*host.kernel, third, "r1", "another plan");
  CHECK(third.calls == 0);
  CHECK(again[2].run_id.str() == fork_id);
  CHECK(again[2].replayed);
  CHECK(events_of(*host.store, "r1").size() == original.size());
}

TEST_CASE("three pending steps of one run complete in reverse order", "[kernel][steps]") {
  Host host;
  REQUIRE(host.kernel->start_run(start_request("r1")).ok());
  std::vector<ModelStep> calls;
  for (std::string key : {"a", "b", "c"}) {
    auto step = host.kernel->begin_model(TenantId("acme"), RunId("r1"), prompt_request(key, key));
    REQUIRE(step.ok());
    REQUIRE(step->call.has_value());
    calls.push_back(std::move(*step));
  }
  // The same key while it is in flight is refused.
  auto twice = host.kernel->begin_model(TenantId("acme"), RunId("r1"), prompt_request("b", "b"));
  CHECK(twice.status().code() == StatusCode::kFailedPrecondition);
  ScriptedModel port;
  std::vector<uint64_t> seqs;
  for (auto it = calls.rbegin(); it != calls.rend(); ++it) {
    auto done = host.kernel->finish_model(std::move(it->pending), port(*it->call));
    REQUIRE(done.ok());
    seqs.push_back(done->seq);
  }
  CHECK(seqs == std::vector<uint64_t>{3, 5, 7});  // c first, then b, then a
  host.reopen();
  ScriptedModel replay;
  for (std::string key : {"a", "b", "c"}) {
    auto r = run_model(*host.kernel, "acme", "r1", prompt_request(key, key), replay);
    REQUIRE(r.ok());
    CHECK(r->replayed);
    CHECK(r->output.find("text")->as_string() == "reply to " + key);
  }
  CHECK(replay.calls == 0);
}

TEST_CASE("a run of another tenant is refused on every call", "[kernel][tenant]") {
  Host host;
  REQUIRE(host.kernel->start_run(start_request("r1", "acme")).ok());
  ScriptedModel port;
  auto r = run_model(*host.kernel, "globex", "r1", prompt_request("turn_1", "hi"), port);
  CHECK(r.status().code() == StatusCode::kPermissionDenied);
  CHECK(host.kernel->complete(TenantId("globex"), RunId("r1"), Json()).code() ==
        StatusCode::kPermissionDenied);
  CHECK(host.kernel->status(TenantId("globex"), RunId("r1")).status().code() ==
        StatusCode::kPermissionDenied);
  CHECK(port.calls == 0);
  CHECK(events_of(*host.store, "r1").size() == 1);
}

TEST_CASE("a failed model attempt replays as failed until a retry completes it",
          "[kernel][steps]") {
  Host host;
  REQUIRE(host.kernel->start_run(start_request("r1")).ok());
  ScriptedModel flaky;
  flaky.answer = [](const ModelCall&) {
    ModelOutcome out;
    out.ok = false;
    out.transient = true;
    out.error = "HTTP 503 from the provider";
    return out;
  };
  auto failed = run_model(*host.kernel, "acme", "r1", prompt_request("t", "hi"), flaky);
  CHECK(failed.status().kind() == "model_failed");
  CHECK_THAT(failed.status().message(), Catch::Contains("HTTP 503"));
  auto replayed = run_model(*host.kernel, "acme", "r1", prompt_request("t", "hi"), flaky);
  CHECK(replayed.status().kind() == "model_failed");
  CHECK(flaky.calls == 1);
  CHECK(*host.kernel->status(TenantId("acme"), RunId("r1")) == RunStatus::kRunning);

  ScriptedModel good;
  ModelRequest retry = prompt_request("t", "hi");
  retry.retry_failed = true;
  auto ok = run_model(*host.kernel, "acme", "r1", retry, good);
  REQUIRE(ok.ok());
  CHECK(good.calls == 1);
  host.reopen();
  auto later = run_model(*host.kernel, "acme", "r1", prompt_request("t", "hi"), good);
  REQUIRE(later.ok());
  CHECK(later->replayed);
  CHECK(*host.kernel->status(TenantId("acme"), RunId("r1")) == RunStatus::kRunning);
}

TEST_CASE("cancel is sticky and a completed run never goes live again", "[kernel][halt]") {
  Host host;
  REQUIRE(host.kernel->start_run(start_request("c1")).ok());
  REQUIRE(host.kernel->start_run(start_request("d1")).ok());
  ScriptedModel port;
  REQUIRE(host.kernel->cancel(TenantId("acme"), RunId("c1"), "operator said so").ok());
  for (int i = 0; i < 2; ++i) {
    auto r =
        run_model(*host.kernel, "acme", "c1", prompt_request("t" + std::to_string(i), "x"), port);
    CHECK(r.status().kind() == "cancelled");
  }
  REQUIRE(run_model(*host.kernel, "acme", "d1", prompt_request("t", "x"), port).ok());
  REQUIRE(host.kernel->complete(TenantId("acme"), RunId("d1"), Json::object({{"ok", true}})).ok());
  host.reopen();
  CHECK(*host.kernel->status(TenantId("acme"), RunId("d1")) == RunStatus::kCompleted);
  auto recorded = run_model(*host.kernel, "acme", "d1", prompt_request("t", "x"), port);
  REQUIRE(recorded.ok());
  CHECK(recorded->replayed);
  auto unrecorded = run_model(*host.kernel, "acme", "d1", prompt_request("u", "x"), port);
  CHECK(unrecorded.status().kind() == "replay_drift");
  CHECK(port.calls == 1);
  CHECK(*host.kernel->status(TenantId("acme"), RunId("d1")) == RunStatus::kCompleted);
}

TEST_CASE("a changed tool schema is drift of the model steps that offered it", "[kernel][drift]") {
  ToolSpec search{"search", "finds things", Json::object({{"type", "object"}}), "1", "", false};
  Host host;
  REQUIRE(host.kernel->tools().add(search).ok());
  REQUIRE(host.kernel->tools().add(search).code() == StatusCode::kAlreadyExists);
  REQUIRE(host.kernel->start_run(start_request("r1")).ok());
  ScriptedModel port;
  ModelRequest request = prompt_request("turn_1", "find it");
  request.tools = {"search"};
  REQUIRE(run_model(*host.kernel, "acme", "r1", request, port).ok());

  host.reopen();
  search.version = "2";
  REQUIRE(host.kernel->tools().add(search).ok());
  auto drifted = run_model(*host.kernel, "acme", "r1", request, port);
  CHECK(drifted.status().kind() == "replay_drift");
  CHECK_THAT(drifted.status().message(), Catch::Contains("tools changed"));
}

TEST_CASE("tools the tenant lacks are not offered to the model", "[kernel][capability]") {
  Host host;
  KernelOptions guarded;
  guarded.middleware = {make_capability_guard()};
  host.kernel = open_kernel(*host.store, guarded);
  REQUIRE(host.kernel->tools()
              .add({"pay", "pays", Json::object({{"type", "object"}}), "1", "payments", true})
              .ok());
  REQUIRE(host.kernel->tools()
              .add({"look", "looks", Json::object({{"type", "object"}}), "1", "", false})
              .ok());
  REQUIRE(host.kernel->start_run(start_request("r1")).ok());
  ModelRequest request = prompt_request("turn_1", "go");
  request.tools = {"pay", "look"};
  auto step = host.kernel->begin_model(TenantId("acme"), RunId("r1"), request);
  REQUIRE(step.ok());
  REQUIRE(step->call.has_value());
  REQUIRE(step->call->tools.size() == 1);
  CHECK(step->call->tools.as_array()[0].find("name")->as_string() == "look");
  REQUIRE(host.kernel->grant("ops@acme", RunId("r1"), "payments").ok());
  auto record = host.kernel->run_record(TenantId("acme"), RunId("r1"));
  REQUIRE(record.ok());
  CHECK(record->tenant.has_capability("payments"));
}

// The model identity's hash is written straight from the request's parts; it must be the
// hash of the recorded request's canonical JSON (ledgers already hold such hashes), and a
// value that has no canonical form fails the same way.
TEST_CASE("a model request's hash is the SHA-256 of its recorded JSON's canonical text",
          "[kernel][replay][identity]") {
  ModelRequest prompt;
  prompt.step_key = "a";
  prompt.model = "m-ü";
  prompt.prompt = "Summarise \"this\"\n\ttab é 😀";
  prompt.options = Json::object({{"temperature", 0.2}, {"max_tokens", 10}, {"b", Json()}});
  ModelRequest chat = prompt;
  chat.prompt.reset();
  chat.messages = Json::array({Json::object({{"role", "user"}, {"content", "hi"}}),
                               Json::object({{"role", "assistant"}, {"content", Json()}})});
  chat.output_schema = Json::object({{"type", "object"}, {"required", Json::array({"x"})}});
  const Json offered =
      Json::array({Json::object({{"name", "search"}, {"signature", std::string(64, 'a')}})});
  struct Case {
    const ModelRequest* request;
    Json text;
    Json tools;
  };
  for (const Case& c :
       {Case{&prompt, Json(*prompt.prompt), Json::array()},
        Case{&prompt, Json(*prompt.prompt), offered}, Case{&chat, *chat.messages, offered}}) {
    auto identity = model_request_identity(*c.request, &c.text, c.tools);
    REQUIRE(identity.ok());
    const Json recorded = model_request_json(*c.request, c.text, c.tools);
    auto canonical = canonical_json(recorded, "request");
    REQUIRE(canonical.ok());
    CHECK(identity->digest == Sha256::of(*canonical));
    CHECK(identity->hex() == Sha256::of(*canonical).hex());
    CHECK(identity->request() == recorded);
  }
  // The same messages from a source (a script's table): written by it for the hash, built
  // only when the request itself is asked for.
  struct Source final : JsonSource {
    Json value;
    mutable int built = 0;
    Status append_canonical(std::string& out) const override {
      return append_canonical_json(out, value, "request.messages");
    }
    Result<Json> build() const override {
      ++built;
      return value;
    }
  } source;
  source.value = *chat.messages;
  ModelRequest sourced = chat;
  sourced.messages.reset();
  sourced.messages_source = &source;
  auto from_source = model_request_identity(sourced, nullptr, offered);
  REQUIRE(from_source.ok());
  auto from_tree = model_request_identity(chat, &*chat.messages, offered);
  REQUIRE(from_tree.ok());
  CHECK(from_source->digest == from_tree->digest);
  CHECK(source.built == 0);
  CHECK(from_source->request() == from_tree->request());
  CHECK(source.built == 1);
  source.value = Json::object({{"role", "user"}});  // not an array: refused as the tree is
  auto not_array = model_request_identity(sourced, nullptr, offered);
  REQUIRE_FALSE(not_array.ok());
  CHECK_THAT(not_array.status().message(), Catch::Contains("messages must be an array"));
  ModelRequest bad = prompt;
  bad.options = Json::object({{"t", std::numeric_limits<double>::infinity()}});
  const Json bad_prompt(*bad.prompt);
  auto refused = model_request_identity(bad, &bad_prompt, Json::array());
  REQUIRE_FALSE(refused.ok());
  auto expected =
      canonical_json(model_request_json(bad, Json(*bad.prompt), Json::array()), "request");
  REQUIRE_FALSE(expected.ok());
  CHECK(refused.status().message() == expected.status().message());
}
