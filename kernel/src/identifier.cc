// Run and tenant ids (event.h): what the store accepts, and what the CLI checks up front.
#include "artana/kernel/event.h"

namespace artana::kernel {
namespace {

constexpr size_t kMaxIdentifierBytes = 200;

}  // namespace

Status check_identifier(std::string_view what, std::string_view id) {
  if (id.empty() || id.size() > kMaxIdentifierBytes) {
    return Status::invalid_argument("{} must be 1..{} bytes, got {}", what, kMaxIdentifierBytes,
                                    id.size());
  }
  for (char c : id) {
    // Printable ASCII without quote or backslash: its JSON form is itself in quotes.
    if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\') {
      return Status::invalid_argument(
          "{} '{}' may only hold printable ASCII without spaces, quotes or backslashes", what, id);
    }
  }
  return Status();
}

}  // namespace artana::kernel
