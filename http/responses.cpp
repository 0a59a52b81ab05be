#include "http/responses.hpp"

#include <chrono>
#include <map>
#include <utility>

#include "actors/log.hpp"
#include "actors/metrics.hpp"

namespace orch::http {
namespace {

using json = nlohmann::json;

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

void count(const req_t& req, int status) {
  // Label lookups hash and lock; each asio (or API executor) thread keeps its own cache.
  thread_local std::map<int, prometheus::Counter*> by_code;
  auto it = by_code.find(status);
  if (it == by_code.end()) {
    it = by_code
             .emplace(status, &actors::global_metrics().http_requests.Add(
                                  {{"code", std::to_string(status)}}))
             .first;
  }
  it->second->Increment();
  const auto& data = req->extra_data();
  thread_local std::map<std::pair<std::string, int>, prometheus::Histogram*> by_route;
  auto key = std::make_pair(data.route, status / 100);
  auto h = by_route.find(key);
  if (h == by_route.end()) {
    h = by_route.emplace(key, &actors::global_metrics().http_request_duration(data.route, status))
            .first;
  }
  h->second->Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - data.arrived).count());
}

}  // namespace

void send_raw(const req_t& req, int status, std::string body, const char* content_type,
              const header_list& headers) {
  auto resp = req->create_response(restinio::http_status_line_t{
      restinio::http_status_code_t{static_cast<std::uint16_t>(status)}, reason_phrase(status)});
  if (status != 204) resp.append_header(restinio::http_field::content_type, content_type);
  const auto& id = req->extra_data().request_id;
  if (!id.empty()) resp.append_header("X-Request-Id", id);
  for (const auto& [k, v] : headers) resp.append_header(k, v);
  if (status != 204) resp.set_body(std::move(body));
  resp.done();
  count(req, status);
}

void send_json(const req_t& req, int status, const json& body, const header_list& headers) {
  send_raw(req, status, status == 204 ? std::string() : dump(body), "application/json", headers);
}

void send_json_as(const req_t& req, errc code, const json& body) {
  send_json(req, status_for(code), body, headers_for(code));
}

void send_error(const req_t& req, const error_info& e) {
  int status = status_for(e.code);
  const auto& id = req->extra_data().request_id;
  send_json(req, status, error_body(e, status == 500 ? id : std::string()), headers_for(e.code));
}

void send_internal_error(const req_t& req, std::string_view where, std::string_view what) {
  const auto& id = req->extra_data().request_id;
  log_error("http", std::string(where) + " failed (request " + id + "): " + std::string(what));
  send_error(req, {errc::internal, "internal error (request " + id + ")", ""});
}

status_t reject(const req_t& req, const error_info& e) {
  send_error(req, e);
  return restinio::request_accepted();
}

}  // namespace orch::http
