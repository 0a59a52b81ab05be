#pragma once
/// \file config.hpp Configuration from the environment, read once and validated.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "actors/log.hpp"
#include "actors/settings.hpp"
#include "domain/result.hpp"

namespace orch::runtime {

/// How a node joins the cluster (CAF middleman); off when `port` is 0.
struct cluster_config {
  int port = 0;                  ///< CLUSTER_PORT
  std::string bind = "0.0.0.0";  ///< CLUSTER_BIND
  std::string advertise;         ///< CLUSTER_ADVERTISE host:port; default host name:port
  std::string secret;            ///< CLUSTER_SECRET, required with a port
  std::vector<std::string> seeds;
  millis heartbeat{500};  ///< middleman heartbeat interval
  millis timeout{2000};   ///< a peer silent this long is cut off (hung hosts)

  bool enabled() const { return port != 0; }
};

/// Everything `serve` is configured with.
struct config {
  actors::engine_settings engine;
  std::string database_url;  ///< empty: embedded PostgreSQL under orch_home
  std::string orch_home = "./.orchestrator";
  std::string http_host = "127.0.0.1";
  int http_port = 8080;
  int api_workers = 4;
  std::size_t max_body_bytes = 1 << 20;
  log_level level = log_level::info;
  bool log_json = false;
  bool enable_metrics = true;
  millis shutdown_grace{25000};
  std::vector<std::string> roles = {"api", "scheduler", "dispatcher", "worker"};
  bool fault_injection = false;  ///< ORCH_FAULT_INJECTION=1: /v1/debug/crash for tests
  std::string redis_url;         ///< reported in /health when set
  cluster_config cluster;

  bool has_role(const std::string& r) const;
};

/// A configuration read and checked: the config when valid, else every problem.
struct config_check {
  std::optional<config> cfg;
  std::vector<std::string> problems;  ///< each names its variable, its value and what is allowed
};

/// Reads and validates the configuration. `getenv` is injectable for tests.
/// Every problem is reported (name, value, what is allowed); unknown values
/// are rejected, never defaulted. Secret settings (DATABASE_URL,
/// DATABASE_PASSWORD, CLUSTER_SECRET, REDIS_URL) may come from the file named
/// by NAME_FILE instead.
config_check check_config(const std::function<const char*(const char*)>& getenv);

/// check_config, with the problems joined into one error.
result<config> load_config(const std::function<const char*(const char*)>& getenv);

/// Whether `name` (or `name` without a `_FILE` suffix) is read by check_config.
bool is_config_var(const std::string& name);

/// The environment variables load_config reads, with their defaults and meaning
/// (the README's configuration table is generated from the same facts).
struct config_var {
  const char* name;
  const char* default_value;
  const char* meaning;
};
const std::vector<config_var>& config_vars();

}  // namespace orch::runtime
