#include "http/server.hpp"

#include <date/tz.h>
#include <prometheus/text_serializer.h>

#include <atomic>
#include <caf/actor_system.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <charconv>
#include <regex>
#include <restinio/all.hpp>

#include "actors/engine.hpp"
#include "actors/log.hpp"
#include "actors/messages.hpp"
#include "actors/metrics.hpp"
#include "actors/node_health.hpp"
#include "domain/cron.hpp"
#include "domain/schedule.hpp"
#include "domain/task.hpp"
#include "http/errors.hpp"
#include "http/openapi_doc.hpp"
#include "persistence/db.hpp"
#include "persistence/misc_repos.hpp"
#include "persistence/run_repo.hpp"
#include "persistence/schedule_repo.hpp"
#include "persistence/task_repo.hpp"

namespace orch::http {

void auth_state::set_hashes(const std::vector<std::string>& hashes) {
  std::lock_guard<std::mutex> lock(mu_);
  hashes_ = std::unordered_set<std::string>(hashes.begin(), hashes.end());
}

bool auth_state::required() const {
  std::lock_guard<std::mutex> lock(mu_);
  return !hashes_.empty();
}

bool auth_state::accepts(const std::string& token) const {
  auto h = persistence::token_hash(token);
  std::lock_guard<std::mutex> lock(mu_);
  return hashes_.count(h) > 0;
}

namespace {

using json = nlohmann::json;
using router_t = restinio::router::express_router_t<>;
using req_t = restinio::request_handle_t;
using status_t = restinio::request_handling_status_t;
using params_t = restinio::router::route_params_t;
using session = persistence::session;

// The router is wrapped in a handler of our own (see server::start), so the
// default std::function request handler is used.
struct traits_t : public restinio::default_traits_t {};

constexpr int max_json_depth = 64;
constexpr int max_batch_runs = 10000;

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

void send_raw(const req_t& req, int status, std::string body, const char* content_type,
              const std::vector<std::pair<std::string, std::string>>& headers = {}) {
  auto resp = req->create_response(restinio::http_status_line_t{
      restinio::http_status_code_t{static_cast<std::uint16_t>(status)}, reason_phrase(status)});
  if (status != 204) resp.append_header(restinio::http_field::content_type, content_type);
  for (const auto& [k, v] : headers) resp.append_header(k, v);
  if (status != 204) resp.set_body(std::move(body));
  resp.done();
  // Label lookups hash and lock; each asio thread keeps its own cache.
  thread_local std::map<int, prometheus::Counter*> by_code;
  auto it = by_code.find(status);
  if (it == by_code.end()) {
    it = by_code
             .emplace(status, &actors::global_metrics().http_requests.Add(
                                  {{"code", std::to_string(status)}}))
             .first;
  }
  it->second->Increment();
}

void send_json(const req_t& req, int status, const json& body,
               const std::vector<std::pair<std::string, std::string>>& headers = {}) {
  send_raw(req, status, status == 204 ? std::string() : dump(body), "application/json", headers);
}

void send_error(const req_t& req, const error_info& e) {
  int status = status_for(e.code);
  std::vector<std::pair<std::string, std::string>> headers;
  if (status == 503 || status == 429) headers.emplace_back("Retry-After", "5");
  send_json(req, status, error_body(e), headers);
}

status_t reject(const req_t& req, const error_info& e) {
  send_error(req, e);
  return restinio::request_accepted();
}

// Parses a JSON request body: size, content type, syntax and nesting depth.
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
      if (depth > max_json_depth) throw std::length_error("nesting deeper than 64 levels");
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

struct query {
  std::map<std::string, std::string> values;
  std::optional<std::string> get(const std::string& k) const {
    auto it = values.find(k);
    if (it == values.end()) return std::nullopt;
    return it->second;
  }
};

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

// Task definitions by (name, version), per API executor thread: versions never change.
std::shared_ptr<const task_spec> cached_task(const persistence::task_row& row) {
  thread_local std::map<std::pair<std::string, int>, std::shared_ptr<const task_spec>> cache;
  auto key = std::make_pair(row.name, row.version);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  auto parsed = parse_task(row.spec, row.name, false);
  if (!parsed) return nullptr;
  if (cache.size() > 10000) cache.clear();
  auto t = std::make_shared<const task_spec>(std::move(*parsed));
  cache.emplace(key, t);
  return t;
}

// Builds the run to insert for a task head and a submission, checking params.
result<persistence::new_run> build_run(const persistence::task_row& row, const run_submit& s,
                                       const std::string& trigger, const std::string& field) {
  auto spec = cached_task(row);
  if (!spec) return error_info{errc::internal, "stored task '" + row.name + "' is unusable", ""};
  persistence::new_run r;
  r.task = row.name;
  r.task_version = row.version;
  r.queue = spec->queue;
  r.params = merge_params(spec->params, s.params);
  auto errors = check_param_references(*spec, r.params);
  if (!errors.empty()) {
    auto e = validation_error(errors);
    e.message = (field.empty() ? "" : field + ": ") + e.message;
    if (!field.empty()) e.field = field + ".params";
    return e;
  }
  r.trigger = trigger;
  r.max_attempts = spec->retry.max_attempts;
  r.priority = s.priority.value_or(spec->priority);
  r.concurrency_limit = spec->concurrency;
  r.idempotency_key = s.idempotency_key;
  r.available_at = s.run_at;
  return r;
}

struct context {
  server_options opt;
  server_deps deps;
  std::atomic<std::size_t> next{0};
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();

