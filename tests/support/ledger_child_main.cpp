// ledger_child: a separate process the store tests drive through stdin and SIGKILL.
//
//   ledger_child DIR DURABILITY [TTL_MS]
// then one command per stdin line, one answer per stdout line (flushed):
//   create RUN TENANT           -> "ok"
//   append RUN EPOCH N BYTES    -> per append "ok SEQ HASH EPOCH" (a 1-event step whose
//                                  payload has BYTES of text), or "err CODE MESSAGE" and stop
//   fill RUN BYTES              -> appends until one fails: "ok …" lines, then "err …"
//   rlimit BYTES                -> RLIMIT_FSIZE = BYTES with SIGXFSZ ignored: writes past
//                                  it fail with EFBIG, as on a full disk; "ok"
//   open                        -> opens the store; "ok" or "err CODE MESSAGE"
//   wait                        -> "ok" (a rendezvous: the test knows we got here)
//   quit                        -> exits 0
// The store opens lazily (at the first command needing it) so `rlimit` can come first.
#include <signal.h>
#include <sys/resource.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>

#include "artana/kernel/lmdb_event_store.h"

using namespace artana;
using namespace artana::kernel;

namespace {

void say(const std::string& line) { std::cout << line << '\n' << std::flush; }

void say_error(const Status& s) {
  say("err " + std::string(status_code_name(s.code())) + " " + s.message());
}

bool append_one(EventStore& store, const std::string& run, uint64_t& epoch, size_t bytes,
                uint64_t n) {
  AppendRequest req;
  req.run_id = RunId(run);
  req.lease_epoch = epoch;
  Json payload = Json::object({{"n", static_cast<int64_t>(n)},
                               {"text", std::string(bytes, static_cast<char>('a' + n % 26))}});
  req.drafts.push_back(EventDraft{"note", std::move(payload)});
  auto result = store.append(std::move(req));
  if (!result.ok()) {
    say_error(result.status());
    return false;
  }
  epoch = result->lease_epoch;
  const Event& e = result->events.back();
  say("ok " + std::to_string(e.seq) + " " + e.hash.hex() + " " + std::to_string(epoch));
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: ledger_child DIR DURABILITY [TTL_MS]\n";
    return 2;
  }
  LmdbStoreOptions options;
  auto durability = parse_durability(argv[2]);
  if (!durability.ok()) {
    std::cerr << durability.status().to_string() << "\n";
    return 2;
  }
  options.durability = *durability;
  if (argc > 3) options.lease_ttl_ms = std::stoll(argv[3]);
  // A small map, so that long runs in the tests also exercise growth.
  options.initial_map_bytes = 1 << 20;
  std::unique_ptr<EventStore> store;
  auto ensure_open = [&]() -> bool {
    if (store) return true;
    auto opened = open_lmdb_store(argv[1], options);
    if (!opened.ok()) {
      say_error(opened.status());
      return false;
    }
    store = std::move(opened).value();
    return true;
  };

  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    std::string cmd;
    in >> cmd;
    if (cmd == "quit") return 0;
    if (cmd == "wait") {
      say("ok");
    } else if (cmd == "rlimit") {
      unsigned long long bytes = 0;
      in >> bytes;
      signal(SIGXFSZ, SIG_IGN);
      struct rlimit limit = {bytes, bytes};
      say(setrlimit(RLIMIT_FSIZE, &limit) == 0 ? "ok" : "err io_error setrlimit");
    } else if (cmd == "open") {
      if (ensure_open()) say("ok");
    } else if (cmd == "create") {
      std::string run, tenant;
      in >> run >> tenant;
      if (!ensure_open()) continue;
      RunHeader header;
      header.run_id = RunId(run);
      header.tenant_id = TenantId(tenant);
      auto created = store->create_run(header);
      if (created.ok()) {
        say("ok");
      } else {
        say_error(created.status());
      }
    } else if (cmd == "append" || cmd == "fill") {
      std::string run;
      uint64_t epoch = 0, count = UINT64_MAX;
      size_t bytes = 0;
      in >> run;
      if (cmd == "append") in >> epoch >> count;
      in >> bytes;
      if (!ensure_open()) continue;
      for (uint64_t i = 0; i < count; ++i) {
        if (!append_one(*store, run, epoch, bytes, i)) break;
      }
    } else {
      say("err invalid_argument unknown command " + cmd);
    }
  }
  return 0;
}
