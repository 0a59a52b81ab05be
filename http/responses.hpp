#pragma once
/// \file responses.hpp Private to http/: sending answers. Every response carries
/// the request's X-Request-Id and is counted by status in the metrics.

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "domain/result.hpp"
#include "http/errors.hpp"
#include "http/request_handle.hpp"

namespace orch::http {

/// Sends `body` as is with `status`, `content_type` and `headers`.
void send_raw(const req_t& req, int status, std::string body, const char* content_type,
              const header_list& headers = {});

/// Sends `body` as JSON (no body for 204).
void send_json(const req_t& req, int status, const nlohmann::json& body,
               const header_list& headers = {});

/// Sends a body other than the error shape (a health report) with the status
/// and headers of error code `code`.
void send_json_as(const req_t& req, errc code, const nlohmann::json& body);

/// Sends the error body with the status and headers of `e.code`; a 500 also
/// names the request id in its body.
void send_error(const req_t& req, const error_info& e);

/// Answers 500 internal for a bug (an exception) without its text, which goes
/// to the log with the request id; `where` names the place for the log.
void send_internal_error(const req_t& req, std::string_view where, std::string_view what);

/// send_error, for a handler that refuses a request before any work.
status_t reject(const req_t& req, const error_info& e);

/// Sends `to_body(value)` with `status`, or the error of `r`.
template <class T, class F>
void answer(const req_t& req, const result<T>& r, int status, F&& to_body) {
  if (!r) return send_error(req, r.error());
  send_json(req, status, to_body(*r));
}

}  // namespace orch::http
