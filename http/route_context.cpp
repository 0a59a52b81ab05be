#include "http/route_context.hpp"

#include <caf/actor_system.hpp>
#include <caf/send.hpp>

#include "actors/engine.hpp"
#include "actors/messages.hpp"
#include "http/responses.hpp"
#include "persistence/db.hpp"

namespace orch::http {

void route_context::notify(caf::atom_value key) const {
  auto a = actors::lookup(*deps.system, key);
  if (a) caf::anon_send(a, actors::wake_atom::value);
}

status_t route_context::on_db(const req_t& req,
                              std::function<void(persistence::session&, const req_t&)> fn) {
  // Executors are looked up per request: one being restarted by its
  // supervisor is skipped.
  const auto n = static_cast<std::size_t>(deps.api_executors);
  const auto first = next_executor++;
  for (std::size_t i = 0; i < n; ++i) {
    auto ex =
        actors::lookup(*deps.system, actors::api_executor_key(static_cast<int>((first + i) % n)));
    if (!ex) continue;
    caf::anon_send(ex, actors::api_call{[req, fn = std::move(fn)](persistence::session& db) {
                     // A bug in a call must not leave its client waiting for the timeout.
                     try {
                       fn(db, req);
                     } catch (const std::exception& e) {
                       send_internal_error(req, "API call", e.what());
                     } catch (...) {
                       send_internal_error(req, "API call", "unknown exception");
                     }
                   }});
    return restinio::request_accepted();
  }
  return reject(req, {errc::unavailable, "the API executors are restarting", ""});
}

std::optional<status_t> route_context::deny(const req_t& req) const {
  auto refused =
      check_bearer(*deps.auth, req->header().get_field_or(restinio::http_field::authorization, ""));
  if (!refused) return std::nullopt;
  return reject(req, *refused);
}

std::optional<status_t> route_context::refuse_when_draining(const req_t& req) const {
  if (!deps.node->draining) return std::nullopt;
  return reject(req, {errc::unavailable, "this node is shutting down", ""});
}

}  // namespace orch::http
