// The code a run executes: its entry script and the modules it requires. `require "x.y"`
// asks the application's module loader first (HostOptions::module_loader), then reads
// <script folder>/x/y.lua; `require "artana.x"` reads <stdlib>/x.lua; nothing else is
// reachable (no absolute paths, no "..", no package.path). Every source read is hashed
// (SHA-256): the identity recorded in the ledger names the entry and each module by hash.
// Threading: thread-compatible.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "artana/host/host.h"
#include "artana/kernel/json.h"
#include "artana/kernel/status.h"

namespace artana::host {

struct SourceFile {
  std::string chunkname;  // what errors and tracebacks show: "main.lua", "lib/util.lua"
  std::string text;
  std::string sha256;  // lowercase hex
};

class ScriptSource {
 public:
  // Reads the entry script at `path`. Errors name the file (not found, unreadable, > 16 MiB).
  static Result<ScriptSource> from_file(const std::string& path, std::string stdlib_dir);
  // A script an application loaded from memory (the C API), at the path `mem:<name>`, with
  // `sha256`, the text's hash (hex), computed when it was loaded. It has no folder: it may
  // require only the artana.* modules and the application's, and start no child script.
  static ScriptSource from_memory(const std::string& name, std::string text, std::string sha256,
                                  std::string stdlib_dir);
  static constexpr std::string_view kMemoryPrefix = "mem:";

  // Reads sources by hash (the ledger's content-addressed store).
  using BlobReader = std::function<Result<std::optional<std::string>>(const std::string& sha256)>;
  // The exact code a run recorded (`identity` as identity() made it): the entry and every
  // module come from `read` by their recorded hashes; a module the run never required is
  // not found. For `--pinned`.
  static Result<ScriptSource> pinned(const kernel::Json& identity, BlobReader read);
  bool is_pinned() const { return static_cast<bool>(pinned_reader_); }
  // Asks `loader` first for modules outside artana.* (not for pinned code: that comes from
  // the ledger).
  void use_app_modules(ModuleLoader loader) { app_modules_ = std::move(loader); }

  const SourceFile& entry() const { return entry_; }
  const std::string& entry_path() const { return entry_path_; }  // absolute
  const std::string& folder() const { return folder_; }  // the entry's folder; "" from memory

  // Reads module `name` (see above) and remembers its hash. kNotFound names the paths tried;
  // kInvalidArgument a malformed name.
  Result<SourceFile> read_module(std::string_view name);

  // {"entry": {"path", "sha256"}, "modules": {name: sha256}, "lua": "5.4"}
  kernel::Json identity() const;
  // The hash recorded in run_started: SHA-256 over the canonical identity minus the path.
  std::string combined_hash() const;

 private:
  ScriptSource() = default;

  std::string entry_path_;
  std::string folder_;
  std::string stdlib_dir_;
  SourceFile entry_;
  std::map<std::string, std::string> module_hashes_;
  ModuleLoader app_modules_;
  BlobReader pinned_reader_;
  std::map<std::string, std::string> pinned_modules_;  // name -> sha256, as recorded
};

}  // namespace artana::host
