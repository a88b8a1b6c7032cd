// The state's allocator: every block charged to one execution (execution.h). A small block
// (up to SmallBlocks::kMaxBytes) comes from its execution's slabs and names it through its
// slab's header; a big one comes from malloc with a header of its own before it.
//
// Who pays: a new block, and a block that moves, are charged to the current execution; a
// block resized in place stays charged to its owner. Another run's block is resized in place
// only to shrink (shrinking must never fail, and the owner's count only drops); growing it
// moves it to the current execution, which pays for what it asked for. The state's own
// blocks (the string table, the registry's array, the main thread's stack) stay its own when
// resized: they are everyone's, and a run that grew one would otherwise pay for all and,
// once ended, stay pinned by it.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#include "artana/lua/lua_state.h"
#include "small_blocks.h"

namespace artana::lua {
namespace {

using detail::SmallBlocks;

struct BigHeader {
  Execution* owner;
  size_t unused;  // keeps the block 16-byte aligned
};
static_assert(sizeof(BigHeader) == 16);

BigHeader* header_of(void* block) { return static_cast<BigHeader*>(block) - 1; }

}  // namespace

bool LuaState::is_big(void* block, size_t size) const {
  if (size > SmallBlocks::kMaxBytes) return true;
  return !foreign_.empty() && std::find(foreign_.begin(), foreign_.end(), block) != foreign_.end();
}

Execution* LuaState::owner_of(void* block, size_t size) const {
  if (is_big(block, size)) return header_of(block)->owner;
  return static_cast<Execution*>(SmallBlocks::of(block)->owner());
}

void* LuaState::allocate(Execution* to, size_t nsize) {
  if (nsize <= SmallBlocks::kMaxBytes) return to->blocks_->take(nsize);
  auto* header = static_cast<BigHeader*>(std::malloc(sizeof(BigHeader) + nsize));
  if (header == nullptr) return nullptr;
  header->owner = to;
  ++to->big_blocks_;
  return header + 1;
}

void LuaState::release(void* block, size_t size) {
  Execution* owner;
  if (is_big(block, size)) {
    BigHeader* header = header_of(block);
    owner = header->owner;
    if (size <= SmallBlocks::kMaxBytes)
      foreign_.erase(std::find(foreign_.begin(), foreign_.end(), block));
    std::free(header);
    --owner->big_blocks_;
  } else {
    SmallBlocks* blocks = SmallBlocks::of(block);
    owner = static_cast<Execution*>(blocks->owner());
    blocks->give(block, size);
  }
  owner->memory_used_ -= size;
  if (owner->closed_) free_if_done(owner);
}

void* LuaState::alloc(void* ud, void* ptr, size_t osize, size_t nsize) {
  auto* self = static_cast<LuaState*>(ud);
  const size_t old = ptr != nullptr ? osize : 0;  // with ptr == NULL, osize is a type tag
  if (nsize == 0) {
    if (ptr != nullptr) self->release(ptr, old);
    return nullptr;
  }
  Execution* current = self->current_;
  const uint64_t grown = nsize > old ? nsize - old : 0;
  if (ptr != nullptr) {
    const bool big = self->is_big(ptr, old);
    const bool fits = big ? nsize > SmallBlocks::kMaxBytes
                          : nsize <= SmallBlocks::kMaxBytes &&
                                (nsize <= old || SmallBlocks::same_class(nsize, old));
    Execution* owner =
        big ? header_of(ptr)->owner : static_cast<Execution*>(SmallBlocks::of(ptr)->owner());
    // In place, still the owner's: its own growth, any shrink, and the state's own blocks
    // (the string table, the registry, the main thread's stack: grown for every execution).
    if (fits && (owner == current || nsize <= old || owner == self->own_)) {
      if (grown > 0 && !owner->may_grow(old, nsize)) return nullptr;
      void* block = ptr;
      if (big) {
        auto* header =
            static_cast<BigHeader*>(std::realloc(header_of(ptr), sizeof(BigHeader) + nsize));
        if (header == nullptr) {
          if (grown > 0) {
            owner->kill_for_memory();
            return nullptr;
          }
        } else {
          block = header + 1;
        }
        if (old <= SmallBlocks::kMaxBytes) {  // foreign, big again now
          *std::find(self->foreign_.begin(), self->foreign_.end(), ptr) = self->foreign_.back();
          self->foreign_.pop_back();
        }
      }
      owner->memory_used_ = owner->memory_used_ - old + nsize;
      if (grown > 0) current->charge(grown / kBytesPerInstruction);
      return block;
    }
  }
  // A new block of the current execution's (for a move: then the old one is released).
  if (grown > 0 && !current->may_grow(0, nsize)) return nullptr;
  void* block = self->allocate(current, nsize);
  if (block == nullptr) {
    if (grown > 0) {
      current->kill_for_memory();
      return nullptr;
    }
    // A shrink that cannot move keeps its block (it holds more than asked): a big block
    // Lua now sizes small is foreign, freed as big (is_big).
    if (old > SmallBlocks::kMaxBytes && nsize <= SmallBlocks::kMaxBytes) {
      self->foreign_.push_back(ptr);
    }
    Execution* owner = self->owner_of(ptr, nsize);
    owner->memory_used_ = owner->memory_used_ - old + nsize;
    return ptr;
  }
  current->memory_used_ += nsize;
  if (ptr != nullptr) {
    std::memcpy(block, ptr, std::min(old, nsize));
    self->release(ptr, old);
  }
  // Bytes handed out are C work the hook does not count (`..` of long strings, string.rep):
  // charged, so a loop of cheap instructions that each copy megabytes ends at the limit.
  // Once killed, every growth above fails, so the C function doing it stops at once.
  if (grown > 0) current->charge(grown / kBytesPerInstruction);
  return block;
}

Execution* LuaState::open_execution(const LuaLimits& limits) {
  LuaLimits own = limits;
  own.slice_instructions = limits_.slice_instructions;
  own.interrupt = limits_.interrupt;
  Execution* execution = nullptr;
  try {
    execution = new Execution(this, own);
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
  execution->next_ = first_;
  if (first_ != nullptr) first_->prev_ = execution;
  first_ = execution;
  ++executions_;
  return execution;
}

void LuaState::close_execution(Execution* execution) {
  if (execution == nullptr || execution == own_ || execution == current_) return;
  execution->closed_ = true;
  execution->handler_ = nullptr;
  execution->blocks_->close();
  free_if_done(execution);
}

void LuaState::free_if_done(Execution* execution) {
  if (execution->memory_used_ != 0 || execution->big_blocks_ != 0 ||
      execution->blocks_->slabs() != 0) {
    return;
  }
  if (execution->prev_ != nullptr) execution->prev_->next_ = execution->next_;
  if (execution->next_ != nullptr) execution->next_->prev_ = execution->prev_;
  if (first_ == execution) first_ = execution->next_;
  --executions_;
  delete execution;
}

}  // namespace artana::lua
