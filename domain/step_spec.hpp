#pragma once
/// \file step_spec.hpp The steps of a task: exec, http and template kinds, and their
/// JSON codecs.

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "domain/retry_policy.hpp"
#include "domain/time.hpp"

namespace orch {

namespace fields {
class error_list;
}

/// Runs a program: argv, never a shell string.
struct exec_spec {
  std::vector<std::string> command;
  std::map<std::string, std::string> env;
  std::string cwd;
  std::optional<std::string> stdin_data;
};

/// An HTTP request made with libcurl; the response body is the step output.
struct http_spec {
  std::string method = "GET";
  std::string url;
  std::map<std::string, std::string> headers;
  nlohmann::json body;             ///< null: no body; a string is sent as is; else JSON
  std::vector<int> expect_status;  ///< empty means any 2xx
};

/// Renders a string or JSON value from params and earlier outputs; no I/O.
struct template_spec {
  nlohmann::json value;
};

/// One step of a pipeline: a unique name and exactly one kind.
struct step_spec {
  std::string name;
  std::variant<exec_spec, http_spec, template_spec> kind;
  std::optional<millis> timeout;
  std::optional<retry_policy> retry;
};

/// The kind name of a step: "exec", "http" or "template".
std::string_view kind_name(const step_spec& step);

/// Parses the step object `j` found at `path` ("steps[2]"); a retry object
/// overrides `task_retry` field by field. The (possibly partial) step is returned
/// even with errors, so that its template references can still be checked.
step_spec parse_step(const nlohmann::json& j, const std::string& path,
                     const retry_policy& task_retry, fields::error_list& errors);

/// The canonical JSON of a step, every field of its kind filled in.
nlohmann::json to_json(const step_spec& step);

}  // namespace orch
