// TaskQueue: a run's ready tasks, first in, first out, through the compaction that keeps a
// queue that never empties (branches taking turns) from growing.
#include <catch2/catch.hpp>

#include <vector>

#include "task.h"

using artana::host::Task;
using artana::host::TaskQueue;

TEST_CASE("TaskQueue keeps first-in first-out order across its compaction", "[host][task_queue]") {
  std::vector<Task> tasks(8);
  TaskQueue queue;
  REQUIRE(queue.empty());
  // Two tasks taking turns for a thousand rounds: never empty, so only the compaction keeps
  // the storage bounded, and every pop must still give the oldest.
  queue.push_back(&tasks[0]);
  queue.push_back(&tasks[1]);
  for (int round = 0; round < 1000; ++round) {
    Task* first = queue.front();
    REQUIRE(first == &tasks[round % 2]);
    queue.pop_front();
    queue.push_back(first);
    REQUIRE(queue.size() == 2);
  }
  queue.pop_front();
  queue.pop_front();
  REQUIRE(queue.empty());

  for (Task& task : tasks) queue.push_back(&task);
  queue.pop_front();  // tasks[0] read: erase_if works on what is left
  queue.erase_if([&](const Task* task) { return task == &tasks[3] || task == &tasks[0]; });
  std::vector<Task*> left;
  while (!queue.empty()) {
    left.push_back(queue.front());
    queue.pop_front();
  }
  REQUIRE(left ==
          std::vector<Task*>{&tasks[1], &tasks[2], &tasks[4], &tasks[5], &tasks[6], &tasks[7]});
}
