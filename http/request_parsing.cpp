#include "http/request_parsing.hpp"

#include <cctype>
#include <charconv>
#include <stdexcept>

namespace orch::http {

using json = nlohmann::json;

namespace {
constexpr int max_body_depth = 64;
}  // namespace

result<json> parse_body(const req_t& req, std::size_t limit, bool allow_empty) {
  const auto& body = req->body();
  if (body.size() > limit) {
    return error_info{errc::payload_too_large,
                      "request body of " + std::to_string(body.size()) +
                          " bytes exceeds the limit of " + std::to_string(limit) + " bytes",
                      ""};
  }
  if (body.empty() && allow_empty) return json::object();
  std::string ctype = req->header().get_field_or(restinio::http_field::content_type, "");
  std::string lower;
  for (char c : ctype) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto semi = lower.find(';');
  auto media = lower.substr(0, semi);
  while (!media.empty() && media.back() == ' ') media.pop_back();
  if (media != "application/json") {
    return error_info{errc::unsupported_media_type,
                      "Content-Type must be application/json, got '" + ctype + "'", ""};
  }
  if (body.empty()) return error_info{errc::bad_request, "request body is empty", ""};
  try {
    json::parser_callback_t depth_guard = [](int depth, json::parse_event_t, json&) {
      if (depth > max_body_depth) throw std::length_error("nesting deeper than 64 levels");
      return true;
    };
    auto j = json::parse(body.begin(), body.end(), depth_guard);
    if (!j.is_object())
      return error_info{errc::bad_request, "request body must be a JSON object", ""};
    return j;
  } catch (const json::parse_error& e) {
    std::string what = e.what();
    return error_info{errc::bad_request, "malformed JSON: " + what.substr(what.find(' ') + 1), ""};
  } catch (const std::exception& e) {
    return error_info{errc::bad_request, std::string("malformed JSON: ") + e.what(), ""};
  }
}

std::optional<std::string> query::get(const std::string& k) const {
  auto it = values.find(k);
  if (it == values.end()) return std::nullopt;
  return it->second;
}

result<query> parse_query(const req_t& req, std::initializer_list<const char*> allowed) {
  query q;
  try {
    auto qp = restinio::parse_query<restinio::parse_query_traits::javascript_compatible>(
        req->header().query());
    for (const auto& [k, v] : qp) {
      std::string key(k.data(), k.size());
      bool known = false;
      for (const char* a : allowed) known = known || key == a;
      if (!known) {
        return error_info{errc::validation_failed, "unknown query parameter '" + key + "'", key};
      }
      q.values[key] = std::string(v.data(), v.size());
    }
  } catch (const std::exception& e) {
    return error_info{errc::bad_request, std::string("malformed query string: ") + e.what(), ""};
  }
  return q;
}

result<int> int_param(const query& q, const char* name, int def, int lo, int hi) {
  auto v = q.get(name);
  if (!v) return def;
  int n = 0;
  auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc{} || p != v->data() + v->size() || v->empty() || n < lo || n > hi) {
    return error_info{errc::validation_failed,
                      std::string(name) + " must be an integer from " + std::to_string(lo) +
                          " to " + std::to_string(hi),
                      name};
  }
  return n;
}

std::optional<long long> parse_id(std::string_view s) {
  long long id = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), id);
  if (ec != std::errc{} || p != s.data() + s.size() || s.empty() || id <= 0) return std::nullopt;
  return id;
}

}  // namespace orch::http
