#include "artana/kernel/logging.h"

#include <memory>
#include <mutex>

namespace artana {

spdlog::logger& named_logger(const std::string& name) {
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  std::shared_ptr<spdlog::logger> logger = spdlog::get(name);
  if (!logger) {
    logger = spdlog::default_logger()->clone(name);
    spdlog::register_logger(logger);
  }
  return *logger;  // the registry keeps it alive
}

}  // namespace artana
