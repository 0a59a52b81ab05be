// The operator's routes: health, readiness, liveness, the OpenAPI document and
// metrics. None needs a token; every node serves them, whatever its roles.
#include <prometheus/text_serializer.h>

#include "actors/metrics.hpp"
#include "actors/node_health.hpp"
#include "domain/time.hpp"
#include "http/openapi_doc.hpp"
#include "http/responses.hpp"
#include "http/routes.hpp"

namespace orch::http {

using json = nlohmann::json;

void add_operations_routes(route_table& r, const std::shared_ptr<route_context>& ctx) {
  r.http_get("/health", [ctx](req_t req, params_t) {
    auto& n = *ctx->deps.node;
    auto v = judge_health(actors::health_facts_of(n));
    json checks = {{"database", v.database}, {"scheduler", v.scheduler}, {"workers", v.workers}};
    bool ok = v.healthy();
    double uptime =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - ctx->started).count();
    json body = {{"status", ok ? "healthy" : "unhealthy"},
                 {"timestamp", format_rfc3339(now_ms())},
                 {"checks", checks},
                 {"version", ctx->opt.version},
                 {"node", ctx->opt.node_name},
                 {"leader", n.is_leader.load()},
                 {"cluster",
                  {{"leader_alive", n.cluster_leader_ok.load()},
                   {"workers_up", n.cluster_workers.load()},
                   {"peers", n.peers.load()}}},
                 {"uptime", uptime}};
    if (ok) {
      send_json(req, 200, body);
    } else {
      send_json_as(req, errc::unavailable, body);
    }
    return restinio::request_accepted();
  });
  r.http_get("/ready", [ctx](req_t req, params_t) {
    auto& n = *ctx->deps.node;
    auto v = judge_readiness(n.ready, n.draining, n.database_ok);
    // A state for load balancers rather than an error: no Retry-After (docs/openapi.json).
    send_json(
        req, v.ready ? 200 : status_for(errc::unavailable),
        v.ready ? json{{"status", "ready"}} : json{{"status", "not_ready"}, {"reason", v.reason}});
    return restinio::request_accepted();
  });
  // Liveness: the process answers. It does not look at the database or the
  // cluster, so an orchestrator that restarts containers does not restart a
  // node for an outage it cannot fix (readiness says that).
  r.http_get("/live", [ctx](req_t req, params_t) {
    double uptime =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - ctx->started).count();
    send_json(req, 200,
              json{{"status", "alive"}, {"node", ctx->opt.node_name}, {"uptime", uptime}});
    return restinio::request_accepted();
  });
  r.http_get("/openapi.json", [](req_t req, params_t) {
    send_raw(req, 200, std::string(openapi_document()), "application/json");
    return restinio::request_accepted();
  });
  if (ctx->opt.enable_metrics) {
    r.http_get("/metrics", [](req_t req, params_t) {
      prometheus::TextSerializer s;
      send_raw(req, 200, s.Serialize(actors::global_metrics().registry->Collect()),
               "text/plain; version=0.0.4");
      return restinio::request_accepted();
    });
  }
}

}  // namespace orch::http