  void notify(caf::atom_value key) {
    auto a = actors::lookup(*deps.system, key);
    if (a) caf::anon_send(a, actors::wake_atom::value);
  }

  // Hands `fn` to an API executor (its own connection) and answers from there;
  // one being restarted by its supervisor is skipped.
  status_t on_db(const req_t& req, std::function<void(session&, const req_t&)> fn) {
    const auto n = static_cast<std::size_t>(deps.api_executors);
    const auto first = next++;
    for (std::size_t i = 0; i < n; ++i) {
      auto key = actors::api_executor_key(static_cast<int>((first + i) % n));
      if (auto ex = actors::lookup(*deps.system, key)) {
        caf::anon_send(ex,
                       actors::api_call{[req, fn = std::move(fn)](session& db) { fn(db, req); }});
        return restinio::request_accepted();
      }
    }
    return reject(req, {errc::unavailable, "the API executors are restarting", ""});
  }

  std::optional<status_t> deny(const req_t& req) {
    if (!deps.auth->required()) return std::nullopt;
    std::string h = req->header().get_field_or(restinio::http_field::authorization, "");
    static const std::string prefix = "bearer ";
    // The scheme name is case-insensitive (RFC 7235 section 2.1).
    bool bearer = h.size() > prefix.size();
    for (std::size_t i = 0; bearer && i < prefix.size(); ++i) {
      bearer = std::tolower(static_cast<unsigned char>(h[i])) == prefix[i];
    }
    if (bearer && deps.auth->accepts(h.substr(prefix.size()))) {
      return std::nullopt;
    }
    send_json(req, 401,
              error_body({errc::unauthorized,
                          h.empty() ? "missing bearer token" : "invalid bearer token", ""}),
              {{"WWW-Authenticate", "Bearer"}});
    return restinio::request_accepted();
  }

