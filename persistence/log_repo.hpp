#pragma once
/// \file log_repo.hpp The log lines of runs: appended in batches, read in pages.

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

}  // namespace orch::persistence
