// The flags every benchmark takes (--json, --quick, --dir DIR, --only GROUP) and the
// directory its ledgers go to.
#pragma once

#include <errno.h>
#include <stdlib.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

namespace artana::bench {

// The flags every benchmark takes: --json, --quick, --dir DIR, --only GROUP.
struct Settings {
  bool json = false;
  bool quick = false;
  std::string dir;         // where the ledgers go: a new directory under $TMPDIR unless given
  bool temporary = false;  // dir was made here: main removes it at the end
  std::string only;        // a group or a figure's name; empty: everything

  bool wants(const char* group, const char* figure = "") const {
    return only.empty() || only == group || only == figure;
  }
};

// Parses the flags (`groups` for the usage line, "a|b|c") and makes the directory; exits 2
// on a flag it does not know.
inline Settings parse_settings(int argc, char** argv, const char* groups, const char* tmp_prefix) {
  Settings s;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--json") == 0) {
      s.json = true;
    } else if (std::strcmp(argv[i], "--quick") == 0) {
      s.quick = true;
    } else if (std::strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
      s.dir = argv[++i];
    } else if (std::strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
      s.only = argv[++i];
    } else {
      std::fprintf(stderr, "usage: %s [--json] [--quick] [--dir DIR] [--only %s]\n",
                   program_invocation_short_name, groups);
      std::exit(2);
    }
  }
  s.temporary = s.dir.empty();
  if (s.temporary) {
    std::string pattern =
        (std::filesystem::temp_directory_path() / (std::string(tmp_prefix) + "-XXXXXX")).string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      std::fprintf(stderr, "%s: cannot make a directory under %s\n", program_invocation_short_name,
                   std::filesystem::temp_directory_path().c_str());
      std::exit(1);
    }
    s.dir = pattern;
  }
  std::filesystem::create_directories(s.dir);
  return s;
}

}  // namespace artana::bench
