#pragma once
/// \file auth.hpp Bearer-token authentication: the valid tokens, and the check
/// of a request's Authorization header against them.

#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "domain/result.hpp"

namespace orch::http {

/// Which bearer tokens are valid; refreshed from the database by the node.
class auth_state {
 public:
  /// Replaces the known token hashes; auth is required once any exists.
  void set_hashes(const std::vector<std::string>& hashes);
  /// Whether any token exists.
  bool required() const;
  /// Whether `token` (the secret) is valid.
  bool accepts(const std::string& token) const;

 private:
  mutable std::mutex mu_;
  std::unordered_set<std::string> hashes_;
};

/// Checks an Authorization header (empty when absent) against `auth`: nothing
/// while no token exists or when it holds a valid bearer token (the scheme
/// name in any case), else errc::unauthorized.
std::optional<error_info> check_bearer(const auth_state& auth, std::string_view authorization);

}  // namespace orch::http
