// guarded(): the host's wall around one run's work. A C++ exception or a Lua panic escaping
// work on a run (a host bug) ends that run only, never the host and the other runs it holds.
#pragma once

#include <exception>

#include "script_run.h"

namespace artana::host {

template <typename Work>
void guarded(ScriptRun& run, Work&& work) noexcept {
  try {
    work();
    return;
  } catch (const std::exception& e) {
    try {
      run.crashed(e.what());
    } catch (...) {
    }
  } catch (...) {
    try {
      run.crashed("an unknown exception");
    } catch (...) {
    }
  }
}

}  // namespace artana::host
