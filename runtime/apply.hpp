#pragma once
/// \file apply.hpp `orchestrator apply -f FILE|DIR`: declarative tasks and schedules.

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "domain/result.hpp"
#include "domain/time.hpp"

namespace orch::runtime {

/// Tasks and schedules read from files, in file order.
struct apply_set {
  std::vector<nlohmann::json> tasks;      ///< each with "name"
  std::vector<nlohmann::json> schedules;  ///< each with "id"
};

/// Reads YAML or JSON files (a directory: its *.yaml, *.yml and *.json files,
/// sorted). A document is a mapping with `tasks` and/or `schedules` lists;
/// every task needs a `name`, every schedule an `id` (so applying twice
/// changes nothing). Errors name the file and, for YAML, the line.
result<apply_set> read_apply_files(const std::vector<std::string>& paths);

/// Converts YAML text (possibly several documents) to JSON documents; quoted
/// scalars stay strings, plain ones become null, booleans or numbers when they
/// look like one.
result<std::vector<nlohmann::json>> yaml_to_json(const std::string& text);

/// One HTTP exchange of the CLI.
struct http_reply {
  long status = 0;
  std::string body;
};

/// Sends a request with libcurl (bearer token when not empty), giving up after
/// `timeout` (connecting: at most 5 s of it).
result<http_reply> http_call(const std::string& method, const std::string& url,
                             const std::string& body, const std::string& token,
                             millis timeout = std::chrono::seconds(60));

/// Sends every task (PUT /v1/tasks/{name}) then every schedule
/// (PUT /v1/schedules/{id}); prints one line per item. Returns 0, or 1 when an
/// item was rejected or the server is unreachable.
int apply(const apply_set& set, const std::string& base_url, const std::string& token);

}  // namespace orch::runtime
