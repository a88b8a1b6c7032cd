// Exit codes of the `artana` CLI: a scheduler can act on each one (docs/cli.md).
#pragma once

namespace artana::host {

inline constexpr int kExitOk = 0;                 // done (a run: completed)
inline constexpr int kExitFailed = 1;             // a run failed or a script raised
inline constexpr int kExitUsage = 2;              // bad arguments: fix the command line
inline constexpr int kExitPaused = 3;             // paused or sleeping: resume it later
inline constexpr int kExitNeedsAttention = 4;     // drift or reconciliation: an operator acts
inline constexpr int kExitBudget = 5;             // budget exceeded: raise it, resume
inline constexpr int kExitDenied = 6;             // capability or policy denied
inline constexpr int kExitCancelled = 7;          // cancelled
inline constexpr int kExitLedgerUnavailable = 8;  // the ledger cannot be opened or written
inline constexpr int kExitNotFound = 9;           // no such run
inline constexpr int kExitLedgerInvalid = 10;     // verify found a bad run / seq
inline constexpr int kExitInternal = 70;          // a bug (EX_SOFTWARE)

}  // namespace artana::host
