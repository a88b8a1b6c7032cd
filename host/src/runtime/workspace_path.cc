#include "workspace_path.h"

#include <filesystem>
#include <system_error>

namespace artana::host {

namespace fs = std::filesystem;

namespace {

// `inner` is `outer` or below it (both absolute and normal).
bool within(const fs::path& outer, const fs::path& inner) {
  auto o = outer.begin();
  auto i = inner.begin();
  for (; o != outer.end(); ++o, ++i) {
    if (o->empty()) continue;  // a trailing separator
    if (i == inner.end() || *o != *i) return false;
  }
  return true;
}

// The real path of `path`: symlinks resolved in the part that exists.
fs::path real_path(const fs::path& path) {
  std::error_code ec;
  fs::path existing = path;
  fs::path rest;
  while (!existing.empty() && !fs::exists(fs::symlink_status(existing, ec))) {
    rest = rest.empty() ? existing.filename() : existing.filename() / rest;
    existing = existing.parent_path();
  }
  fs::path real = fs::weakly_canonical(existing, ec);
  if (ec) real = existing;
  return rest.empty() ? real.lexically_normal() : (real / rest).lexically_normal();
}

}  // namespace

Result<std::string> resolve_inside(const std::string& root, const std::string& path,
                                   std::string_view field) {
  if (path.empty() || path.find('\0') != std::string::npos) {
    return Status::invalid_argument("{} must be a non-empty path", field)
        .with_kind(ErrorKind::kInvalidArgument);
  }
  std::error_code ec;
  const fs::path base = fs::weakly_canonical(fs::absolute(root, ec), ec).lexically_normal();
  const fs::path asked(path);
  const fs::path joined = (asked.is_absolute() ? asked : base / asked).lexically_normal();
  auto outside = [&] {
    return Status::permission_denied("{} '{}' leaves its root {}", field, path, base.string())
        .with_kind(ErrorKind::kSandboxViolation);
  };
  if (!within(base, joined)) return outside();
  const fs::path real = real_path(joined);
  if (!within(base, real)) return outside();
  return real.string();
}

}  // namespace artana::host
