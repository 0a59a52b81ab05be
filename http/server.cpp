#include "http/server.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <regex>

#include "http/request_handle.hpp"
#include "http/request_id.hpp"
#include "http/responses.hpp"
#include "http/routes.hpp"

namespace orch::http {
namespace {

// Each request carries its request_data. The router is wrapped in a handler of
// our own (see server::start), so the default std::function request handler is used.
struct traits_t : public restinio::default_traits_t {
  using extra_data_factory_t = request_data_factory;
};

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
      std::regex(R"(^/(health|ready|live|metrics|openapi\.json)$)"),
      std::regex(R"(^/v1/(tasks|runs|schedules|nodes|queue|runs/batch)$)"),
      std::regex(R"(^/v1/tasks/[^/]+(/runs)?$)"),
      std::regex(R"(^/v1/runs/[^/]+(/logs|/cancel|/retry)?$)"),
      std::regex(R"(^/v1/schedules/[^/]+(/pause|/resume|/trigger|/preview)?$)")};
  for (const auto& re : patterns)
    if (std::regex_match(path, re)) return true;
  return false;
}

status_t not_matched(const req_t& req, const server_options& opt) {
  std::string path(req->header().path());
  if (!opt.serve_api && path.rfind("/v1/", 0) == 0) {
    std::string roles;
    for (const auto& r : opt.roles) roles += (roles.empty() ? "" : ",") + r;
    return reject(req, {errc::not_found,
                        "this node does not serve the API (roles: " + roles +
                            "); only /health, /ready, /live and /metrics",
                        ""});
  }
  if (known_path(path)) {
    return reject(req, {errc::method_not_allowed,
                        "method " + std::string(req->header().method().c_str()) +
                            " is not allowed on " + path,
                        ""});
  }
  return reject(req, {errc::not_found, "no route " + path, ""});
}

std::unique_ptr<router_t> make_router(const std::shared_ptr<route_context>& ctx) {
  route_table routes;
  // Every node can be health-checked and scraped; the API only where it has the role.
  add_operations_routes(routes, ctx);
  if (ctx->opt.serve_api) {
    add_task_routes(routes, ctx);
    add_run_routes(routes, ctx);
    add_schedule_routes(routes, ctx);
    add_cluster_routes(routes, ctx);
    if (ctx->opt.fault_injection) add_debug_routes(routes, ctx);
  }
  routes.router().non_matched_request_handler(
      [ctx](const req_t& req) { return not_matched(req, ctx->opt); });
  return std::make_unique<router_t>(std::move(routes.router()));
}

restinio::incoming_http_msg_limits_t message_limits(const server_options& opt) {
  restinio::incoming_http_msg_limits_t limits;
  // Bodies up to the batch limit are read so the handlers can answer 413 with a
  // JSON error; beyond it RESTinio closes the connection.
  limits.max_body_size(std::max(opt.max_batch_body_bytes, opt.max_body_bytes) + 1);
  limits.max_url_size(8192);
  limits.max_field_name_size(1024);
  limits.max_field_value_size(16384);
  limits.max_field_count(100);
  return limits;
}

}  // namespace

struct server::impl {
  std::shared_ptr<route_context> ctx = std::make_shared<route_context>();
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
  std::shared_ptr<const router_t> routes = make_router(ctx);
  auto handler = [routes](req_t req) -> status_t {
    req->extra_data().request_id =
        request_id_for(req->header().get_field_or(std::string("X-Request-Id"), ""));
    if (!valid_percent_encoding(req->header().path())) {
      return reject(req, {errc::bad_request, "malformed percent-encoding in the request path", ""});
    }
    try {
      return (*routes)(req);
    } catch (const std::exception& e) {
      // Whatever escapes a handler still gets the JSON error shape, not a closed connection.
      try {
        send_internal_error(req, "request handler", e.what());
      } catch (const std::exception&) {
      }
      return restinio::request_accepted();
    }
  };
  auto* port = &impl_->port;
  auto settings = restinio::server_settings_t<traits_t>{}
                      .port(static_cast<std::uint16_t>(ctx->opt.port))
                      .address(ctx->opt.host)
                      .request_handler(std::move(handler))
                      .incoming_http_msg_limits(message_limits(ctx->opt))
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
