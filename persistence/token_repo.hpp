#pragma once
/// \file token_repo.hpp API tokens: created once, stored only as hashes.

#include <string>
#include <vector>

#include "domain/result.hpp"
#include "domain/time.hpp"

namespace orch::persistence {

class session;

/// A stored API token (the secret itself is never stored).
struct token_row {
  long long id = 0;
  std::string name;
  sys_ms created_at{};
};

namespace token_repo {
/// Creates a token and returns the secret, shown once; only its hash is stored.
result<std::string> create(session& db, const std::string& name);
/// How many tokens exist.
result<long long> count(session& db);
/// All token hashes (for the in-memory auth cache).
result<std::vector<std::string>> hashes(session& db);
}  // namespace token_repo

/// The SHA-256 of a token, hex-encoded.
std::string token_hash(const std::string& token);

}  // namespace orch::persistence
