#include "http/errors.hpp"

namespace orch::http {

int status_for(errc code) {
  switch (code) {
    case errc::none:
      return 200;
    case errc::bad_request:
      return 400;
    case errc::validation_failed:
      return 400;
    case errc::unauthorized:
      return 401;
    case errc::forbidden:
      return 403;
    case errc::not_found:
      return 404;
    case errc::method_not_allowed:
      return 405;
    case errc::conflict:
      return 409;
    case errc::payload_too_large:
      return 413;
    case errc::unsupported_media_type:
      return 415;
    case errc::unprocessable:
      return 422;
    case errc::rate_limited:
      return 429;
    case errc::unavailable:
      return 503;
    case errc::internal:
      return 500;
  }
  return 500;
}

header_list headers_for(errc code) {
  switch (code) {
    case errc::unauthorized:
      return {{"WWW-Authenticate", "Bearer"}};
    case errc::rate_limited:
    case errc::unavailable:
      return {{"Retry-After", "5"}};
    default:
      return {};
  }
}

nlohmann::json error_body(const error_info& e, const std::string& request_id) {
  nlohmann::json err = {{"code", std::string(to_string(e.code))}, {"message", e.message}};
  if (!e.field.empty()) err["field"] = e.field;
  if (!request_id.empty()) err["request_id"] = request_id;
  return {{"error", err}};
}

const char* reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 409:
      return "Conflict";
    case 413:
      return "Payload Too Large";
    case 415:
      return "Unsupported Media Type";
    case 422:
      return "Unprocessable Entity";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Unknown";
  }
}

}  // namespace orch::http
