#pragma once
/// \file misc_repos.hpp Run logs, API tokens and cluster nodes.

#include <optional>
#include <string>
#include <vector>

#include "domain/records.hpp"
#include "domain/result.hpp"
#include "domain/time.hpp"

namespace orch::persistence {

class session;

/// A log line to append.
struct new_log_line {
  long long run_id = 0;
  int attempt = 0;
  sys_ms ts{};
  std::string stream;
  std::string step;
  std::string line;
};

namespace log_repo {
/// Appends lines in one statement.
status append(session& db, const std::vector<new_log_line>& lines);
/// Lines of a run with seq > after, oldest first.
result<std::vector<log_record>> list(session& db, long long run_id, long long after, int limit);
}  // namespace log_repo

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

/// A node as the membership table holds it.
struct node_row {
  std::string name;
  std::string incarnation;
  std::vector<std::string> roles;
  sys_ms started_at{};
  sys_ms last_seen{};
  int capacity = 0;
  int active = 0;
  std::string status;
};

namespace node_repo {
/// Registers or refreshes this node's row (heartbeat).
status heartbeat(session& db, const node_row& node);
/// Every node; rows not seen for `down_after` are reported down.
result<std::vector<node_row>> list(session& db, millis down_after);
}  // namespace node_repo

}  // namespace orch::persistence
