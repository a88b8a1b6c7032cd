// TempDir: a fresh directory under $TMPDIR for one test, removed (recursively) at scope end.
#pragma once

#include <filesystem>
#include <string>

namespace artana::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string str() const { return path_.string(); }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// Whether any file under `dir` (recursively) holds `needle`: a secret must be in none of a
// ledger's files.
bool any_file_contains(const std::filesystem::path& dir, const std::string& needle);

}  // namespace artana::testing
