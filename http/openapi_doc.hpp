#pragma once
/// \file openapi_doc.hpp The OpenAPI document served at /openapi.json.

#include <string_view>

namespace orch::http {

/// docs/openapi.json as compiled into the binary.
std::string_view openapi_document();

}  // namespace orch::http