  std::optional<status_t> refuse_when_draining(const req_t& req) {
    if (!deps.node->draining) return std::nullopt;
    return reject(req, {errc::unavailable, "this node is shutting down", ""});
  }
};

template <class T, class F>
void answer(const req_t& req, const result<T>& r, int status, F&& to_body) {
  if (!r) return send_error(req, r.error());
  send_json(req, status, to_body(*r));
}

json page(const json& items, std::optional<std::string> next) {
  return {{"items", items}, {"next_cursor", next ? json(*next) : json()}};
}

void add_ops_routes(router_t& r, const std::shared_ptr<context>& ctx) {
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
    send_json(req, ok ? 200 : 503, body,
              ok ? std::vector<std::pair<std::string, std::string>>{}
                 : std::vector<std::pair<std::string, std::string>>{{"Retry-After", "5"}});
    return restinio::request_accepted();
  });
  r.http_get("/ready", [ctx](req_t req, params_t) {
    auto& n = *ctx->deps.node;
    auto v = judge_readiness(n.ready, n.draining, n.database_ok);
    send_json(
        req, v.ready ? 200 : 503,
        v.ready ? json{{"status", "ready"}} : json{{"status", "not_ready"}, {"reason", v.reason}});
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

void add_task_routes(router_t& r, const std::shared_ptr<context>& ctx) {
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
  r.http_get("/v1/tasks", [ctx](req_t req, params_t) {
    if (auto d = ctx->deny(req)) return *d;
    auto q = parse_query(req, {"limit", "cursor"});
    if (!q) return reject(req, q.error());
    auto limit = int_param(*q, "limit", 50, 1, 500);
    if (!limit) return reject(req, limit.error());
    std::string cursor = q->get("cursor").value_or("");
    return ctx->on_db(req, [limit = *limit, cursor](session& db, const req_t& rq) {
      auto rows = persistence::task_repo::list(db, limit + 1, cursor);
      if (!rows) return send_error(rq, rows.error());
      json items = json::array();
      std::optional<std::string> next;
      for (std::size_t i = 0; i < rows->size(); ++i) {
        if (static_cast<int>(i) == limit) {
          next = (*rows)[i - 1].name;
          break;
        }
        items.push_back(persistence::to_json((*rows)[i]));
      }
      send_json(rq, 200, page(items, next));
    });
  });
  r.http_get(R"(/v1/tasks/:name)", [ctx](req_t req, params_t p) {
    if (auto d = ctx->deny(req)) return *d;
    std::string name(p["name"]);
    return ctx->on_db(req, [name](session& db, const req_t& rq) {
      answer(rq, persistence::task_repo::get(db, name), 200,
             [](const auto& row) { return persistence::to_json(row); });
    });
  });
  r.http_delete(R"(/v1/tasks/:name)", [ctx](req_t req, params_t p) {
    if (auto d = ctx->deny(req)) return *d;
    std::string name(p["name"]);
    return ctx->on_db(req, [name, ctx](session& db, const req_t& rq) {
      auto out = persistence::task_repo::remove(db, name);
      if (!out) return send_error(rq, out.error());
      ctx->notify(actors::scheduler_key);
      send_json(rq, 204, nullptr);
    });
  });
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
      return build_run(row, s, "api", "");
    };
    call.reply = [req](result<persistence::submit_outcome> out) {
      if (!out) return send_error(req, out.error());
      send_json(req, out->created ? 201 : 200, to_json(out->run, false));
    };
    auto submitter = actors::lookup(*ctx->deps.system, actors::submitter_key);
    if (!submitter) return reject(req, {errc::unavailable, "the submitter is restarting", ""});
    caf::anon_send(submitter, std::move(call));
    return restinio::request_accepted();
  });
}

