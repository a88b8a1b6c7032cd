#include "support/temp_dir.h"

#include <fstream>
#include <iterator>

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

bool any_file_contains(const std::filesystem::path& dir, const std::string& needle) {
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (bytes.find(needle) != std::string::npos) return true;
  }
  return false;
}

}  // namespace artana::testing
