#pragma once
/// \file cluster_auth.hpp The cluster's join handshake: both nodes prove they
/// hold the shared secret without sending it (HMAC-SHA256 over fresh nonces).

#include <cstdint>
#include <string>

#include "domain/result.hpp"

namespace orch::cluster_auth {

/// 128 random bits, hex-encoded.
std::string make_nonce();

/// The proof a node of `role` ("client" or "server") sends for the nonces of
/// one handshake: hex HMAC-SHA256(secret, role | client_nonce | server_nonce).
std::string proof(const std::string& secret, const std::string& role,
                  const std::string& client_nonce, const std::string& server_nonce);

/// Compares two proofs in time independent of where they differ.
bool same(const std::string& a, const std::string& b);

/// A host and port, as in CLUSTER_ADVERTISE and CLUSTER_SEEDS.
struct endpoint {
  std::string host;
  std::uint16_t port = 0;
  std::string text() const;
};

/// Parses "host:port" or "[v6]:port"; port 1 to 65535, host non-empty, no spaces.
result<endpoint> parse_endpoint(const std::string& text);

}  // namespace orch::cluster_auth
