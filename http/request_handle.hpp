#pragma once
/// \file request_handle.hpp Private to http/: the one header that includes
/// RESTinio, with the request, router and handler types every route file uses.

#include <restinio/all.hpp>
#include <string>

namespace orch::http {

/// What the server keeps with each request besides RESTinio's own data.
struct request_data {
  std::string request_id;  ///< sent back as X-Request-Id, and named in logs
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

}  // namespace orch::http
