#include "random_id.h"

#include <openssl/rand.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "ledger/process_identity.h"

namespace artana::kernel {
namespace {

// Drawn a few KiB at a time per thread: one RAND_bytes per id cost a getpid() and a DRBG call
// each (an event id is drawn for every event appended). What a forked child inherited is
// dropped, so parent and child never hand out the same bytes.
void random_bits(unsigned char (&raw)[16]) {
  constexpr size_t kBatch = 4096;
  static thread_local unsigned char pool[kBatch];
  static thread_local size_t used = kBatch;
  static thread_local uint64_t generation = 0;
  if (used == kBatch || generation != ledger::fork_generation()) {
    if (RAND_bytes(pool, kBatch) != 1) std::abort();  // no entropy: ids could collide
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
