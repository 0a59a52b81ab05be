#pragma once
/// \file cli_checks.hpp The operator's checks on the command line:
/// `orchestrator config check` and `orchestrator health`.

#include <string>
#include <vector>

#include "domain/time.hpp"

namespace orch::runtime {

/// `orchestrator config check [--env-file FILE]...`: validates the environment
/// files (later files win, as with several `env_file` entries in compose), or
/// this process's environment without files, with serve's rules. Prints every
/// problem, one a line, and notes names the orchestrator does not read.
/// Returns 0 when valid, 2 otherwise.
int run_config_check(const std::vector<std::string>& env_files);

/// `orchestrator health [--url URL] [--path /health|/ready|/live] [--timeout D]`:
/// asks a node and prints its answer in one line. Returns 0 when it answers
/// 200, 1 otherwise (unhealthy, not ready, unreachable): a container
/// HEALTHCHECK without curl.
int run_health_check(const std::string& base_url, const std::string& path, millis timeout);

}  // namespace orch::runtime