void add_run_routes(router_t& r, const std::shared_ptr<context>& ctx) {
  r.http_post("/v1/runs/batch", [ctx](req_t req, params_t) {
    if (auto d = ctx->deny(req)) return *d;
    if (auto d = ctx->refuse_when_draining(req)) return *d;
    auto body = parse_body(req, ctx->opt.max_batch_body_bytes, false);
    if (!body) return reject(req, body.error());
    for (const auto& [k, v] : body->items()) {
      if (k != "runs")
        return reject(req, {errc::validation_failed, "unknown field '" + k + "'", k});
    }
    if (!body->contains("runs") || !(*body)["runs"].is_array()) {
      return reject(req, {errc::validation_failed, "runs must be an array", "runs"});
    }
    auto& runs = (*body)["runs"];
    if (runs.empty() || runs.size() > max_batch_runs) {
      return reject(req, {errc::validation_failed, "runs must hold 1 to 10000 items", "runs"});
    }
    std::vector<std::pair<std::string, run_submit>> items;
    items.reserve(runs.size());
    for (std::size_t i = 0; i < runs.size(); ++i) {
      auto path = "runs[" + std::to_string(i) + "]";
      auto item = runs[i];
      if (!item.is_object())
        return reject(req, {errc::validation_failed, path + " must be an object", path});
      if (!item.contains("task") || !item["task"].is_string() ||
          !valid_task_name(item["task"].get<std::string>())) {
        return reject(
            req, {errc::validation_failed, path + ".task must be a task name", path + ".task"});
      }
      auto task = item["task"].get<std::string>();
      item.erase("task");
      if (item.contains("idempotency_key")) {
        return reject(
            req, {errc::validation_failed, path + ".idempotency_key is not supported in batches",
                  path + ".idempotency_key"});
      }
      auto s = parse_run_submit(item, path);
      if (!s) return reject(req, s.error());
      items.emplace_back(std::move(task), std::move(*s));
    }
    return ctx->on_db(req, [items = std::move(items), ctx](session& db, const req_t& rq) {
      std::map<std::string, persistence::task_row> heads;
      std::vector<persistence::new_run> runs;
      runs.reserve(items.size());
      for (std::size_t i = 0; i < items.size(); ++i) {
        const auto& [task, s] = items[i];
        auto it = heads.find(task);
        if (it == heads.end()) {
          auto row = persistence::task_repo::get(db, task);
          if (!row) {
            auto e = row.error();
            e.field = "runs[" + std::to_string(i) + "].task";
            return send_error(rq, e);
          }
          it = heads.emplace(task, std::move(*row)).first;
        }
        auto run = build_run(it->second, s, "api", "runs[" + std::to_string(i) + "]");
        if (!run) return send_error(rq, run.error());
        runs.push_back(std::move(*run));
      }
      auto out = persistence::run_repo::submit_batch(db, runs);
      if (!out) return send_error(rq, out.error());
      ctx->notify(actors::dispatcher_key);
      json arr = json::array();
      for (const auto& run : *out) arr.push_back(to_json(run, false));
      send_json(rq, 201, json{{"items", std::move(arr)}});
    });
  });
  r.http_get("/v1/runs", [ctx](req_t req, params_t) {
    if (auto d = ctx->deny(req)) return *d;
    auto q = parse_query(req, {"task", "status", "limit", "cursor"});
    if (!q) return reject(req, q.error());
    persistence::run_filter f;
    auto limit = int_param(*q, "limit", 50, 1, 500);
    if (!limit) return reject(req, limit.error());
    f.limit = *limit + 1;
    if (auto t = q->get("task")) f.task = *t;
    if (auto s = q->get("status")) {
      if (!parse_run_status(*s)) {
        return reject(
            req, {errc::validation_failed,
                  "status must be one of pending running succeeded failed cancelled", "status"});
      }
      f.status = *s;
    }
    if (auto c = q->get("cursor")) {
      auto id = parse_id(*c);
      if (!id) return reject(req, {errc::validation_failed, "invalid cursor", "cursor"});
      f.before_id = *id;
    }
    return ctx->on_db(req, [f, limit = *limit](session& db, const req_t& rq) {
      auto rows = persistence::run_repo::list(db, f);
      if (!rows) return send_error(rq, rows.error());
      json items = json::array();
      std::optional<std::string> next;
      for (std::size_t i = 0; i < rows->size(); ++i) {
        if (static_cast<int>(i) == limit) {
          next = std::to_string((*rows)[i - 1].id);
          break;
        }
        items.push_back(to_json((*rows)[i], false));
      }
      send_json(rq, 200, page(items, next));
    });
  });
  r.http_get(R"(/v1/runs/:id)", [ctx](req_t req, params_t p) {
    if (auto d = ctx->deny(req)) return *d;
    auto id = parse_id(p["id"]);
    if (!id) return reject(req, {errc::not_found, "run not found", ""});
    return ctx->on_db(req, [id = *id](session& db, const req_t& rq) {
      answer(rq, persistence::run_repo::get(db, id, true), 200,
             [](const auto& run) { return to_json(run, true); });
    });
  });
  r.http_get(R"(/v1/runs/:id/logs)", [ctx](req_t req, params_t p) {
    if (auto d = ctx->deny(req)) return *d;
    auto id = parse_id(p["id"]);
    if (!id) return reject(req, {errc::not_found, "run not found", ""});
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
  r.http_post(R"(/v1/runs/:id/cancel)", [ctx](req_t req, params_t p) {
    if (auto d = ctx->deny(req)) return *d;
    auto id = parse_id(p["id"]);
    if (!id) return reject(req, {errc::not_found, "run not found", ""});
    return ctx->on_db(req, [id = *id, ctx](session& db, const req_t& rq) {
      auto out = persistence::run_repo::cancel(db, id);
      if (!out) return send_error(rq, out.error());
      if (out->was_running) {
        if (auto pool = actors::lookup(*ctx->deps.system, actors::pool_key)) {
          caf::anon_send(pool, actors::cancel_atom::value, id);
        }
      }
      send_json(rq, 202, to_json(out->run, false));
    });
  });
  r.http_post(R"(/v1/runs/:id/retry)", [ctx](req_t req, params_t p) {
    if (auto d = ctx->deny(req)) return *d;
    if (auto d = ctx->refuse_when_draining(req)) return *d;
    auto id = parse_id(p["id"]);
    if (!id) return reject(req, {errc::not_found, "run not found", ""});
    return ctx->on_db(req, [id = *id, ctx](session& db, const req_t& rq) {
      auto out = persistence::run_repo::retry(db, id);
      if (!out) return send_error(rq, out.error());
      ctx->notify(actors::dispatcher_key);
      send_json(rq, 201, to_json(*out, false));
    });
  });
}

void add_schedule_routes(router_t& r, const std::shared_ptr<context>& ctx) {
  auto write = [ctx](bool put) {
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
  };
  r.http_post("/v1/schedules", write(false));
  r.http_put(R"(/v1/schedules/:id)", write(true));
  r.http_get("/v1/schedules", [ctx](req_t req, params_t) {
    if (auto d = ctx->deny(req)) return *d;
    auto q = parse_query(req, {"limit", "cursor"});
    if (!q) return reject(req, q.error());
    auto limit = int_param(*q, "limit", 50, 1, 500);
    if (!limit) return reject(req, limit.error());
    std::string cursor = q->get("cursor").value_or("");
    return ctx->on_db(req, [limit = *limit, cursor](session& db, const req_t& rq) {
      auto rows = persistence::schedule_repo::list(db, limit + 1, cursor);
      if (!rows) return send_error(rq, rows.error());
      json items = json::array();
      std::optional<std::string> next;
      for (std::size_t i = 0; i < rows->size(); ++i) {
        if (static_cast<int>(i) == limit) {
          next = (*rows)[i - 1].spec.id;
          break;
        }
        items.push_back(persistence::to_json((*rows)[i]));
      }
      send_json(rq, 200, page(items, next));
    });
  });
  r.http_get(R"(/v1/schedules/:id)", [ctx](req_t req, params_t p) {
    if (auto d = ctx->deny(req)) return *d;
    std::string id(p["id"]);
    return ctx->on_db(req, [id](session& db, const req_t& rq) {
      answer(rq, persistence::schedule_repo::get(db, id), 200,
             [](const auto& row) { return persistence::to_json(row); });
    });
  });
  r.http_delete(R"(/v1/schedules/:id)", [ctx](req_t req, params_t p) {
    if (auto d = ctx->deny(req)) return *d;
    std::string id(p["id"]);
    return ctx->on_db(req, [id, ctx](session& db, const req_t& rq) {
      auto out = persistence::schedule_repo::remove(db, id);
      if (!out) return send_error(rq, out.error());
      ctx->notify(actors::scheduler_key);
      send_json(rq, 204, nullptr);
    });
  });
  auto toggle = [ctx](bool enable) {
    return [ctx, enable](req_t req, params_t p) {
      if (auto d = ctx->deny(req)) return *d;
      std::string id(p["id"]);
      return ctx->on_db(req, [id, enable, ctx](session& db, const req_t& rq) {
        auto out = persistence::schedule_repo::set_enabled(db, id, enable, now_ms());
        if (!out) return send_error(rq, out.error());
        ctx->notify(actors::scheduler_key);
        send_json(rq, 200, persistence::to_json(*out));
      });
    };
  };
  r.http_post(R"(/v1/schedules/:id/pause)", toggle(false));
  r.http_post(R"(/v1/schedules/:id/resume)", toggle(true));
  r.http_post(R"(/v1/schedules/:id/trigger)", [ctx](req_t req, params_t p) {
    if (auto d = ctx->deny(req)) return *d;
    if (auto d = ctx->refuse_when_draining(req)) return *d;
    std::string id(p["id"]);
    return ctx->on_db(req, [id, ctx](session& db, const req_t& rq) {
      auto run_id = persistence::schedule_repo::trigger(db, id);
      if (!run_id) return send_error(rq, run_id.error());
      ctx->notify(actors::dispatcher_key);
      answer(rq, persistence::run_repo::get(db, *run_id, false), 201,
             [](const auto& run) { return to_json(run, false); });
    });
  });
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
      auto cron = cron_expr::parse(row->spec.cron);
      const auto* zone = find_zone(row->spec.timezone);
      json items = json::array();
      if (cron && zone != nullptr) {
        auto t = std::chrono::floor<std::chrono::seconds>(now_ms());
        for (int i = 0; i < count; ++i) {
          auto next = cron->next_after(t, zone);
          if (!next) break;
          items.push_back(format_rfc3339(std::chrono::time_point_cast<millis>(*next)));
          t = *next;
        }
      }
      send_json(rq, 200, json{{"items", items}, {"timezone", row->spec.timezone}});
    });
  });
}

