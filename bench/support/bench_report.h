// Benchmark reporting: samples -> median/min/max, printed for people or as JSON lines.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace artana::bench {

struct Figure {
  std::string name;
  std::string unit;
  double median = 0, min = 0, max = 0;
  uint64_t n = 0;
};

Figure summarize(std::string name, std::string unit, std::vector<double> samples);
// Prints "name: median unit (min …, max …, n …)" or, with json, one JSON object per line.
void print(const Figure& figure, bool json);

// Microseconds of one fdatasync after a 4 KiB write, measured in `dir` (the scale for
// every durable figure).
Figure measure_fsync_us(const std::string& dir, int samples);
// The same after `pages` 4 KiB writes at scattered offsets: what a B-tree commit that dirties
// that many pages pays on this disk (some disks pay per page, some per flush).
Figure measure_fsync_scattered_us(const std::string& dir, int pages, int samples);

double now_us();

// A figure's goal: `limit` at most (or, with scale_only, none: the figure gives the scale).
struct Target {
  double limit = 0;
  bool scale_only = false;
};
// "name: median X, min Y, max Z (unit), n N; target <= T unit: met" — or one JSON object per
// line with the same fields.
void report(const Figure& figure, Target target, bool json);
// A figure without a target (the scale: fsync latency, a live run's time).
void info(const Figure& figure, bool json);

}  // namespace artana::bench
