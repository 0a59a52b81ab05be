#include "actors/stores.hpp"
#include "persistence/db.hpp"
#include "persistence/task_repo.hpp"

namespace orch::actors {
namespace {

class postgres_dispatch : public dispatch_store {
 public:
  explicit postgres_dispatch(const std::string& url) : db_(url) {}

  result<std::vector<persistence::claimed_run>> claim(
      const persistence::claim_request& req) override {
    return persistence::run_repo::claim(db_, req);
  }
  result<std::string> task_definition(const std::string& task, int version) override {
    auto row = persistence::task_repo::get_version(db_, task, version);
    if (!row) return row.error();
    return row->spec.dump();
  }
  result<long long> requeue_expired(int limit, int max_lost_leases) override {
    return persistence::run_repo::requeue_expired(db_, limit, max_lost_leases);
  }
  result<std::vector<persistence::dead_node>> expire_nodes(const std::string& self,
                                                           millis down_after) override {
    return persistence::node_repo::expire(db_, self, down_after);
  }
  result<long long> release_owner_prefix(const std::string& prefix, int max_lost_leases) override {
    return persistence::run_repo::release_owner_prefix(db_, prefix, max_lost_leases);
  }
  result<persistence::queue_counts> counts() override { return persistence::run_repo::counts(db_); }
  result<long long> prune(millis retention, int limit) override {
    return persistence::run_repo::prune(db_, retention, limit);
  }
  result<long long> forget_nodes(millis age) override {
    return persistence::node_repo::forget(db_, age);
  }

 private:
  persistence::session db_;
};

class postgres_record : public record_store {
 public:
  explicit postgres_record(const std::string& url) : db_(url) {}

  status append_logs(const std::vector<persistence::new_log_line>& lines) override {
    return persistence::log_repo::append(db_, lines);
  }
  result<std::vector<long long>> complete(
      const std::vector<persistence::completion>& done) override {
    return persistence::run_repo::complete(db_, done);
  }
  result<long long> release_dead_incarnations(const std::string& node, const std::string& owner,
                                              int max_lost_leases) override {
    return persistence::run_repo::release_dead_incarnations(db_, node, owner, max_lost_leases);
  }
  result<persistence::run_repo::renew_outcome> renew(const std::string& owner,
                                                     const std::vector<long long>& ids,
                                                     millis lease) override {
    return persistence::run_repo::renew(db_, owner, ids, lease);
  }

 private:
  persistence::session db_;
};

}  // namespace

store_opener<dispatch_store> postgres_dispatch_store(std::string database_url) {
  return [url = std::move(database_url)] { return std::make_unique<postgres_dispatch>(url); };
}

store_opener<record_store> postgres_record_store(std::string database_url) {
  return [url = std::move(database_url)] { return std::make_unique<postgres_record>(url); };
}

}  // namespace orch::actors
