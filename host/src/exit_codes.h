// Exit codes of the `artana` CLI: a scheduler can act on each one (docs/cli.md).
#pragma once

namespace artana::host {

inline constexpr int kExitOk = 0;
inline constexpr int kExitUsage = 2;              // bad arguments: fix the command line
inline constexpr int kExitLedgerUnavailable = 8;  // the ledger cannot be opened
inline constexpr int kExitLedgerInvalid = 10;     // verify found a bad run / seq
inline constexpr int kExitInternal = 70;          // a bug (EX_SOFTWARE)

}  // namespace artana::host
