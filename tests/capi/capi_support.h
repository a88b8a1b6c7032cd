// Helpers of the C API's tests: a host on a temporary ledger, scripts from memory, a run's
// status and output, each failure reported with artana_last_error().
#pragma once

#include <catch2/catch.hpp>

#include <cstring>
#include <string>

#include "artana/artana.h"
#include "support/temp_dir.h"

namespace artana::capi_test {

using artana::testing::TempDir;

// An options object for a ledger in `dir`, durability none (the tests need no fsync).
inline artana_options* ledger_options(const TempDir& dir) {
  artana_options* options = nullptr;
  REQUIRE(artana_options_create(&options) == ARTANA_OK);
  REQUIRE(artana_options_set(options, "data_dir", dir.str().c_str()) == ARTANA_OK);
  REQUIRE(artana_options_set(options, "durability", "none") == ARTANA_OK);
  REQUIRE(artana_options_set(options, "stdlib_dir", ARTANA_SOURCE_DIR "/stdlib") == ARTANA_OK);
  return options;
}

inline artana_host* open_host(const TempDir& dir) {
  artana_options* options = ledger_options(dir);
  artana_host* host = nullptr;
  const artana_status created = artana_host_create(ARTANA_ABI_VERSION, options, &host);
  artana_options_destroy(options);
  INFO(artana_last_error());
  REQUIRE(created == ARTANA_OK);
  REQUIRE(host != nullptr);
  return host;
}

inline artana_script* load(artana_host* host, const char* name, const std::string& source) {
  artana_script* script = nullptr;
  INFO(name);
  const artana_status loaded =
      artana_script_load_memory(host, name, source.data(), source.size(), &script);
  INFO(artana_last_error());
  REQUIRE(loaded == ARTANA_OK);
  return script;
}

inline std::string status_of(artana_run* run) {
  const char* status = nullptr;
  REQUIRE(artana_run_status(run, &status) == ARTANA_OK);
  return status;
}

inline std::string output_of(artana_run* run) {
  char* json = nullptr;
  size_t len = 0;
  const artana_status got = artana_run_output(run, &json, &len);
  INFO(artana_last_error());
  REQUIRE(got == ARTANA_OK);
  std::string out(json, len);
  artana_free(json);
  return out;
}

inline void run_until_idle(artana_host* host) {
  const artana_status idle = artana_host_run_until_idle(host, 30000);
  INFO(artana_last_error());
  REQUIRE(idle == ARTANA_OK);
}

inline bool last_error_names(const char* text) {
  return std::strstr(artana_last_error(), text) != nullptr;
}

}  // namespace artana::capi_test
