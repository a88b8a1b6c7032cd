// One table of error kinds: what scripts see for the kernel's internal codes, and the exit
// codes a scheduler gets.
#include <catch2/catch.hpp>

#include "artana/kernel/kernel_types.h"

using namespace artana;
using namespace artana::kernel;

TEST_CASE("internal codes reach scripts as the table's kinds, never raw", "[kernel][errors]") {
  CHECK(visible_kind(Status::disk_full("no space writing /x/data.mdb")) ==
        ErrorKind::kStorageError);
  CHECK(visible_kind(Status::io_error("EIO")) == ErrorKind::kStorageError);
  CHECK(visible_kind(Status::corruption("bad hash")) == ErrorKind::kStorageError);
  CHECK(visible_kind(Status::fenced("taken over")) == ErrorKind::kLeaseHeld);
  CHECK(visible_kind(Status::lease_held("pid 7")) == ErrorKind::kLeaseHeld);
  CHECK(visible_kind(Status::internal("bug")) == ErrorKind::kInternal);
  CHECK(visible_kind(Status::failed_precondition("in flight")) == ErrorKind::kInvalidState);
  // A kind set by the kernel wins over the code.
  CHECK(visible_kind(Status::failed_precondition("x").with_kind(ErrorKind::kReplayDrift)) ==
        ErrorKind::kReplayDrift);
  // A name the table does not have is a script's own kind.
  CHECK_FALSE(parse_error_kind("my_own_kind").has_value());
  CHECK(parse_error_kind("budget_exceeded") == ErrorKind::kBudgetExceeded);
}

TEST_CASE("exit codes come from one table: the same error exits the same way everywhere",
          "[kernel][errors]") {
  CHECK(exit_code_for(Status::lease_held("owner pid 7")) == exit_code::kLedgerUnavailable);
  CHECK(exit_code_for(Status::fenced("owner pid 7")) == exit_code::kLedgerUnavailable);
  CHECK(exit_code_for(Status::not_found("no run")) == exit_code::kNotFound);
  CHECK(exit_code_for(Status::invalid_argument("bad")) == exit_code::kUsage);
  CHECK(exit_code_for(Status::internal("bug")) == exit_code::kInternal);
  CHECK(exit_code_for(RunStatus::kRunning, ErrorKind::kNone) == exit_code::kOk);
  CHECK(exit_code_for(RunStatus::kSleeping, ErrorKind::kNone) == exit_code::kPaused);
  CHECK(exit_code_for(RunStatus::kNeedsAttention, ErrorKind::kBudgetExceeded) ==
        exit_code::kBudget);
  CHECK(exit_code_for(RunStatus::kRunning, ErrorKind::kLeaseHeld) == exit_code::kLedgerUnavailable);
  // A failed run fails (1) whatever the script's error was, unless it asks for an operator.
  CHECK(exit_code_for(RunStatus::kFailed, ErrorKind::kInvalidArgument) == exit_code::kFailed);
  CHECK(exit_code_for(RunStatus::kFailed, ErrorKind::kCapabilityDenied) == exit_code::kDenied);
}