void add_cluster_routes(router_t& r, const std::shared_ptr<context>& ctx) {
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
  if (ctx->opt.fault_injection) {
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
  }
}

// Whether every '%' of a request path starts a two-digit hex escape. RESTinio's
// router throws on a malformed one, which would close the connection unanswered.
bool valid_percent_encoding(std::string_view path) {
  auto hex = [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; };
  for (std::size_t i = 0; i < path.size(); ++i) {
    if (path[i] != '%') continue;
    if (i + 2 >= path.size() || !hex(path[i + 1]) || !hex(path[i + 2])) return false;
    i += 2;
  }
  return true;
}

// Known paths, to answer 405 rather than 404 for a wrong method.
bool known_path(const std::string& path) {
  static const std::vector<std::regex> patterns = {
      std::regex(R"(^/(health|ready|metrics|openapi\.json)$)"),
      std::regex(R"(^/v1/(tasks|runs|schedules|nodes|queue|runs/batch)$)"),
      std::regex(R"(^/v1/tasks/[^/]+(/runs)?$)"),
      std::regex(R"(^/v1/runs/[^/]+(/logs|/cancel|/retry)?$)"),
      std::regex(R"(^/v1/schedules/[^/]+(/pause|/resume|/trigger|/preview)?$)")};
  for (const auto& re : patterns)
    if (std::regex_match(path, re)) return true;
  return false;
}

}  // namespace

