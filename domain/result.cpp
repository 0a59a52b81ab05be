#include "domain/result.hpp"

namespace orch {

std::string_view to_string(errc code) {
  switch (code) {
    case errc::none:
      return "none";
    case errc::bad_request:
      return "bad_request";
    case errc::validation_failed:
      return "validation_failed";
    case errc::unauthorized:
      return "unauthorized";
    case errc::forbidden:
      return "forbidden";
    case errc::not_found:
      return "not_found";
    case errc::method_not_allowed:
      return "method_not_allowed";
    case errc::conflict:
      return "conflict";
    case errc::payload_too_large:
      return "payload_too_large";
    case errc::unsupported_media_type:
      return "unsupported_media_type";
    case errc::unprocessable:
      return "unprocessable";
    case errc::rate_limited:
      return "rate_limited";
    case errc::unavailable:
      return "unavailable";
    case errc::internal:
      return "internal";
  }
  return "internal";
}

error_info validation_error(const std::vector<field_error>& errors) {
  if (errors.empty()) return {errc::validation_failed, "invalid input", ""};
  std::string msg = errors.front().message;
  if (errors.size() > 1) msg += " (and " + std::to_string(errors.size() - 1) + " more)";
  return {errc::validation_failed, std::move(msg), errors.front().field};
}

}  // namespace orch
