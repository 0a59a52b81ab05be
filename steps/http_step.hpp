#pragma once
/// \file http_step.hpp An HTTP request step with libcurl.

#include <string>

#include "domain/task.hpp"
#include "steps/step.hpp"

namespace orch::steps {

/// Limits of an http step.
struct http_limits {
  std::size_t max_response = default_max_output;  ///< larger bodies fail the step
  millis connect_timeout{10000};
  int max_redirects = 5;
};

/// Sends the (already rendered) request. A JSON body is sent compact with
/// Content-Type application/json unless the step sets one. The response body is
/// the output. Fails with "http_status" when the status is not expected, "timeout"
/// on a total timeout, "response_too_large" beyond the limit, "http_error" for
/// transport errors; a stop request aborts the transfer ("cancelled").
step_outcome run_http(const http_spec& spec, millis timeout, const cancel_token& stop,
                      const log_sink& log, const http_limits& limits = {});

/// Call once per process before any thread makes requests.
void http_global_init();

}  // namespace orch::steps
