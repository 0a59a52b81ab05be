// /v1/tasks: task definitions, and submitting a run of one.
#include <caf/send.hpp>

#include "actors/engine.hpp"
#include "actors/messages.hpp"
#include "domain/task.hpp"
#include "http/pagination.hpp"
#include "http/request_parsing.hpp"
#include "http/resource_routes.hpp"
#include "http/responses.hpp"
#include "http/routes.hpp"
#include "http/run_from_task.hpp"
#include "persistence/db.hpp"
#include "persistence/run_repo.hpp"
#include "persistence/task_repo.hpp"

namespace orch::http {
namespace {

using json = nlohmann::json;
using persistence::session;

void add_definition_routes(route_table& r, const std::shared_ptr<route_context>& ctx) {
  r.http_put(R"(/v1/tasks/:name)", [ctx](req_t req, params_t p) {
    if (auto d = ctx->deny(req)) return *d;
    std::string name(p["name"]);
    auto body = parse_body(req, ctx->opt.max_body_bytes, false);
    if (!body) return reject(req, body.error());
    if (!valid_task_name(name)) {
      return reject(req, {errc::validation_failed,
                          "task name must match ^[a-z0-9][a-z0-9_-]{0,62}$", "name"});
    }
    auto spec = parse_task(*body, name, false);
    if (!spec) return reject(req, spec.error());
    return ctx->on_db(req, [spec = std::move(*spec)](session& db, const req_t& rq) {
      auto out = persistence::task_repo::put(db, spec);
      if (!out) return send_error(rq, out.error());
      send_json(rq, out->created ? 201 : 200, persistence::to_json(out->row));
    });
  });
  r.http_post("/v1/tasks", [ctx](req_t req, params_t) {
    if (auto d = ctx->deny(req)) return *d;
    auto body = parse_body(req, ctx->opt.max_body_bytes, false);
    if (!body) return reject(req, body.error());
    auto spec = parse_task(*body, "", true);
    if (!spec) return reject(req, spec.error());
    return ctx->on_db(req, [spec = std::move(*spec)](session& db, const req_t& rq) {
      answer(rq, persistence::task_repo::create(db, spec), 201,
             [](const auto& row) { return persistence::to_json(row); });
    });
  });
  r.http_get("/v1/tasks", paged_list_route(
                              ctx,
                              [](session& db, const page_request& page) {
                                return persistence::task_repo::list(db, page.fetch(),
                                                                    page.cursor.value_or(""));
                              },
                              [](const auto& row) { return row.name; },
                              [](const auto& row) { return persistence::to_json(row); }));
  r.http_get(R"(/v1/tasks/:name)", read_route(ctx, "name", &persistence::task_repo::get));
  r.http_delete(R"(/v1/tasks/:name)", remove_route(ctx, "name", &persistence::task_repo::remove));
}

void add_submission_route(route_table& r, const std::shared_ptr<route_context>& ctx) {
  r.http_post(R"(/v1/tasks/:name/runs)", [ctx](req_t req, params_t p) {
    if (auto d = ctx->deny(req)) return *d;
    if (auto d = ctx->refuse_when_draining(req)) return *d;
    std::string name(p["name"]);
    auto body = parse_body(req, ctx->opt.max_body_bytes, true);
    if (!body) return reject(req, body.error());
    auto submit = parse_run_submit(*body);
    if (!submit) return reject(req, submit.error());
    // Submissions go to the submitter, which commits those that arrive together
    // in one transaction; the answer still waits for that commit.
    actors::submit_call call;
    call.request.task = name;
    call.request.build = [s = std::move(*submit)](const persistence::task_row& row) {
      return run_from_task(row, s, "");
    };
    call.reply = [req](result<persistence::submit_outcome> out) {
      if (!out) return send_error(req, out.error());
      send_json(req, out->created ? 201 : 200, to_json(out->run, false));
    };
    auto submitter = actors::lookup<actors::submitter_entry>(*ctx->deps.system);
    if (!submitter) return reject(req, {errc::unavailable, "the submitter is restarting", ""});
    caf::anon_send(submitter, std::move(call));
    return restinio::request_accepted();
  });
}

}  // namespace

void add_task_routes(route_table& r, const std::shared_ptr<route_context>& ctx) {
  add_definition_routes(r, ctx);
  add_submission_route(r, ctx);
}

}  // namespace orch::http
