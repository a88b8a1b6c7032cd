#include "artana/kernel/fault_points.h"

#ifdef ARTANA_FAULT_INJECTION

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <string>

namespace artana::kernel {
namespace {

struct CrashPlan {
  std::string point;  // empty: no crash planned
  long long at = 0;

  CrashPlan() {
    const char* spec = std::getenv("ARTANA_CRASH_AT");
    if (spec == nullptr) return;
    const std::string text(spec);
    const size_t colon = text.rfind(':');
    if (colon == std::string::npos) return;
    at = std::atoll(text.c_str() + colon + 1);
    if (at > 0) point = text.substr(0, colon);
  }
};

const CrashPlan& plan() {
  static const CrashPlan instance;
  return instance;
}

std::atomic<long long> g_crossings{0};

}  // namespace

void fault_point(std::string_view point) {
  const CrashPlan& p = plan();
  if (p.point.empty() || p.point != point) return;
  if (g_crossings.fetch_add(1, std::memory_order_relaxed) + 1 == p.at) kill(getpid(), SIGKILL);
}

}  // namespace artana::kernel

#endif
