#include "http/request_id.hpp"

#include <array>
#include <random>

#include "domain/hex.hpp"

namespace orch::http {

bool sane_request_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string new_request_id() {
  // Per thread: no lock on the request path. Ids need to be unique, not secret.
  thread_local std::mt19937_64 gen{std::random_device{}()};
  std::uint64_t v = gen();
  std::array<unsigned char, 8> bytes{};
  for (auto& b : bytes) {
    b = static_cast<unsigned char>(v & 0xFF);
    v >>= 8;
  }
  return to_hex(bytes.data(), bytes.size());
}

std::string request_id_for(std::string_view sent) {
  if (sane_request_id(sent)) return std::string(sent);
  return new_request_id();
}

}  // namespace orch::http
