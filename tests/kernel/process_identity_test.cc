// Who leases runs (ledger/process_identity.h): this process's identity, and whether another
// process still lives — read from /proc/<pid>/stat with plain system calls.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "ledger/process_identity.h"

using namespace artana::kernel::ledger;

namespace {

// The oracle: field 22 (starttime) of /proc/<pid>/stat, counted from after the last ')' by
// the test's own reading.
uint64_t start_ticks_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(in, line);
  std::istringstream fields(line.substr(line.rfind(')') + 2));
  std::string field;
  for (int i = 3; i <= 22; ++i) fields >> field;
  return std::stoull(field);
}

// A child that waits for a byte on `go` (or its death) and then exits; named `name`.
pid_t waiting_child(int go_read, const char* name) {
  const pid_t child = fork();
  if (child == 0) {
    prctl(PR_SET_NAME, name, 0, 0, 0);
    char byte = 0;
    (void)!read(go_read, &byte, 1);
    _exit(0);
  }
  return child;
}

}  // namespace

TEST_CASE("this process's identity names its host, pid and start time, and it is alive by them",
          "[ledger][lease]") {
  const ProcessIdentity& me = this_process();
  CHECK(me.pid == getpid());
  CHECK(me.start_ticks == start_ticks_of(getpid()));
  CHECK(me.owner_id ==
        me.host + ":" + std::to_string(me.pid) + ":" + std::to_string(me.start_ticks));
  CHECK(&this_process() == &me);  // made once
  CHECK(process_alive(me.pid, me.start_ticks));
  CHECK(process_alive(me.pid, 0));                         // no start time to compare: alive
  CHECK_FALSE(process_alive(me.pid, me.start_ticks + 1));  // the pid reused by another
  CHECK_FALSE(process_alive(0, 0));
}

TEST_CASE("a process whose name holds spaces and parentheses is read right", "[ledger][lease]") {
  int go[2];
  REQUIRE(pipe(go) == 0);
  const pid_t child = waiting_child(go[0], "a) b (c) 7 R");
  REQUIRE(child > 0);
  // Its name is set by then once /proc shows it (the child sets it first thing).
  std::string comm;
  for (int i = 0; i < 100000 && comm != "a) b (c) 7 R\n"; ++i) {
    std::ifstream in("/proc/" + std::to_string(child) + "/comm");
    std::getline(in, comm);
    comm += "\n";
  }
  REQUIRE(comm == "a) b (c) 7 R\n");
  const uint64_t ticks = start_ticks_of(child);
  CHECK(process_alive(child, ticks));
  CHECK_FALSE(process_alive(child, ticks + 1));
  REQUIRE(write(go[1], "x", 1) == 1);
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  CHECK_FALSE(process_alive(child, ticks));  // gone
  close(go[0]);
  close(go[1]);
}

TEST_CASE("a killed process not yet reaped is not alive", "[ledger][lease]") {
  int go[2];
  REQUIRE(pipe(go) == 0);
  const pid_t child = waiting_child(go[0], "doomed");
  REQUIRE(child > 0);
  const uint64_t ticks = start_ticks_of(child);
  REQUIRE(kill(child, SIGKILL) == 0);
  siginfo_t info{};
  // Dead, left a zombie (WNOWAIT): the pid is still taken.
  REQUIRE(waitid(P_PID, static_cast<id_t>(child), &info, WEXITED | WNOWAIT) == 0);
  CHECK_FALSE(process_alive(child, ticks));
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  close(go[0]);
  close(go[1]);
}

TEST_CASE("a fork's child is another owner than its parent", "[ledger][lease]") {
  const std::string parent = this_process().owner_id;
  int out[2];
  REQUIRE(pipe(out) == 0);
  const pid_t child = fork();
  if (child == 0) {
    const ProcessIdentity& me = this_process();
    const std::string said = me.owner_id + (me.pid == getpid() ? " pid-ok" : " pid-stale");
    (void)!write(out[1], said.data(), said.size());
    _exit(0);
  }
  REQUIRE(child > 0);
  close(out[1]);
  std::string heard;
  char buffer[256];
  for (ssize_t got; (got = read(out[0], buffer, sizeof buffer)) > 0;)
    heard.append(buffer, static_cast<size_t>(got));
  close(out[0]);
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  CHECK(heard.find(" pid-ok") != std::string::npos);
  CHECK(heard.rfind(this_process().host + ":" + std::to_string(child) + ":", 0) == 0);
  CHECK(heard.substr(0, heard.find(' ')) != parent);
  CHECK(this_process().owner_id == parent);  // the parent's own is unchanged
}
