// /v1/schedules: cron schedules, pausing, triggering and previewing them.
#include "actors/engine.hpp"
#include "actors/messages.hpp"
#include "domain/cron.hpp"
#include "domain/schedule.hpp"
#include "http/pagination.hpp"
#include "http/request_parsing.hpp"
#include "http/resource_routes.hpp"
#include "http/responses.hpp"
#include "http/routes.hpp"
#include "persistence/db.hpp"
#include "persistence/run_repo.hpp"
#include "persistence/schedule_repo.hpp"

namespace orch::http {
namespace {

using json = nlohmann::json;
using persistence::session;

/// The handler of POST /v1/schedules (`put` false) or PUT /v1/schedules/{id}.
auto write_schedule(const std::shared_ptr<route_context>& ctx, bool put) {
  return [ctx, put](req_t req, params_t p) {
    if (auto d = ctx->deny(req)) return *d;
    std::string id = put ? std::string(p["id"]) : std::string();
    if (put && !valid_schedule_id(id)) {
      return reject(req, {errc::validation_failed,
                          "schedule id must match ^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", "id"});
    }
    auto body = parse_body(req, ctx->opt.max_body_bytes, false);
    if (!body) return reject(req, body.error());
    auto spec = parse_schedule(*body, id);
    if (!spec) return reject(req, spec.error());
    return ctx->on_db(req, [spec = std::move(*spec), put, ctx](session& db, const req_t& rq) {
      if (put) {
        auto out = persistence::schedule_repo::put(db, spec, now_ms());
        if (!out) return send_error(rq, out.error());
        ctx->notify(actors::scheduler_key);
        return send_json(rq, out->second ? 201 : 200, persistence::to_json(out->first));
      }
      auto out = persistence::schedule_repo::create(db, spec, now_ms());
      if (!out) return send_error(rq, out.error());
      ctx->notify(actors::scheduler_key);
      send_json(rq, 201, persistence::to_json(*out));
    });
  };
}

/// The handler of POST /v1/schedules/{id}/resume (`enable`) or /pause.
auto toggle_schedule(const std::shared_ptr<route_context>& ctx, bool enable) {
  return named_route(ctx, "id", drain_policy::serve,
                     [ctx, enable](session& db, const req_t& rq, const std::string& id) {
                       auto out = persistence::schedule_repo::set_enabled(db, id, enable, now_ms());
                       if (!out) return send_error(rq, out.error());
                       ctx->notify(actors::scheduler_key);
                       send_json(rq, 200, persistence::to_json(*out));
                     });
}

/// The next `count` fire times of a cron expression in `timezone`, from now.
json next_fire_times(const std::string& cron_text, const std::string& timezone, int count) {
  auto cron = cron_expr::parse(cron_text);
  const auto* zone = find_zone(timezone);
  json items = json::array();
  if (!cron || zone == nullptr) return items;
  auto t = std::chrono::floor<std::chrono::seconds>(now_ms());
  for (int i = 0; i < count; ++i) {
    auto next = cron->next_after(t, zone);
    if (!next) break;
    items.push_back(format_rfc3339(std::chrono::time_point_cast<millis>(*next)));
    t = *next;
  }
  return items;
}

void add_read_routes(route_table& r, const std::shared_ptr<route_context>& ctx) {
  r.http_get("/v1/schedules", paged_list_route(
                                  ctx,
                                  [](session& db, const page_request& page) {
                                    return persistence::schedule_repo::list(
                                        db, page.fetch(), page.cursor.value_or(""));
                                  },
                                  [](const auto& row) { return row.spec.id; },
                                  [](const auto& row) { return persistence::to_json(row); }));
  r.http_get(R"(/v1/schedules/:id)", read_route(ctx, "id", &persistence::schedule_repo::get));
}

void add_action_routes(route_table& r, const std::shared_ptr<route_context>& ctx) {
  r.http_delete(R"(/v1/schedules/:id)",
                remove_route(ctx, "id", &persistence::schedule_repo::remove));
  r.http_post(R"(/v1/schedules/:id/pause)", toggle_schedule(ctx, false));
  r.http_post(R"(/v1/schedules/:id/resume)", toggle_schedule(ctx, true));
  r.http_post(R"(/v1/schedules/:id/trigger)",
              named_route(ctx, "id", drain_policy::refuse,
                          [ctx](session& db, const req_t& rq, const std::string& id) {
                            auto run_id = persistence::schedule_repo::trigger(db, id);
                            if (!run_id) return send_error(rq, run_id.error());
                            ctx->notify(actors::dispatcher_key);
                            answer(rq, persistence::run_repo::get(db, *run_id, false), 201,
                                   [](const auto& run) { return to_json(run, false); });
                          }));
  r.http_get(R"(/v1/schedules/:id/preview)", [ctx](req_t req, params_t p) {
    if (auto d = ctx->deny(req)) return *d;
    std::string id(p["id"]);
    auto q = parse_query(req, {"count"});
    if (!q) return reject(req, q.error());
    auto count = int_param(*q, "count", 5, 1, 100);
    if (!count) return reject(req, count.error());
    return ctx->on_db(req, [id, count = *count](session& db, const req_t& rq) {
      auto row = persistence::schedule_repo::get(db, id);
      if (!row) return send_error(rq, row.error());
      auto items = next_fire_times(row->spec.cron, row->spec.timezone, count);
      send_json(rq, 200, json{{"items", items}, {"timezone", row->spec.timezone}});
    });
  });
}

}  // namespace

void add_schedule_routes(route_table& r, const std::shared_ptr<route_context>& ctx) {
  r.http_post("/v1/schedules", write_schedule(ctx, false));
  r.http_put(R"(/v1/schedules/:id)", write_schedule(ctx, true));
  add_read_routes(r, ctx);
  add_action_routes(r, ctx);
}

}  // namespace orch::http
