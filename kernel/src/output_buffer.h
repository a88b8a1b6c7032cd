// OutputBuffer appends to a caller's std::string through a raw cursor.
//
// std::string::push_back and append check capacity and update the length on every call and
// are not inlined across libstdc++'s extern template, while the canonical encoder writes a
// byte or a short run at a time. So the string is grown (zero-filled) ahead of the cursor,
// writes are plain stores, and the destructor cuts the string back to what was written.
// While an OutputBuffer lives, the string's size() counts unwritten slack: do not read it.
// Borrows the string, which must outlive it. Not thread-safe.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>

namespace artana::kernel {

class OutputBuffer {
 public:
  // `min_slack`: the least a growth adds. 256 amortises an encoder's many short writes; a
  // buffer for one short write (append_canonical_string, once per string of a payload) asks
  // for 0, so it zero-fills only what it writes.
  explicit OutputBuffer(std::string& out, size_t min_slack = 256)
      : out_(out), start_(out.size()), written_(out.size()), min_slack_(min_slack) {}
  ~OutputBuffer() { out_.resize(written_); }
  OutputBuffer(const OutputBuffer&) = delete;
  OutputBuffer& operator=(const OutputBuffer&) = delete;

  // Room for `n` more bytes: write them at the returned pointer, then commit() the end.
  // Any other call on the buffer may move the storage, so re-reserve after one.
  char* reserve(size_t n) {
    if (out_.size() - written_ < n) grow(n);
    return out_.data() + written_;
  }
  void commit(const char* end) { written_ = static_cast<size_t>(end - out_.data()); }

  void put(char c) {
    *reserve(1) = c;
    ++written_;
  }
  void put(std::string_view s) {
    std::memcpy(reserve(s.size()), s.data(), s.size());
    written_ += s.size();
  }

 private:
  // The slack doubles what this buffer has written, which keeps appends amortised O(1);
  // std::string's own growth keeps reallocation geometric. Slack in proportion to the whole
  // string instead zero-filled it all again for every short-lived buffer on a long string
  // (append_canonical_string, once per string of a payload): quadratic in the payload.
  [[gnu::noinline]] void grow(size_t n) {  // kept out of put() so put() inlines
    out_.resize(written_ + std::max({n, written_ - start_, min_slack_}));
  }

  std::string& out_;
  size_t start_;    // where this buffer's output begins
  size_t written_;  // bytes of out_ that hold output; the rest is slack
  size_t min_slack_;
};

}  // namespace artana::kernel
