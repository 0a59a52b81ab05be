#include "http/pagination.hpp"

namespace orch::http {

result<page_request> parse_page(const query& q) {
  page_request page;
  auto limit = int_param(q, "limit", 50, 1, 500);
  if (!limit) return limit.error();
  page.limit = *limit;
  page.cursor = q.get("cursor");
  return page;
}

}  // namespace orch::http
