#pragma once
/// \file request_handle.hpp Private to http/: the one header that includes
/// RESTinio, with the request, router and handler types every route file uses.

#include <chrono>
#include <restinio/all.hpp>
#include <string>
#include <utility>

namespace orch::http {

/// What the server keeps with each request besides RESTinio's own data.
struct request_data {
  std::string request_id;  ///< sent back as X-Request-Id, and named in logs
  std::string route;       ///< the matched route's template; empty before routing
  /// When the request was read in full (RESTinio makes the data then).
  std::chrono::steady_clock::time_point arrived = std::chrono::steady_clock::now();
};

/// Makes the (empty) request_data of each request; the server fills it in.
using request_data_factory = restinio::simple_extra_data_factory_t<request_data>;

/// A request being handled.
using req_t = restinio::generic_request_handle_t<request_data>;
/// The router of every route.
using router_t = restinio::router::generic_express_router_t<restinio::router::std_regex_engine_t,
                                                            request_data_factory>;
/// What a handler returns: accepted, once it answers or will answer.
using status_t = restinio::request_handling_status_t;
/// The parameters of a route's path.
using params_t = restinio::router::route_params_t;

/// The router as the route files fill it: each handler first writes its
/// route's template into the request's data, so responses are measured by
/// route (orchestrator_http_request_duration_seconds) without an unbounded
/// label such as the path.
class route_table {
 public:
  /// Adds `h` for GET on `path` (RESTinio's express syntax, `:id` and all).
  template <class Handler>
  void http_get(std::string path, Handler h) {
    add(restinio::http_method_get(), std::move(path), std::move(h));
  }
  /// Adds `h` for POST on `path`.
  template <class Handler>
  void http_post(std::string path, Handler h) {
    add(restinio::http_method_post(), std::move(path), std::move(h));
  }
  /// Adds `h` for PUT on `path`.
  template <class Handler>
  void http_put(std::string path, Handler h) {
    add(restinio::http_method_put(), std::move(path), std::move(h));
  }
  /// Adds `h` for DELETE on `path`.
  template <class Handler>
  void http_delete(std::string path, Handler h) {
    add(restinio::http_method_delete(), std::move(path), std::move(h));
  }
  /// The router itself, for what is not a route (the non-matched handler).
  router_t& router() { return router_; }

 private:
  template <class Handler>
  void add(restinio::http_method_id_t method, std::string path, Handler h) {
    auto wrapped = [route = path, h = std::move(h)](req_t req, params_t p) {
      req->extra_data().route = route;
      return h(std::move(req), std::move(p));
    };
    router_.add_handler(method, path, std::move(wrapped));
  }

  router_t router_;
};

}  // namespace orch::http
