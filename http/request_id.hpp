#pragma once
/// \file request_id.hpp Request ids: the X-Request-Id of every response.

#include <string>
#include <string_view>

namespace orch::http {

/// Whether `id` is 1 to 64 characters of [A-Za-z0-9._-], and so safe to echo in
/// a header and a log line.
bool sane_request_id(std::string_view id);

/// A new random request id: 16 lower-case hex digits.
std::string new_request_id();

/// The id of a request whose X-Request-Id header is `sent` (empty when absent):
/// the client's own when sane, else a new one.
std::string request_id_for(std::string_view sent);

}  // namespace orch::http