struct server::impl {
  std::shared_ptr<context> ctx = std::make_shared<context>();
  using running_t = restinio::running_server_handle_t<traits_t>;
  running_t running;
  std::atomic<int> port{0};
};

server::server(server_options opts, server_deps deps) : impl_(std::make_unique<impl>()) {
  impl_->ctx->opt = std::move(opts);
  impl_->ctx->deps = std::move(deps);
}

server::~server() {
  stop();
}

void server::start() {
  auto ctx = impl_->ctx;
  auto router = std::make_unique<router_t>();
  add_ops_routes(*router, ctx);
  add_task_routes(*router, ctx);
  add_run_routes(*router, ctx);
  add_schedule_routes(*router, ctx);
  add_cluster_routes(*router, ctx);
  router->non_matched_request_handler([](req_t req) {
    std::string path(req->header().path());
    if (known_path(path)) {
      send_error(req, {errc::method_not_allowed,
                       "method " + std::string(req->header().method().c_str()) +
                           " is not allowed on " + path,
                       ""});
    } else {
      send_error(req, {errc::not_found, "no route " + path, ""});
    }
    return restinio::request_accepted();
  });
  restinio::incoming_http_msg_limits_t limits;
  // Bodies up to the batch limit are read so the handlers can answer 413 with a
  // JSON error; beyond it RESTinio closes the connection.
  limits.max_body_size(std::max(ctx->opt.max_batch_body_bytes, ctx->opt.max_body_bytes) + 1);
  limits.max_url_size(8192);
  limits.max_field_name_size(1024);
  limits.max_field_value_size(16384);
  limits.max_field_count(100);
  auto* port = &impl_->port;
  std::shared_ptr<const router_t> routes = std::move(router);
  auto handler = [routes](req_t req) -> status_t {
    if (!valid_percent_encoding(req->header().path())) {
      return reject(req, {errc::bad_request, "malformed percent-encoding in the request path", ""});
    }
    try {
      return (*routes)(req);
    } catch (const std::exception& e) {
      // Whatever escapes a handler still gets the JSON error shape, not a closed connection.
      try {
        send_error(req,
                   {errc::internal, std::string("cannot handle the request: ") + e.what(), ""});
      } catch (const std::exception&) {
      }
      return restinio::request_accepted();
    }
  };
  auto settings = restinio::server_settings_t<traits_t>{}
                      .port(static_cast<std::uint16_t>(ctx->opt.port))
                      .address(ctx->opt.host)
                      .request_handler(std::move(handler))
                      .incoming_http_msg_limits(limits)
                      .read_next_http_message_timelimit(std::chrono::seconds(60))
                      .handle_request_timeout(std::chrono::seconds(60))
                      .acceptor_post_bind_hook([port](restinio::asio_ns::ip::tcp::acceptor& a) {
                        *port = a.local_endpoint().port();
                      });
  impl_->running = restinio::run_async(restinio::own_io_context(), std::move(settings),
                                       static_cast<std::size_t>(ctx->opt.threads));
}

void server::stop() {
  if (impl_ && impl_->running) {
    impl_->running->stop();
    impl_->running->wait();
    impl_->running.reset();
  }
}

int server::port() const {
  return impl_->port.load();
}

}  // namespace orch::http
