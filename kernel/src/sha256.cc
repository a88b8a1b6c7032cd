#include "artana/kernel/sha256.h"

// OpenSSL's SHA256_Init/Update/Final, declared without the 3.0 deprecation: they run the same
// assembly (SHA-NI where the CPU has it) as EVP, but need no algorithm fetch. The first fetch
// of a process loads OpenSSL's configuration and providers (about 2 ms, paid by every short
// `artana` command), and each EVP digest adds a context reset and an indirect call.
#define OPENSSL_API_COMPAT 10101
#include <openssl/sha.h>

#include <array>

#include <algorithm>
#include <cstdlib>

namespace artana::kernel {
namespace {

// Digit values by byte; -1 for a byte that is no hex digit. A table: hashes are decoded for
// every event read.
constexpr std::array<int8_t, 256> kHexValues = [] {
  std::array<int8_t, 256> table{};
  for (auto& v : table) v = -1;
  for (int c = '0'; c <= '9'; ++c) table[c] = static_cast<int8_t>(c - '0');
  for (int c = 'a'; c <= 'f'; ++c) table[c] = static_cast<int8_t>(c - 'a' + 10);
  for (int c = 'A'; c <= 'F'; ++c) table[c] = static_cast<int8_t>(c - 'A' + 10);
  return table;
}();

int hex_value(char c) { return kHexValues[static_cast<uint8_t>(c)]; }

}  // namespace

Sha256 Sha256::of(std::string_view data) {
  Sha256 digest;
  SHA256_CTX ctx;
  if (SHA256_Init(&ctx) != 1 || SHA256_Update(&ctx, data.data(), data.size()) != 1 ||
      SHA256_Final(digest.bytes.data(), &ctx) != 1) {
    std::abort();  // cannot fail for an in-memory SHA-256; continuing would corrupt the chain
  }
  return digest;
}

Result<Sha256> Sha256::from_hex(std::string_view hex) {
  if (hex.size() != 64) {
    return Status::invalid_argument("expected 64 hex digits for a SHA-256, got {} characters",
                                    hex.size());
  }
  Sha256 digest;
  int bad = 0;
  for (size_t i = 0; i < 32; ++i) {
    const int hi = hex_value(hex[2 * i]);
    const int lo = hex_value(hex[2 * i + 1]);
    bad |= hi | lo;  // negative once any digit is bad
    digest.bytes[i] = static_cast<uint8_t>(hi * 16 + lo);
  }
  if (bad < 0) {
    for (size_t i = 0; i < 64; ++i) {
      if (hex_value(hex[i]) < 0) {
        return Status::invalid_argument("'{}' is not a hex SHA-256 (bad digit at {})", hex, i);
      }
    }
  }
  return digest;
}

Sha256 Sha256::from_bytes(std::string_view raw32) {
  Sha256 digest;
  std::copy_n(reinterpret_cast<const uint8_t*>(raw32.data()), 32, digest.bytes.data());
  return digest;
}

std::string Sha256::hex() const {
  std::string out;
  out.reserve(64);
  append_hex(out, raw());
  return out;
}

bool Sha256::is_zero() const {
  for (uint8_t b : bytes) {
    if (b != 0) return false;
  }
  return true;
}

void append_hex(std::string& out, std::string_view raw) {
  static constexpr char kDigits[] = "0123456789abcdef";
  size_t at = out.size();
  out.resize(at + raw.size() * 2);
  for (unsigned char c : raw) {
    out[at++] = kDigits[c >> 4];
    out[at++] = kDigits[c & 15];
  }
}

struct Sha256Hasher::Impl {
  SHA256_CTX ctx;
};

Sha256Hasher::Sha256Hasher() : impl_(new Impl) {
  if (SHA256_Init(&impl_->ctx) != 1) std::abort();
}

Sha256Hasher::~Sha256Hasher() { delete impl_; }

void Sha256Hasher::update(std::string_view data) {
  if (SHA256_Update(&impl_->ctx, data.data(), data.size()) != 1) std::abort();
}

Sha256 Sha256Hasher::finish() {
  Sha256 digest;
  if (SHA256_Final(digest.bytes.data(), &impl_->ctx) != 1) std::abort();
  if (SHA256_Init(&impl_->ctx) != 1) std::abort();
  return digest;
}

}  // namespace artana::kernel
