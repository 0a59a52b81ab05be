#pragma once
/// \file hex.hpp Lower-case hex encoding of bytes (digests, nonces).

#include <cstddef>
#include <string>

namespace orch {

/// `n` bytes as 2n lower-case hex digits.
inline std::string to_hex(const unsigned char* data, std::size_t n) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    out += digits[data[i] >> 4];
    out += digits[data[i] & 0xF];
  }
  return out;
}

}  // namespace orch
