#include "http/run_from_task.hpp"

#include <map>
#include <memory>
#include <utility>

#include "domain/build_run.hpp"

namespace orch::http {
namespace {

// Task definitions by (name, version), per thread: versions never change.
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

}  // namespace

result<new_run> run_from_task(const persistence::task_row& row, const run_submit& submission,
                              const std::string& field) {
  auto spec = cached_task(row);
  if (!spec) return error_info{errc::internal, "stored task '" + row.name + "' is unusable", ""};
  return build_run(row.name, row.version, *spec, submission, "api", field);
}

}  // namespace orch::http
