// PageWarmer: in the mapped mode a thread touches the pages the next commits will write.
// It must change no byte, keep clear of the pages the writer uses, and survive the map
// moving under it (a grown map is a new mapping: a touch of the old one would crash).
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

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

std::unique_ptr<LedgerEnv> open_env(const TempDir& dir, Durability durability,
                                    uint64_t map_bytes = uint64_t{1} << 30) {
  LmdbStoreOptions options;
  options.durability = durability;
  options.initial_map_bytes = map_bytes;
  auto env = LedgerEnv::open(dir.str(), options);
  REQUIRE(env.ok());
  return std::move(env).value();
}

std::string key_of(int i) { return "k" + std::to_string(100000 + i); }

// 3 KiB that differ per key, so a page written twice or zeroed shows.
std::string value_of(int i) {
  std::string value(3000, 'a');
  for (size_t at = 0; at < value.size(); at += 7)
    value[at] = static_cast<char>('a' + (i + at) % 26);
  return value;
}

// Writes values [from, to), one commit each, as the host's appends do.
void write_values(GroupCommit& commits, int from, int to) {
  for (int i = from; i < to; ++i) {
    WriteOp op;
    op.bytes_hint = 3100;
    op.apply = [i](WriteContext& ctx) {
      return ctx.put(ctx.env().dbi().aux, key_of(i), value_of(i));
    };
    commits.submit({&op});
    REQUIRE(op.status.ok());
  }
}

void check_values(LedgerEnv& env, int count) {
  auto txn = env.begin_read();
  REQUIRE(txn.ok());
  int bad = 0;
  for (int i = 0; i < count; ++i) {
    const std::string key = key_of(i);
    MDB_val k = to_val(key), v;
    if (mdb_get(txn->get(), env.dbi().aux, &k, &v) != 0 || from_val(v) != value_of(i)) ++bad;
  }
  CHECK(bad == 0);
}

}  // namespace

TEST_CASE("the mapped mode warms the pages its next commits write, and changes no byte",
          "[store][warmer]") {
  TempDir dir;
  auto env = open_env(dir, Durability::kNone);
  GroupCommit commits(*env, Durability::kNone);
  write_values(commits, 0, 2000);  // ~6 MiB: the reservation moves many times
  check_values(*env, 2000);
  CHECK(env->pages_warmed() > 100);

  // Past LMDB's last page nothing was ever written: the touched pages still read as zeros.
  MDB_envinfo info;
  REQUIRE(mdb_env_info(env->env(), &info) == 0);
  const off_t past = static_cast<off_t>((info.me_last_pgno + 1) * 4096);
  int fd = ::open(env->data_path().c_str(), O_RDONLY);
  REQUIRE(fd >= 0);
  std::vector<char> tail(2 * 1024 * 1024, 1);
  const ssize_t got = ::pread(fd, tail.data(), tail.size(), past);
  ::close(fd);
  REQUIRE(got > 0);
  size_t nonzero = 0;
  for (ssize_t at = 0; at < got; ++at) nonzero += tail[static_cast<size_t>(at)] != 0;
  CHECK(nonzero == 0);
}

TEST_CASE("pages are warmed across map growth without touching the old map", "[store][warmer]") {
  TempDir dir;
  // 256 KiB: the map is doubled about five times while the thread warms ahead.
  auto env = open_env(dir, Durability::kNone, 256 * 1024);
  GroupCommit commits(*env, Durability::kNone);
  write_values(commits, 0, 2000);
  check_values(*env, 2000);
  MDB_envinfo info;
  REQUIRE(mdb_env_info(env->env(), &info) == 0);
  CHECK(info.me_mapsize >= 4 * 1024 * 1024);
  CHECK(env->pages_warmed() > 100);
  // Reopened, the ledger is whole.
  env.reset();
  auto again = open_env(dir, Durability::kNone);
  check_values(*again, 2000);
}

TEST_CASE("the synced modes write with pwrite and warm nothing", "[store][warmer]") {
  TempDir dir;
  auto env = open_env(dir, Durability::kEffects);
  GroupCommit commits(*env, Durability::kEffects);
  write_values(commits, 0, 50);
  check_values(*env, 50);
  CHECK(env->pages_warmed() == 0);
}
