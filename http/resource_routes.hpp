#pragma once
/// \file resource_routes.hpp Private to http/: handlers of the routes on one
/// resource named in the path ("/v1/tasks/{name}", "/v1/runs/{id}/cancel"),
/// built from what differs between them.

#include <memory>
#include <string>
#include <string_view>

#include "actors/messages.hpp"
#include "domain/result.hpp"
#include "http/request_handle.hpp"
#include "http/responses.hpp"
#include "http/route_context.hpp"

namespace orch::http {

/// Whether a route takes new work while its node drains.
enum class drain_policy { serve, refuse };

/// The handler of a route on the one resource that path parameter `key` names:
/// the bearer check, the drain check, `parse(value)` (its error is the answer),
/// then `fn(db, rq, parsed)` on an API executor.
template <class Parse, class F>
auto resource_route(std::shared_ptr<route_context> ctx, const char* key, drain_policy drain,
                    Parse parse, F fn) {
  return [ctx = std::move(ctx), key, drain, parse, fn](req_t req, params_t p) -> status_t {
    if (auto d = ctx->deny(req)) return *d;
    if (drain == drain_policy::refuse) {
      if (auto d = ctx->refuse_when_draining(req)) return *d;
    }
    auto value = parse(p[key]);
    if (!value) return reject(req, value.error());
    return ctx->on_db(req, [fn, v = std::move(*value)](persistence::session& db, const req_t& rq) {
      fn(db, rq, v);
    });
  };
}

/// resource_route for resources named by any string (tasks, schedules).
template <class F>
auto named_route(std::shared_ptr<route_context> ctx, const char* key, drain_policy drain, F fn) {
  auto as_string = [](std::string_view s) { return result<std::string>(std::string(s)); };
  return resource_route(std::move(ctx), key, drain, as_string, std::move(fn));
}

/// GET of one resource: 200 with the JSON of what `get(db, key)` finds, or its error.
template <class Get>
auto read_route(std::shared_ptr<route_context> ctx, const char* key, Get get) {
  return named_route(std::move(ctx), key, drain_policy::serve,
                     [get](persistence::session& db, const req_t& rq, const std::string& k) {
                       answer(rq, get(db, k), 200, [](const auto& row) { return to_json(row); });
                     });
}

/// DELETE of a resource schedules depend on: `remove(db, key)`, then the
/// scheduler is woken to drop what it holds of it; 204.
template <class Remove>
auto remove_route(std::shared_ptr<route_context> ctx, const char* key, Remove remove) {
  return named_route(
      ctx, key, drain_policy::serve,
      [ctx, remove](persistence::session& db, const req_t& rq, const std::string& k) {
        auto out = remove(db, k);
        if (!out) return send_error(rq, out.error());
        ctx->notify(actors::scheduler_key);
        send_json(rq, 204, nullptr);
      });
}

}  // namespace orch::http
