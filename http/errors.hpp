#pragma once
/// \file errors.hpp The one place that maps error codes to HTTP.

#include <nlohmann/json.hpp>
#include <string>

#include "domain/result.hpp"

namespace orch::http {

/// The HTTP status of an error code.
int status_for(errc code);

/// The JSON error body: {"error":{"code","message","field"}}.
nlohmann::json error_body(const error_info& e);

/// The standard reason phrase of a status code.
const char* reason_phrase(int status);

}  // namespace orch::http
