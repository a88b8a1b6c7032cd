#include "support/bench_report.h"

#include <fcntl.h>
#include <unistd.h>
#include <cstring>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>

namespace artana::bench {

double now_us() {
  return std::chrono::duration<double, std::micro>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Figure summarize(std::string name, std::string unit, std::vector<double> samples) {
  Figure f;
  f.name = std::move(name);
  f.unit = std::move(unit);
  f.n = samples.size();
  if (samples.empty()) return f;
  std::sort(samples.begin(), samples.end());
  f.min = samples.front();
  f.max = samples.back();
  f.median = samples[samples.size() / 2];
  return f;
}

void print(const Figure& f, bool json) {
  if (json) {
    std::printf(
        "{\"name\":\"%s\",\"unit\":\"%s\",\"median\":%.3f,\"min\":%.3f,\"max\":%.3f,\"n\":%llu}\n",
        f.name.c_str(), f.unit.c_str(), f.median, f.min, f.max,
        static_cast<unsigned long long>(f.n));
  } else {
    std::printf("%-34s %12.2f %-8s (min %.2f, max %.2f, n %llu)\n", f.name.c_str(), f.median,
                f.unit.c_str(), f.min, f.max, static_cast<unsigned long long>(f.n));
  }
  std::fflush(stdout);
}

Figure measure_fsync_us(const std::string& dir, int samples) {
  std::string path = dir + "/fsync-probe";
  int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0600);
  std::vector<double> times;
  if (fd < 0) return summarize("fsync_us", "us", times);
  char block[4096] = {0};
  for (int i = 0; i < samples; ++i) {
    double start = now_us();
    if (::pwrite(fd, block, sizeof block, 0) != sizeof block || ::fdatasync(fd) != 0) break;
    times.push_back(now_us() - start);
  }
  ::close(fd);
  ::unlink(path.c_str());
  return summarize("fsync_us", "us", times);
}

Figure measure_fsync_scattered_us(const std::string& dir, int pages, int samples) {
  const std::string name = "fsync_" + std::to_string(pages) + "_scattered_pages_us";
  std::string path = dir + "/fsync-probe";
  int fd = ::open(path.c_str(), O_CREAT | O_RDWR | O_TRUNC, 0600);
  std::vector<double> times;
  if (fd < 0) return summarize(name, "us", times);
  // Preallocate with real zeros so the figure is about flushing, not allocating blocks.
  constexpr int kSlots = 2048;
  std::vector<char> zeros(1 << 20, 0);
  bool ok = true;
  for (int i = 0; i < kSlots * 4096 / static_cast<int>(zeros.size()) && ok; ++i) {
    ok = ::pwrite(fd, zeros.data(), zeros.size(), static_cast<off_t>(i) * zeros.size()) ==
         static_cast<ssize_t>(zeros.size());
  }
  ok = ok && ::fdatasync(fd) == 0;
  char block[4096];
  std::memset(block, 'x', sizeof block);
  uint32_t state = 12345;
  for (int i = 0; i < samples && ok; ++i) {
    double start = now_us();
    for (int p = 0; p < pages && ok; ++p) {
      state = state * 1103515245u + 12345u;
      off_t at = static_cast<off_t>((state >> 8) % kSlots) * 4096;
      ok = ::pwrite(fd, block, sizeof block, at) == sizeof block;
    }
    ok = ok && ::fdatasync(fd) == 0;
    if (ok) times.push_back(now_us() - start);
  }
  ::close(fd);
  ::unlink(path.c_str());
  return summarize(name, "us", times);
}

void report(const Figure& f, Target target, bool json) {
  const bool met = target.scale_only || f.median <= target.limit;
  if (json) {
    std::printf(
        "{\"name\":\"%s\",\"unit\":\"%s\",\"median\":%.3f,\"min\":%.3f,\"max\":%.3f,\"n\":%llu",
        f.name.c_str(), f.unit.c_str(), f.median, f.min, f.max,
        static_cast<unsigned long long>(f.n));
    if (!target.scale_only)
      std::printf(",\"target_max\":%.3f,\"met\":%s", target.limit, met ? "true" : "false");
    std::printf("}\n");
  } else {
    std::printf("%s: median %.3f, min %.3f, max %.3f (%s), n %llu", f.name.c_str(), f.median, f.min,
                f.max, f.unit.c_str(), static_cast<unsigned long long>(f.n));
    if (target.scale_only) {
      std::printf("; target: scale\n");
    } else {
      std::printf("; target <= %g %s: %s\n", target.limit, f.unit.c_str(), met ? "met" : "MISSED");
    }
  }
  std::fflush(stdout);
}

void info(const Figure& f, bool json) { report(f, Target{0, true}, json); }

}  // namespace artana::bench
