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
//   smalldisk SIZE              -> mounts a tmpfs of SIZE (as mount(8) reads it: "3m") on DIR
//                                  in a mount namespace of this process (and, when not root,
//                                  a user namespace): a full disk for any user. The parent
//                                  sees it at /proc/PID/root/DIR while this process lives.
//                                  "ok" or "err unavailable MESSAGE"
//   blob SEED BYTES             -> put_blob of BYTES bytes made from SEED: "ok HASH" or "err …"
//   getblob HASH                -> "ok SIZE", "missing" or "err …"
//   check RUN                   -> closes the store, opens it again read-only (as a new
//                                  process would find it) and verifies the ledger: one
//                                  "event SEQ HASH" line per event of RUN, then "verified", or
//                                  "bad PROBLEM" / "err …"
//   open                        -> opens the store; "ok" or "err CODE MESSAGE"
//   mapbytes N                  -> the map size the store opens with (default 1 MiB): "ok"
//   defer RUN EPOCH HEAD N      -> N deferrable appends (AppendRequest::deferrable) after
//                                  seq HEAD: per append "ok SEQ" (held, not committed yet)
//                                  or "err CODE MESSAGE"
//   flush                       -> commits what the store holds back: "ok"
//   wait                        -> "ok" (a rendezvous: the test knows we got here)
//   quit                        -> exits 0
// The store opens lazily (at the first command needing it) so `rlimit` can come first.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
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

bool write_file(const char* path, const std::string& text) {
  int fd = ::open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  return ok;
}

// A tmpfs of `size` on `dir`, seen by this process alone: root gets a mount namespace of its
// own; anyone else a user namespace too, where it is root and may mount a tmpfs (Linux since
// 3.8, on by default in Debian). Must run before any thread starts (unshare refuses a user
// namespace to a threaded process): the store opens lazily, after this.
std::string private_tmpfs(const std::string& dir, const std::string& size) {
  const uid_t uid = ::geteuid();
  const gid_t gid = ::getegid();
  ::mkdir(dir.c_str(), 0700);
  if (::unshare(CLONE_NEWNS) != 0) {
    if (::unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) {
      return std::string("unshare: ") + std::strerror(errno);
    }
    if (!write_file("/proc/self/setgroups", "deny") ||
        !write_file("/proc/self/uid_map", "0 " + std::to_string(uid) + " 1") ||
        !write_file("/proc/self/gid_map", "0 " + std::to_string(gid) + " 1")) {
      return std::string("mapping the user namespace: ") + std::strerror(errno);
    }
  }
  // Nothing mounted here propagates back to the test's namespace.
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return std::string("making mounts private: ") + std::strerror(errno);
  }
  if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, ("size=" + size).c_str()) != 0) {
    return std::string("mounting a tmpfs: ") + std::strerror(errno);
  }
  return "";
}

std::string blob_of(const std::string& seed, size_t bytes) {
  std::string out;
  out.reserve(bytes);
  for (size_t i = 0; out.size() < bytes; ++i) out += seed + std::to_string(i) + "\n";
  out.resize(bytes);
  return out;
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
    } else if (cmd == "smalldisk") {
      std::string size;
      in >> size;
      if (store) {
        say("err failed_precondition smalldisk must come before the store opens");
        continue;
      }
      const std::string error = private_tmpfs(argv[1], size);
      say(error.empty() ? "ok" : "err unavailable " + error);
    } else if (cmd == "blob") {
      std::string seed;
      size_t bytes = 0;
      in >> seed >> bytes;
      if (!ensure_open()) continue;
      auto put = store->put_blob(blob_of(seed, bytes));
      if (put.ok()) {
        say("ok " + *put);
      } else {
        say_error(put.status());
      }
    } else if (cmd == "getblob") {
      std::string hash;
      in >> hash;
      if (!ensure_open()) continue;
      auto got = store->get_blob(hash);
      if (!got.ok()) {
        say_error(got.status());
      } else if (!got->has_value()) {
        say("missing");
      } else {
        say("ok " + std::to_string((*got)->size()));
      }
    } else if (cmd == "check") {
      std::string run;
      in >> run;
      store.reset();
      options.read_only = true;
      if (!ensure_open()) continue;
      auto report = store->verify();
      auto events = store->read(RunId(run));
      if (!report.ok() || !events.ok()) {
        say_error(report.ok() ? events.status() : report.status());
        continue;
      }
      for (const Event& e : *events) say("event " + std::to_string(e.seq) + " " + e.hash.hex());
      say(report->ok ? "verified" : "bad " + report->problem);
    } else if (cmd == "defer") {
      std::string run;
      uint64_t epoch = 0, head = 0, count = 0;
      in >> run >> epoch >> head >> count;
      if (!ensure_open()) continue;
      for (uint64_t i = 0; i < count; ++i) {
        AppendRequest req;
        req.run_id = RunId(run);
        req.lease_epoch = epoch;
        req.expected_head_seq = head + i;
        req.deferrable = true;
        req.drafts.push_back(
            EventDraft{"held", Json::object({{"n", static_cast<int64_t>(head + i + 1)}})});
        auto result = store->append(std::move(req));
        if (!result.ok()) {
          say_error(result.status());
          break;
        }
        say("ok " + std::to_string(result->events.back().seq));
      }
    } else if (cmd == "flush") {
      if (!ensure_open()) continue;
      store->flush();
      say("ok");
    } else if (cmd == "open") {
      if (ensure_open()) say("ok");
    } else if (cmd == "mapbytes") {
      in >> options.initial_map_bytes;
      say("ok");
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
