#include "random_id.h"

#include <sys/random.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "ledger/process_identity.h"

namespace artana::kernel {
namespace {

// The kernel's CSPRNG (getrandom(2)), not OpenSSL's: the first RAND_bytes of a process loads
// OpenSSL's configuration and providers, about 2 ms of every short `artana` command.
void fill_random(unsigned char* out, size_t size) {
  while (size > 0) {
    ssize_t got = ::getrandom(out, size, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      std::abort();  // no entropy: ids could collide
    }
    out += got;
    size -= static_cast<size_t>(got);
  }
}

// Drawn a few KiB at a time per thread: one getrandom per id would be a system call for
// every event appended. What a forked child inherited is dropped, so parent and child never
// hand out the same bytes.
void random_bits(unsigned char (&raw)[16]) {
  constexpr size_t kBatch = 4096;
  static thread_local unsigned char pool[kBatch];
  static thread_local size_t used = kBatch;
  static thread_local uint64_t generation = 0;
  if (used == kBatch || generation != ledger::fork_generation()) {
    fill_random(pool, kBatch);
    used = 0;
    generation = ledger::fork_generation();
  }
  std::memcpy(raw, pool + used, sizeof raw);
  std::memset(pool + used, 0, sizeof raw);  // handed out once
  used += sizeof raw;
}

}  // namespace

std::string random_id() {
  static constexpr char kAlphabet[] = "0123456789abcdefghjkmnpqrstvwxyz";
  unsigned char raw[16];
  random_bits(raw);
  std::string id(26, '0');
  size_t out = 0;
  uint64_t bits = 0;  // only the low `pending` bits matter
  int pending = 0;
  for (unsigned char byte : raw) {
    bits = (bits << 8) | byte;
    pending += 8;
    while (pending >= 5) {
      pending -= 5;
      id[out++] = kAlphabet[(bits >> pending) & 31];
    }
  }
  id[out] = kAlphabet[(bits << (5 - pending)) & 31];  // the last 3 bits, then two zero bits
  return id;
}

}  // namespace artana::kernel
