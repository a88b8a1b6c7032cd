// GroupCommit's batching rule: ops share one transaction, a refused op leaves it untouched,
// and an op that fails after writing makes the batch redo itself one op per transaction.
#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <vector>

#include "ledger/group_commit.h"
#include "ledger/ledger_env.h"
#include "support/temp_dir.h"

using namespace artana;
using namespace artana::kernel;
using namespace artana::kernel::ledger;
using artana::testing::TempDir;

namespace {

std::unique_ptr<LedgerEnv> open_env(const TempDir& dir) {
  LmdbStoreOptions options;
  options.durability = Durability::kNone;
  auto env = LedgerEnv::open(dir.str(), options);
  REQUIRE(env.ok());
  return std::move(env).value();
}

// An op that writes `key` into the aux database, then fails if told to.
struct KeyOp {
  WriteOp op;
  int runs = 0;
  KeyOp(std::string key, bool write, bool fail) {
    op.apply = [this, key, write, fail](WriteContext& ctx) -> Status {
      ++runs;
      if (write) ARTANA_RETURN_IF_ERROR(ctx.put(ctx.env().dbi().aux, key, "v"));
      if (fail) return Status::failed_precondition("op {} refused", key);
      return Status();
    };
  }
};

bool has_key(LedgerEnv& env, const std::string& key) {
  auto txn = env.begin_read();
  REQUIRE(txn.ok());
  MDB_val k = to_val(key), v;
  return mdb_get(txn->get(), env.dbi().aux, &k, &v) == 0;
}

}  // namespace

TEST_CASE("an op refused before writing leaves the batch's other ops to commit together",
          "[store][group-commit]") {
  TempDir dir;
  auto env = open_env(dir);
  GroupCommit commits(*env, Durability::kNone);
  KeyOp first("a", true, false), refused("b", false, true), last("c", true, false);
  commits.submit({&first.op, &refused.op, &last.op});
  CHECK(first.op.status.ok());
  CHECK(refused.op.status.code() == StatusCode::kFailedPrecondition);
  CHECK(last.op.status.ok());
  CHECK(has_key(*env, "a"));
  CHECK(has_key(*env, "c"));
  // One transaction: nobody was redone.
  CHECK(first.runs == 1);
  CHECK(last.runs == 1);
}

TEST_CASE("an op failing after it wrote is redone alone and its writes never commit",
          "[store][group-commit]") {
  TempDir dir;
  auto env = open_env(dir);
  GroupCommit commits(*env, Durability::kNone);
  KeyOp first("a", true, false), halfway("b", true, true), last("c", true, false);
  commits.submit({&first.op, &halfway.op, &last.op});
  CHECK(first.op.status.ok());
  CHECK(halfway.op.status.code() == StatusCode::kFailedPrecondition);
  CHECK(last.op.status.ok());
  CHECK(has_key(*env, "a"));
  CHECK_FALSE(has_key(*env, "b"));
  CHECK(has_key(*env, "c"));
  // The shared transaction was abandoned and every op ran again in its own.
  CHECK(first.runs == 2);
  CHECK(halfway.runs == 2);
  CHECK(last.runs == 1);
}

TEST_CASE("a lone op that fails after writing commits nothing", "[store][group-commit]") {
  TempDir dir;
  auto env = open_env(dir);
  GroupCommit commits(*env, Durability::kNone);
  KeyOp halfway("b", true, true);
  commits.submit({&halfway.op});
  CHECK(halfway.op.status.code() == StatusCode::kFailedPrecondition);
  CHECK_FALSE(has_key(*env, "b"));
  CHECK(halfway.runs == 1);
}

TEST_CASE("insert writes an absent key and hands back a present key's value, writing nothing",
          "[store][group-commit]") {
  TempDir dir;
  auto env = open_env(dir);
  GroupCommit commits(*env, Durability::kNone);
  std::vector<std::optional<std::string>> answers;
  WriteOp op;
  op.apply = [&](WriteContext& ctx) -> Status {
    const MDB_dbi aux = ctx.env().dbi().aux;
    for (const char* value : {"first", "second"}) {
      ARTANA_ASSIGN_OR_RETURN(std::optional<std::string> stored, ctx.insert(aux, "k", value));
      answers.push_back(std::move(stored));
    }
    return Status();
  };
  commits.submit({&op});
  REQUIRE(op.status.ok());
  REQUIRE(answers.size() == 2);
  CHECK_FALSE(answers[0].has_value());
  REQUIRE(answers[1].has_value());
  CHECK(*answers[1] == "first");
  auto txn = env->begin_read();
  REQUIRE(txn.ok());
  MDB_val k = to_val(std::string_view("k")), v;
  REQUIRE(mdb_get(txn->get(), env->dbi().aux, &k, &v) == 0);
  CHECK(from_val(v) == "first");
}
