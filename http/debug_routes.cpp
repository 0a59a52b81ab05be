// /v1/debug: fault injection for tests (ORCH_FAULT_INJECTION). Never
// registered otherwise.
#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>
#include <map>
#include <stdexcept>

#include "actors/engine.hpp"
#include "actors/messages.hpp"
#include "http/responses.hpp"
#include "http/routes.hpp"
#include "persistence/db.hpp"

namespace orch::http {

using json = nlohmann::json;

void add_debug_routes(route_table& r, const std::shared_ptr<route_context>& ctx) {
  r.http_post(R"(/v1/debug/crash/:actor)", [ctx](req_t req, params_t p) {
    if (auto d = ctx->deny(req)) return *d;
    std::string name(p["actor"]);
    std::map<std::string, caf::atom_value> keys = {{"dispatcher", actors::dispatcher_key},
                                                   {"pool", actors::pool_key},
                                                   {"recorder", actors::recorder_key},
                                                   {"scheduler", actors::scheduler_key},
                                                   {"cluster", actors::cluster_key},
                                                   {"submitter", actors::submitter_key},
                                                   {"api_executor", actors::api_executor_key(0)}};
    auto it = keys.find(name);
    if (it == keys.end()) return reject(req, {errc::not_found, "no actor '" + name + "'", ""});
    auto a = actors::lookup(*ctx->deps.system, it->second);
    if (!a) return reject(req, {errc::unavailable, "actor '" + name + "' is restarting", ""});
    // With a sender: the cluster agent refuses anonymous messages, which it
    // cannot tell from another node's.
    caf::scoped_actor self{*ctx->deps.system};
    self->send(a, actors::crash_atom::value);
    send_json(req, 202, json{{"crashed", name}});
    return restinio::request_accepted();
  });
  // The next run a worker takes blocks its thread for a minute.
  r.http_post("/v1/debug/stall/worker", [ctx](req_t req, params_t) {
    if (auto d = ctx->deny(req)) return *d;
    actors::inject_worker_stall(std::chrono::minutes(1));
    send_json(req, 202, json{{"stalled", "worker"}});
    return restinio::request_accepted();
  });
  // An API call that throws, as a bug in one would: the client gets 500 at once.
  r.http_post("/v1/debug/throw", [ctx](req_t req, params_t) {
    if (auto d = ctx->deny(req)) return *d;
    return ctx->on_db(req, [](persistence::session&, const req_t&) {
      throw std::runtime_error("injected failure in an API call (debug route)");
    });
  });
}

}  // namespace orch::http
