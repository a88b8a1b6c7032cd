// Sha256: a SHA-256 digest value, and hashing through OpenSSL EVP.
//
// The digest algorithm is fetched once per process and contexts are reused per thread, so
// hashing costs no lock and no allocation on the hot path (and a forked verify child
// never waits on a lock another thread held at fork time). Thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "artana/kernel/status.h"

namespace artana::kernel {

struct Sha256 {
  std::array<uint8_t, 32> bytes{};

  static Sha256 of(std::string_view data);
  static Result<Sha256> from_hex(std::string_view hex);
  static Sha256 from_bytes(std::string_view raw32);  // REQUIRES: raw32.size() == 32

  std::string hex() const;  // 64 lowercase hex digits
  std::string_view raw() const {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
  }
  bool is_zero() const;
  friend bool operator==(const Sha256&, const Sha256&) = default;
};

// Incremental hashing for data in several pieces.
class Sha256Hasher {
 public:
  Sha256Hasher();
  ~Sha256Hasher();
  Sha256Hasher(const Sha256Hasher&) = delete;
  Sha256Hasher& operator=(const Sha256Hasher&) = delete;
  void update(std::string_view data);
  Sha256 finish();  // also resets, so the hasher can be reused

 private:
  struct Impl;
  Impl* impl_;
};

// Appends the 64-digit lowercase hex form of `raw` bytes.
void append_hex(std::string& out, std::string_view raw);

}  // namespace artana::kernel
