#pragma once
/// \file pagination.hpp Private to http/: cursor pagination of the list routes
/// (?limit=&cursor=, answered as {"items": [...], "next_cursor": ...}).

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "domain/result.hpp"
#include "http/request_parsing.hpp"
#include "http/responses.hpp"
#include "http/route_context.hpp"

namespace orch::http {

/// The page a list route is asked for.
struct page_request {
  int limit = 50;                     ///< 1 to 500
  std::optional<std::string> cursor;  ///< where the previous page ended
  /// How many rows to fetch: one more than the page, to tell whether a next page exists.
  int fetch() const { return limit + 1; }
};

/// Reads ?limit= (1 to 500, default 50) and ?cursor= from `q`.
result<page_request> parse_page(const query& q);

/// {"items", "next_cursor"} from `rows` fetched with `page.fetch()`: the first
/// `page.limit` rows as `to_json` gives them, and when there are more, the
/// cursor (`cursor_of`) of the last row shown; else a null cursor.
template <class Row, class CursorOf, class ToJson>
nlohmann::json make_page(const std::vector<Row>& rows, const page_request& page,
                         CursorOf&& cursor_of, ToJson&& to_json) {
  auto items = nlohmann::json::array();
  nlohmann::json next;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (static_cast<int>(i) == page.limit) {
      next = cursor_of(rows[i - 1]);
      break;
    }
    items.push_back(to_json(rows[i]));
  }
  return {{"items", std::move(items)}, {"next_cursor", std::move(next)}};
}

/// Answers a list route: 200 with make_page of `rows`, or their error.
template <class Row, class CursorOf, class ToJson>
void answer_page(const req_t& req, const result<std::vector<Row>>& rows, const page_request& page,
                 CursorOf&& cursor_of, ToJson&& to_json) {
  if (!rows) return send_error(req, rows.error());
  send_json(req, 200, make_page(*rows, page, cursor_of, to_json));
}

/// The handler of a list route that takes only ?limit= and ?cursor=: after the
/// bearer check, `list(db, page)` reads the rows on an API executor, and
/// answer_page answers with them.
template <class List, class CursorOf, class ToJson>
auto paged_list_route(std::shared_ptr<route_context> ctx, List list, CursorOf cursor_of,
                      ToJson to_json) {
  return [ctx = std::move(ctx), list, cursor_of, to_json](req_t req, params_t) -> status_t {
    if (auto d = ctx->deny(req)) return *d;
    auto q = parse_query(req, {"limit", "cursor"});
    if (!q) return reject(req, q.error());
    auto page = parse_page(*q);
    if (!page) return reject(req, page.error());
    return ctx->on_db(req, [=, page = *page](persistence::session& db, const req_t& rq) {
      answer_page(rq, list(db, page), page, cursor_of, to_json);
    });
  };
}

}  // namespace orch::http
