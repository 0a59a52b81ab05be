#pragma once
/// \file request_parsing.hpp Private to http/: reading a request's JSON body,
/// query string, integer parameters and ids, with the errors to answer.

#include <initializer_list>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "domain/result.hpp"
#include "http/request_handle.hpp"

namespace orch::http {

/// A request's JSON body: at most `limit` bytes, Content-Type application/json,
/// well-formed, nested at most 64 levels, an object. An empty body is `{}` when
/// `allow_empty` is set.
result<nlohmann::json> parse_body(const req_t& req, std::size_t limit, bool allow_empty);

/// The parameters of a query string.
struct query {
  std::map<std::string, std::string> values;
  /// The value of `k`, when given.
  std::optional<std::string> get(const std::string& k) const;
};

/// The query string of `req`; a parameter outside `allowed` is a validation error.
result<query> parse_query(const req_t& req, std::initializer_list<const char*> allowed);

/// Query parameter `name` as an integer from `lo` to `hi`; `def` when absent.
result<int> int_param(const query& q, const char* name, int def, int lo, int hi);

/// A positive decimal id (of a run, or a cursor); nullopt when `s` is not one.
std::optional<long long> parse_id(std::string_view s);

}  // namespace orch::http
