// A HostFixture whose scripts can require the stdlib (stdlib/ of the source tree), and
// helpers the stdlib's tests share.
#pragma once

#include <string>

#include "host/host_fixture.h"

namespace artana::testing {

inline host::HostOptions stdlib_options(host::HostOptions options = {}) {
  options.stdlib_dir = std::string(ARTANA_SOURCE_DIR) + "/stdlib";
  return options;
}

// The run_summary events of `run` of `kind`, in order.
inline std::vector<kernel::Event> summaries_of(HostFixture& f, const std::string& run,
                                               const std::string& kind) {
  std::vector<kernel::Event> out;
  for (kernel::Event& e : f.events(run)) {
    const kernel::Json* k = e.payload.find("kind");
    if (e.type == "run_summary" && k != nullptr && k->is_string() && k->as_string() == kind)
      out.push_back(std::move(e));
  }
  return out;
}

}  // namespace artana::testing
