// /v1/runs: batch submission, queries, logs, cancel and retry.
#include <caf/actor_system.hpp>
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
#include "persistence/log_repo.hpp"
#include "persistence/run_repo.hpp"
#include "persistence/task_repo.hpp"

namespace orch::http {
namespace {

using json = nlohmann::json;
using persistence::session;

constexpr std::size_t max_batch_runs = 10000;

/// One run of a batch: the task's name and the rest of the item.
using batch_item = std::pair<std::string, run_submit>;

/// The items of a batch body {"runs": [{"task": ..., <submission>}, ...]}.
result<std::vector<batch_item>> parse_batch(const json& body) {
  for (const auto& [k, v] : body.items()) {
    if (k != "runs") return error_info{errc::validation_failed, "unknown field '" + k + "'", k};
  }
  if (!body.contains("runs") || !body["runs"].is_array()) {
    return error_info{errc::validation_failed, "runs must be an array", "runs"};
  }
  const auto& runs = body["runs"];
  if (runs.empty() || runs.size() > max_batch_runs) {
    return error_info{errc::validation_failed, "runs must hold 1 to 10000 items", "runs"};
  }
  std::vector<batch_item> items;
  items.reserve(runs.size());
  for (std::size_t i = 0; i < runs.size(); ++i) {
    auto path = "runs[" + std::to_string(i) + "]";
    auto item = runs[i];
    if (!item.is_object()) {
      return error_info{errc::validation_failed, path + " must be an object", path};
    }
    if (!item.contains("task") || !item["task"].is_string() ||
        !valid_task_name(item["task"].get<std::string>())) {
      return error_info{errc::validation_failed, path + ".task must be a task name",
                        path + ".task"};
    }
    auto task = item["task"].get<std::string>();
    item.erase("task");
    if (item.contains("idempotency_key")) {
      return error_info{errc::validation_failed,
                        path + ".idempotency_key is not supported in batches",
                        path + ".idempotency_key"};
    }
    auto s = parse_run_submit(item, path);
    if (!s) return s.error();
    items.emplace_back(std::move(task), std::move(*s));
  }
  return items;
}

/// The runs of a batch, built from each task's current version (read once per task).
result<std::vector<new_run>> build_batch(session& db, const std::vector<batch_item>& items) {
  std::map<std::string, persistence::task_row> heads;
  std::vector<new_run> runs;
  runs.reserve(items.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    const auto& [task, s] = items[i];
    auto path = "runs[" + std::to_string(i) + "]";
    auto it = heads.find(task);
    if (it == heads.end()) {
      auto row = persistence::task_repo::get(db, task);
      if (!row) {
        auto e = row.error();
        e.field = path + ".task";
        return e;
      }
      it = heads.emplace(task, std::move(*row)).first;
    }
    auto run = run_from_task(it->second, s, path);
    if (!run) return run.error();
    runs.push_back(std::move(*run));
  }
  return runs;
}

/// The id of the run a path names; not_found when it is no run id.
result<long long> run_id(std::string_view text) {
  auto id = parse_id(text);
  if (!id) return error_info{errc::not_found, "run not found", ""};
  return *id;
}

void add_batch_route(route_table& r, const std::shared_ptr<route_context>& ctx) {
  r.http_post("/v1/runs/batch", [ctx](req_t req, params_t) {
    if (auto d = ctx->deny(req)) return *d;
    if (auto d = ctx->refuse_when_draining(req)) return *d;
    auto body = parse_body(req, ctx->opt.max_batch_body_bytes, false);
    if (!body) return reject(req, body.error());
    auto items = parse_batch(*body);
    if (!items) return reject(req, items.error());
    return ctx->on_db(req, [items = std::move(*items), ctx](session& db, const req_t& rq) {
      auto runs = build_batch(db, items);
      if (!runs) return send_error(rq, runs.error());
      auto out = persistence::run_repo::submit_batch(db, *runs);
      if (!out) return send_error(rq, out.error());
      ctx->notify(actors::dispatcher_key);
      json arr = json::array();
      for (const auto& run : *out) arr.push_back(to_json(run, false));
      send_json(rq, 201, json{{"items", std::move(arr)}});
    });
  });
}

void add_query_routes(route_table& r, const std::shared_ptr<route_context>& ctx) {
  r.http_get("/v1/runs", [ctx](req_t req, params_t) {
    if (auto d = ctx->deny(req)) return *d;
    auto q = parse_query(req, {"task", "status", "limit", "cursor"});
    if (!q) return reject(req, q.error());
    auto page = parse_page(*q);
    if (!page) return reject(req, page.error());
    persistence::run_filter f;
    f.limit = page->fetch();
    if (auto t = q->get("task")) f.task = *t;
    if (auto s = q->get("status")) {
      if (!parse_run_status(*s)) {
        return reject(
            req, {errc::validation_failed,
                  "status must be one of pending running succeeded failed cancelled", "status"});
      }
      f.status = *s;
    }
    if (page->cursor) {
      auto id = parse_id(*page->cursor);
      if (!id) return reject(req, {errc::validation_failed, "invalid cursor", "cursor"});
      f.before_id = *id;
    }
    return ctx->on_db(req, [f, page = *page](session& db, const req_t& rq) {
      answer_page(
          rq, persistence::run_repo::list(db, f), page,
          [](const auto& run) { return std::to_string(run.id); },
          [](const auto& run) { return to_json(run, false); });
    });
  });
  r.http_get(R"(/v1/runs/:id)",
             resource_route(ctx, "id", drain_policy::serve, run_id,
                            [](session& db, const req_t& rq, long long id) {
                              answer(rq, persistence::run_repo::get(db, id, true), 200,
                                     [](const auto& run) { return to_json(run, true); });
                            }));
  r.http_get(R"(/v1/runs/:id/logs)", [ctx](req_t req, params_t p) {
    if (auto d = ctx->deny(req)) return *d;
    auto id = run_id(p["id"]);
    if (!id) return reject(req, id.error());
    auto q = parse_query(req, {"after", "limit"});
    if (!q) return reject(req, q.error());
    auto limit = int_param(*q, "limit", 1000, 1, 5000);
    if (!limit) return reject(req, limit.error());
    long long after = 0;
    if (auto a = q->get("after")) {
      auto v = parse_id(*a);
      if (!v && *a != "0") return reject(req, {errc::validation_failed, "invalid after", "after"});
      after = v.value_or(0);
    }
    return ctx->on_db(req, [id = *id, after, limit = *limit](session& db, const req_t& rq) {
      auto run = persistence::run_repo::get(db, id, false);
      if (!run) return send_error(rq, run.error());
      auto lines = persistence::log_repo::list(db, id, after, limit);
      if (!lines) return send_error(rq, lines.error());
      json items = json::array();
      for (const auto& l : *lines) items.push_back(to_json(l));
      json next = lines->empty() ? json(after) : json(lines->back().seq);
      send_json(rq, 200, json{{"items", items}, {"next_after", next}});
    });
  });
}

void add_action_routes(route_table& r, const std::shared_ptr<route_context>& ctx) {
  r.http_post(
      R"(/v1/runs/:id/cancel)",
      resource_route(ctx, "id", drain_policy::serve, run_id,
                     [ctx](session& db, const req_t& rq, long long id) {
                       auto out = persistence::run_repo::cancel(db, id);
                       if (!out) return send_error(rq, out.error());
                       if (out->was_running) {
                         if (auto pool = actors::lookup<actors::pool_entry>(*ctx->deps.system)) {
                           caf::anon_send(pool, actors::cancel_atom::value, id);
                         }
                       }
                       send_json(rq, 202, to_json(out->run, false));
                     }));
  r.http_post(R"(/v1/runs/:id/retry)",
              resource_route(ctx, "id", drain_policy::refuse, run_id,
                             [ctx](session& db, const req_t& rq, long long id) {
                               auto out = persistence::run_repo::retry(db, id);
                               if (!out) return send_error(rq, out.error());
                               ctx->notify(actors::dispatcher_key);
                               send_json(rq, 201, to_json(*out, false));
                             }));
}

}  // namespace

void add_run_routes(route_table& r, const std::shared_ptr<route_context>& ctx) {
  add_batch_route(r, ctx);
  add_query_routes(r, ctx);
  add_action_routes(r, ctx);
}

}  // namespace orch::http
