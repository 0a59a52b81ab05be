#include "http/auth.hpp"

#include <cctype>

#include "persistence/token_repo.hpp"

namespace orch::http {

void auth_state::set_hashes(const std::vector<std::string>& hashes) {
  std::lock_guard<std::mutex> lock(mu_);
  hashes_ = std::unordered_set<std::string>(hashes.begin(), hashes.end());
}

bool auth_state::required() const {
  std::lock_guard<std::mutex> lock(mu_);
  return !hashes_.empty();
}

bool auth_state::accepts(const std::string& token) const {
  auto h = persistence::token_hash(token);
  std::lock_guard<std::mutex> lock(mu_);
  return hashes_.count(h) > 0;
}

std::optional<error_info> check_bearer(const auth_state& auth, std::string_view authorization) {
  if (!auth.required()) return std::nullopt;
  static constexpr std::string_view prefix = "bearer ";
  // The scheme name is case-insensitive (RFC 7235 section 2.1).
  bool bearer = authorization.size() > prefix.size();
  for (std::size_t i = 0; bearer && i < prefix.size(); ++i) {
    bearer = std::tolower(static_cast<unsigned char>(authorization[i])) == prefix[i];
  }
  if (bearer && auth.accepts(std::string(authorization.substr(prefix.size())))) {
    return std::nullopt;
  }
  return error_info{errc::unauthorized,
                    authorization.empty() ? "missing bearer token" : "invalid bearer token", ""};
}

}  // namespace orch::http
