#pragma once
/// \file retry_policy.hpp How often and how soon a failed run or step is tried again,
/// and its JSON codec.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "domain/result.hpp"
#include "domain/time.hpp"

namespace orch {

namespace fields {
class error_list;
}

/// Retry with exponential backoff: attempt n waits initial_delay * multiplier^(n-1),
/// capped at max_delay, with jitter when enabled.
struct retry_policy {
  int max_attempts = 1;
  millis initial_delay{1000};
  millis max_delay{300000};
  double multiplier = 2.0;
  bool jitter = true;
  bool operator==(const retry_policy&) const = default;
};

/// Parses a retry policy object; errors are prefixed with `path`.
std::optional<retry_policy> parse_retry(const nlohmann::json& j, const std::string& path,
                                        std::vector<field_error>& errors);
/// parse_retry whose absent fields come from `base`; a step's retry object
/// overrides only what it names of the task's retry policy.
std::optional<retry_policy> parse_retry(const nlohmann::json& j, const std::string& path,
                                        std::vector<field_error>& errors, const retry_policy& base);
/// parse_retry that reports into a list shared with the rest of a task's validation.
std::optional<retry_policy> parse_retry(const nlohmann::json& j, const std::string& path,
                                        fields::error_list& errors, const retry_policy& base);
/// JSON form of a retry policy.
nlohmann::json to_json(const retry_policy& r);

}  // namespace orch
