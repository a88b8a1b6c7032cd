// The CLI's documentation says what the code does: docs/cli.md's exit codes and error kinds
// are error_kind.h's table, and the README's exit codes are the same codes.
#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "artana/kernel/error_kind.h"

namespace artana::testing {
namespace {

std::string read_doc(const std::string& relative) {
  std::ifstream in(std::string(ARTANA_SOURCE_DIR) + "/" + relative);
  REQUIRE(in.good());
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Rows "| <int> | <text> |" of the first table of exit codes in `doc`.
std::set<int> exit_code_rows(const std::string& doc) {
  std::set<int> codes;
  static const std::regex row(R"(^\| (\d+) \| [^|]+ \|$)");
  std::istringstream lines(doc);
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (std::regex_match(line, m, row)) codes.insert(std::stoi(m[1]));
  }
  return codes;
}

struct KindRow {
  bool halts;
  bool retryable;
  int exit;
};

std::map<std::string, KindRow> kind_rows(const std::string& doc) {
  std::map<std::string, KindRow> rows;
  static const std::regex row(R"(^\| `([a-z_]+)` \| (yes|no) \| (yes|no) \| (\d+) \| .+ \|$)");
  std::istringstream lines(doc);
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (std::regex_match(line, m, row)) {
      rows[m[1]] = KindRow{m[2] == "yes", m[3] == "yes", std::stoi(m[4])};
    }
  }
  return rows;
}

}  // namespace

TEST_CASE("docs/cli.md lists every error kind and exit code as error_kind.h has them",
          "[host][docs]") {
  const std::string doc = read_doc("docs/cli.md");
  const std::set<int> expected_codes(exit_code::kAll.begin(), exit_code::kAll.end());
  CHECK(exit_code_rows(doc) == expected_codes);
  const auto rows = kind_rows(doc);
  size_t kinds = 0;
  for (const ErrorKindRow& row : kErrorKinds) {
    if (row.kind == ErrorKind::kNone) continue;
    ++kinds;
    INFO(row.name);
    auto it = rows.find(std::string(row.name));
    REQUIRE(it != rows.end());
    CHECK(it->second.halts == row.halts);
    CHECK(it->second.retryable == row.retryable);
    CHECK(it->second.exit == row.exit_code);
  }
  CHECK(rows.size() == kinds);
}

TEST_CASE("the README's exit codes are the CLI's", "[host][docs]") {
  const std::set<int> expected_codes(exit_code::kAll.begin(), exit_code::kAll.end());
  CHECK(exit_code_rows(read_doc("README.md")) == expected_codes);
}

}  // namespace artana::testing
