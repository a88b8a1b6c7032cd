#include "capi_log.h"

#include <spdlog/details/log_msg.h>
#include <spdlog/sinks/sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <string>
#include <vector>

namespace artana::capi {
namespace {

thread_local LogTarget* current_target = nullptr;

std::mutex& targets_mu() {
  static std::mutex mu;
  return mu;
}
std::vector<std::weak_ptr<LogTarget>>& targets() {
  static std::vector<std::weak_ptr<LogTarget>> all;
  return all;
}

int level_of(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
    case spdlog::level::debug:
      return ARTANA_LOG_DEBUG;
    case spdlog::level::info:
      return ARTANA_LOG_INFO;
    case spdlog::level::warn:
      return ARTANA_LOG_WARN;
    default:
      return ARTANA_LOG_ERROR;
  }
}

// Hands `text` to `target`'s function; false when it has none (or the line is below its level,
// which still counts as taken: the application chose not to hear it).
bool deliver(LogTarget& target, int level, const std::string& text) {
  std::lock_guard<std::recursive_mutex> lock(target.mu);
  if (target.fn == nullptr) return false;
  if (level >= target.min_level) target.fn(target.user, level, text.c_str());
  return true;
}

class RoutingSink final : public spdlog::sinks::sink {
 public:
  void log(const spdlog::details::log_msg& msg) override {
    const int level = level_of(msg.level);
    const std::string text(msg.payload.data(), msg.payload.size());
    bool taken = false;
    if (current_target != nullptr) {
      taken = deliver(*current_target, level, text);
    } else {
      std::vector<std::shared_ptr<LogTarget>> all;
      {
        std::lock_guard<std::mutex> lock(targets_mu());
        for (const auto& weak : targets())
          if (auto target = weak.lock()) all.push_back(std::move(target));
      }
      for (const auto& target : all) taken = deliver(*target, level, text) || taken;
    }
    if (!taken) fallback_->log(msg);
  }
  void flush() override { fallback_->flush(); }
  void set_pattern(const std::string& pattern) override { fallback_->set_pattern(pattern); }
  void set_formatter(std::unique_ptr<spdlog::formatter> formatter) override {
    fallback_->set_formatter(std::move(formatter));
  }

 private:
  std::shared_ptr<spdlog::sinks::sink> fallback_ =
      std::make_shared<spdlog::sinks::stderr_sink_mt>();
};

void install_router() {
  static std::once_flag once;
  std::call_once(once, [] {
    auto sink = std::make_shared<RoutingSink>();
    // The layers' loggers made so far (named_logger clones the default's sinks when first
    // used) and the default logger itself.
    spdlog::apply_all(
        [&](const std::shared_ptr<spdlog::logger>& logger) { logger->sinks().assign(1, sink); });
    auto logger = std::make_shared<spdlog::logger>("artana", sink);
    logger->set_level(spdlog::default_logger()->level());
    spdlog::set_default_logger(std::move(logger));
  });
}

}  // namespace

void route_logs(const std::shared_ptr<LogTarget>& target) {
  install_router();
  std::lock_guard<std::mutex> lock(targets_mu());
  auto& all = targets();
  all.erase(std::remove_if(all.begin(), all.end(), [](const auto& weak) { return weak.expired(); }),
            all.end());
  all.push_back(target);
}

void unroute_logs(const std::shared_ptr<LogTarget>& target) {
  {
    std::lock_guard<std::mutex> lock(targets_mu());
    auto& all = targets();
    all.erase(std::remove_if(all.begin(), all.end(),
                             [&](const auto& weak) {
                               auto held = weak.lock();
                               return !held || held == target;
                             }),
              all.end());
  }
  std::lock_guard<std::recursive_mutex> lock(target->mu);  // waits for a call under way
  target->fn = nullptr;
}

LogScope::LogScope(LogTarget* target) : previous_(current_target) { current_target = target; }
LogScope::~LogScope() { current_target = previous_; }

}  // namespace artana::capi
