// Base64 (RFC 4648, with padding): how a body or an output that is not UTF-8 is recorded.
#pragma once

#include <string>
#include <string_view>

namespace artana::io {

std::string base64(std::string_view bytes);

}  // namespace artana::io
