// /v1/nodes and /v1/queue: the cluster as the database sees it.
#include "domain/time.hpp"
#include "http/responses.hpp"
#include "http/routes.hpp"
#include "persistence/db.hpp"
#include "persistence/node_repo.hpp"
#include "persistence/run_repo.hpp"

namespace orch::http {

using json = nlohmann::json;
using persistence::session;

void add_cluster_routes(route_table& r, const std::shared_ptr<route_context>& ctx) {
  r.http_get("/v1/nodes", [ctx](req_t req, params_t) {
    if (auto d = ctx->deny(req)) return *d;
    return ctx->on_db(req, [ctx](session& db, const req_t& rq) {
      auto rows = persistence::node_repo::list(db, ctx->opt.heartbeat_down_after);
      if (!rows) return send_error(rq, rows.error());
      json items = json::array();
      for (const auto& n : *rows) {
        // This node's own row may lag by a heartbeat: its live state is here.
        bool self = n.name == ctx->opt.node_name;
        std::string status = self && ctx->deps.node->draining ? "draining" : n.status;
        json item = {{"name", n.name},
                     {"roles", n.roles},
                     {"started_at", format_rfc3339(n.started_at)},
                     {"last_seen", format_rfc3339(n.last_seen)},
                     {"capacity", n.capacity},
                     {"active", self ? ctx->deps.node->active_runs.load() : n.active},
                     {"status", status}};
        if (!n.advertise.empty()) item["advertise"] = n.advertise;
        items.push_back(std::move(item));
      }
      send_json(rq, 200, json{{"items", items}});
    });
  });
  r.http_get("/v1/queue", [ctx](req_t req, params_t) {
    if (auto d = ctx->deny(req)) return *d;
    return ctx->on_db(req, [](session& db, const req_t& rq) {
      auto c = persistence::run_repo::counts(db);
      if (!c) return send_error(rq, c.error());
      json by = json::object();
      for (const auto& [q, v] : c->by_queue) by[q] = {{"pending", v.first}, {"running", v.second}};
      send_json(rq, 200, json{{"pending", c->pending}, {"running", c->running}, {"by_queue", by}});
    });
  });
}

}  // namespace orch::http
