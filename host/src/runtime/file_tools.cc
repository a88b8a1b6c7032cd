#include "file_tools.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "artana/kernel/canonical_json.h"
#include "artana/kernel/sha256.h"
#include "base64.h"
#include "workspace_path.h"

namespace artana::host {

using kernel::Json;

namespace {

kernel::ToolSpec file_spec(std::string_view name, std::string_view capability, bool writes) {
  kernel::ToolSpec spec;
  spec.name = std::string(name);
  spec.description = writes ? "run:write_file" : "run:read_file";
  spec.capability = std::string(capability);
  spec.capability_required = true;
  spec.side_effect = writes;
  Json properties = Json::object({{"path", Json::object({{"type", "string"}, {"minLength", 1}})}});
  Json required = Json::array({Json("path")});
  if (writes) {
    properties.set("text", Json::object({{"type", "string"}}));
    required.push_back(Json("text"));
  }
  spec.arguments = Json::object({{"type", "object"},
                                 {"required", std::move(required)},
                                 {"additionalProperties", false},
                                 {"properties", std::move(properties)}});
  return spec;
}

kernel::ToolOutcome failure(std::string message) {
  kernel::ToolOutcome outcome;
  outcome.kind = kernel::ToolOutcomeKind::kPermanentError;
  outcome.error = std::move(message);
  return outcome;
}

kernel::ToolOutcome read_file(const std::string& path) {
  Json out = Json::object();
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno != ENOENT)
      return failure("run:read_file: cannot read " + path + ": " + std::strerror(errno));
    out.set("exists", false);
    kernel::ToolOutcome outcome;
    outcome.result = std::move(out);
    return outcome;
  }
  std::string text;
  char buffer[65536];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
    text.append(buffer, static_cast<size_t>(in.gcount()));
    if (text.size() > kFileLimit)
      return failure("run:read_file: " + path + " is larger than 16 MiB");
  }
  out.set("exists", true);
  out.set("sha256", kernel::Sha256::of(text).hex());
  if (kernel::is_valid_utf8(text)) {
    out.set("text", std::move(text));
  } else {
    out.set("text_base64", io::base64(text));
  }
  kernel::ToolOutcome outcome;
  outcome.result = std::move(out);
  return outcome;
}

// Written beside the file, flushed, renamed over it: a reader sees the old text or the new,
// never a part.
kernel::ToolOutcome write_file(const std::string& path, const std::string& text) {
  if (text.size() > kFileLimit) return failure("run:write_file: the text is larger than 16 MiB");
  const std::string temp = path + ".artana-tmp-" + std::to_string(::getpid());
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  auto failed = [&](const char* what) {
    const std::string message =
        std::string("run:write_file: ") + what + " " + path + ": " + std::strerror(errno);
    if (fd >= 0) ::close(fd);
    ::unlink(temp.c_str());
    return failure(message);
  };
  if (fd < 0) return failed("cannot create beside");
  size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return failed("cannot write");
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) return failed("cannot flush");
  ::close(fd);
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const std::string message =
        std::string("run:write_file: cannot replace ") + path + ": " + std::strerror(errno);
    ::unlink(temp.c_str());
    return failure(message);
  }
  kernel::ToolOutcome outcome;
  outcome.result = Json::object(
      {{"bytes", static_cast<int64_t>(text.size())}, {"sha256", kernel::Sha256::of(text).hex()}});
  return outcome;
}

}  // namespace

std::vector<kernel::ToolSpec> file_tool_specs() {
  return {file_spec(kReadFileTool, "workspace:read", false),
          file_spec(kReadScriptFileTool, "", false),
          file_spec(kWriteFileTool, "workspace:write", true)};
}

bool is_file_tool(std::string_view tool) {
  return tool == kReadFileTool || tool == kReadScriptFileTool || tool == kWriteFileTool;
}

Result<std::string> file_tool_path(const Json& args, const std::string& root,
                                   std::string_view tool) {
  const Json* path = args.is_object() ? args.find("path") : nullptr;
  if (path == nullptr || !path->is_string()) {
    return Status::invalid_argument("{}: `path` must be a string", tool)
        .with_kind(ErrorKind::kInvalidArgument);
  }
  if (root.empty()) {
    return Status::permission_denied("{}: the host has no workspace (--workspace DIR)", tool)
        .with_kind(ErrorKind::kPolicyViolation);
  }
  return resolve_inside(root, path->as_string(), std::string(tool) + ": path");
}

kernel::ToolOutcome run_file_tool(std::string_view tool, const std::string& path,
                                  const Json& args) {
  if (tool == kWriteFileTool) {
    const Json* text = args.find("text");
    return write_file(path, text != nullptr && text->is_string() ? text->as_string() : "");
  }
  return read_file(path);
}

}  // namespace artana::host
