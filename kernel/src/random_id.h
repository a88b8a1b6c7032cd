// Random identifiers (event ids, run ids): 128 bits from OpenSSL's CSPRNG, written as 26
// characters of Crockford's base32 (the 128 bits big-endian, then two zero bits).
#pragma once

#include <string>

namespace artana::kernel {

std::string random_id();

}  // namespace artana::kernel
