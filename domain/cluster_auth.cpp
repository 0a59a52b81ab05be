#include "domain/cluster_auth.hpp"

#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cctype>
#include <stdexcept>

#include "domain/hex.hpp"

namespace orch::cluster_auth {
std::string make_nonce() {
  unsigned char buf[16];
  if (RAND_bytes(buf, sizeof(buf)) != 1) throw std::runtime_error("no random bytes for a nonce");
  return to_hex(buf, sizeof(buf));
}

std::string proof(const std::string& secret, const std::string& role,
                  const std::string& client_nonce, const std::string& server_nonce) {
  std::string msg = "orchestrator-cluster|" + role + "|" + client_nonce + "|" + server_nonce;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), mac, &len);
  return to_hex(mac, len);
}

bool same(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return diff == 0;
}

std::string endpoint::text() const {
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

result<endpoint> parse_endpoint(const std::string& text) {
  auto bad = [&](const std::string& why) -> result<endpoint> {
    return error_info{errc::validation_failed, "'" + text + "' " + why, ""};
  };
  if (text.empty() || text.size() > 255) return bad("must be host:port (1 to 255 characters)");
  for (char c : text) {
    if (std::isspace(static_cast<unsigned char>(c)) || std::iscntrl(static_cast<unsigned char>(c)))
      return bad("must not contain spaces or control characters");
  }
  endpoint e;
  std::string port;
  if (text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return bad("must be [ipv6]:port");
    e.host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string::npos) return bad("must be host:port");
    e.host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (e.host.find(':') != std::string::npos) return bad("IPv6 addresses go in brackets");
  }
  if (e.host.empty()) return bad("has no host");
  if (port.empty() || port.size() > 5) return bad("needs a port from 1 to 65535");
  for (char c : port) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return bad("needs a port from 1 to 65535");
  }
  auto p = std::stoi(port);
  if (p < 1 || p > 65535) return bad("needs a port from 1 to 65535");
  e.port = static_cast<std::uint16_t>(p);
  return e;
}

}  // namespace orch::cluster_auth
