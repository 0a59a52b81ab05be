#pragma once
/// \file errors.hpp The one place that maps error codes to HTTP.

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "domain/result.hpp"

namespace orch::http {

/// Response headers as (name, value) pairs.
using header_list = std::vector<std::pair<std::string, std::string>>;

/// The HTTP status of an error code.
int status_for(errc code);

/// The headers an answer with error code `code` carries besides its body:
/// WWW-Authenticate for unauthorized, Retry-After for rate_limited and unavailable.
header_list headers_for(errc code);

/// The JSON error body: {"error":{"code","message","field","request_id"}};
/// field and request_id only when not empty.
nlohmann::json error_body(const error_info& e, const std::string& request_id = "");

/// The standard reason phrase of a status code.
const char* reason_phrase(int status);

}  // namespace orch::http
