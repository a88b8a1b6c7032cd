#include "support/temp_dir.h"

#include <stdlib.h>

#include <system_error>

namespace artana::testing {

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "artana-test-XXXXXX").string();
  char* made = ::mkdtemp(pattern.data());
  if (made == nullptr) throw std::system_error(errno, std::generic_category(), "mkdtemp");
  path_ = made;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

}  // namespace artana::testing
