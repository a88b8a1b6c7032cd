// A task: one host thread (coroutine) of a run's lua_State, and what it waits for.
//   entry   runs the script's chunk and entry function (artana.lua `boot`);
//   branch  one function of a run:parallel, in its own scope;
//   port    a Lua model port answering a live model step;
//   tool    a Lua tool answering a live tool step.
// Threading: owned and used by its ScriptRun's thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "artana/kernel/json.h"
#include "artana/kernel/kernel_types.h"
#include "artana/lua/lua_fwd.h"
#include "artana/lua/syscall_bridge.h"
#include "child_process.h"
#include "http_model_call.h"
#include "http_tool.h"
#include "step_keys.h"

namespace artana::host {

struct ParallelGroup;
struct RunOptions;

enum class TaskKind { kEntry, kBranch, kPort, kTool };
enum class TaskState { kReady, kWaiting, kDone };

// What a waiting task needs before it can go on.
enum class WaitKind {
  kNone,
  kModelPort,  // a port task answering `pending`
  kTool,       // a tool task answering `pending`
  kPause,      // the run's resume (human input)
  kSleep,      // the clock reaching `due_us`
  kParallel,   // its branches
  kAdopted,    // a call an old execution made (a reload), adopted at this step
  kHttpModel,  // an HTTP endpoint answering `pending` (http_model)
  kNative,     // the application's native tool or port answering `pending`
  kChild,      // a child run (run:child) stopping; `due_us` when it sleeps
  kCommit,     // what its syscall recorded landing in the ledger: `held_reply` then
};

// Work the scheduler does right after the task yielded (outside any Lua call): starting
// threads and pushing values is only safe there.
enum class StartKind {
  kNone,
  kReady,
  kModelPort,
  kHttpModel,
  kNativeModel,
  kTool,
  kParallel,
  kHeldReply,  // resume with `held_reply` (its syscall's appends have landed by then)
};

struct Task {
  uint64_t id = 0;
  TaskKind kind = TaskKind::kEntry;
  TaskState state = TaskState::kReady;
  lua_State* thread = nullptr;
  int resume_args = 0;  // values on `thread` for its next resume

  ScopeStack scopes;     // entry and branch tasks
  std::string step_key;  // run:step in progress (between step_begin and step_end)
  bool in_step = false;

  // ---- waiting ----
  WaitKind wait = WaitKind::kNone;
  lua_State* caller = nullptr;  // the thread whose syscall waits (for the error's `where`)
  std::string wait_step_key;
  uint64_t adopted_ticket = 0;  // kAdopted: the earlier execution's call waited for
  int64_t due_us = 0;           // kSleep
  std::string pause_reason;     // kPause: asked again once the run is resumed
  kernel::Json pause_context;
  std::shared_ptr<ParallelGroup> group_waited;  // kParallel

  // ---- work to start after the yield ----
  StartKind start = StartKind::kNone;
  kernel::ModelCall model_call;  // kModelPort
  kernel::ToolCall tool_call;    // kTool
  // kModelPort, kTool: the live step until it is finished. Dropping the task (a kill, an
  // unload, a reload) abandons it in the kernel.
  kernel::PendingStep pending;
  std::unique_ptr<HttpModelCall> http_model;      // kHttpModel: the requests it takes
  std::unique_ptr<HttpToolCall> http_tool;        // kTool, run:http: its requests
  bool process_running = false;                   // kTool, run:exec: its program runs
  std::vector<std::string> branch_names;          // kParallel
  std::unique_ptr<lua::SyscallReply> held_reply;  // kHeldReply: the syscall's answer
  std::string child_path;                         // kChild: the child's script and start
  std::shared_ptr<RunOptions> child_options;
  size_t max_concurrency = 0;  // 0: all at once

  // ---- port and tool tasks: whom they answer ----
  Task* waiter = nullptr;

  // ---- branch tasks ----
  std::shared_ptr<ParallelGroup> group;
  size_t branch_index = 0;
  bool stopping = false;  // a sibling failed: stop at the next syscall
};

// A run's tasks ready to resume, first in, first out. A vector and a read position rather
// than a std::deque, which allocates its first 512-byte block when made: a run's execution
// makes one, and a reload of a thousand runs makes a thousand at once.
class TaskQueue {
 public:
  bool empty() const { return head_ == items_.size(); }
  size_t size() const { return items_.size() - head_; }
  Task* front() const { return items_[head_]; }
  void push_back(Task* task) { items_.push_back(task); }
  void pop_front() {
    ++head_;
    if (head_ == items_.size()) {
      clear();
    } else if (head_ >= kCompactAt && head_ * 2 >= items_.size()) {
      // Never empty (branches taking turns): the read part goes, amortised O(1) a pop.
      items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
  }
  void clear() {
    items_.clear();
    head_ = 0;
  }
  template <class Predicate>
  void erase_if(Predicate remove) {
    items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
    head_ = 0;
    std::erase_if(items_, remove);
  }

 private:
  static constexpr size_t kCompactAt = 32;
  std::vector<Task*> items_;
  size_t head_ = 0;
};

// The branches of one run:parallel call.
struct ParallelGroup {
  Task* parent = nullptr;
  std::vector<std::string> names;  // branch scope names, in result order
  std::string base_path;           // the parent's scope path when it called run:parallel
  std::vector<Task*> branches;     // by index (nullptr until started)
  std::vector<bool> finished;      // ended (returned, failed or stopped)
  size_t next_to_start = 0;
  size_t running = 0;
  size_t max_concurrency = 0;  // 0: unlimited
  bool failing = false;
  // The first failure by branch index: its error, as {kind, message, step_key, where}.
  std::optional<size_t> failed_index;
  kernel::Json failed_error;
  int fns_ref = lua::kNoRef;  // registry: the table of branch functions
  int run_ref = lua::kNoRef;  // registry: the run object
};

}  // namespace artana::host
