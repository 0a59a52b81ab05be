#pragma once
/// \file stores.hpp What the dispatcher and the recorder need of the database,
/// behind interfaces: the engine uses the PostgreSQL repositories, the actor
/// tests replace them with stores of their own.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "domain/result.hpp"
#include "domain/time.hpp"
#include "persistence/log_repo.hpp"
#include "persistence/node_repo.hpp"
#include "persistence/run_repo.hpp"

namespace orch::actors {

/// The dispatcher's queries: claims, the task definitions claimed runs need,
/// and the maintenance of leases, nodes and old runs.
class dispatch_store {
 public:
  virtual ~dispatch_store() = default;
  /// Leases up to `req.limit` due runs to `req.owner`.
  virtual result<std::vector<persistence::claimed_run>> claim(
      const persistence::claim_request& req) = 0;
  /// The canonical JSON of a task version; errc::not_found when there is none.
  virtual result<std::string> task_definition(const std::string& task, int version) = 0;
  /// Runs whose lease expired go back to pending (or fail past the cap); how many.
  virtual result<long long> requeue_expired(int limit, int max_lost_leases) = 0;
  /// Declares the nodes down whose heartbeat is older than `down_after`.
  virtual result<std::vector<persistence::dead_node>> expire_nodes(const std::string& self,
                                                                   millis down_after) = 0;
  /// Releases the leases of every owner starting with `prefix`; how many.
  virtual result<long long> release_owner_prefix(const std::string& prefix,
                                                 int max_lost_leases) = 0;
  /// Pending and running runs, for the queue gauges.
  virtual result<persistence::queue_counts> counts() = 0;
  /// Deletes finished runs older than `retention`, at most `limit`; how many.
  virtual result<long long> prune(millis retention, int limit) = 0;
  /// Forgets nodes not seen for `age`; how many.
  virtual result<long long> forget_nodes(millis age) = 0;
};

/// The recorder's writes: log lines, finished attempts, lease renewals, and
/// the release of runs held by a dead incarnation of this node.
class record_store {
 public:
  virtual ~record_store() = default;
  virtual status append_logs(const std::vector<persistence::new_log_line>& lines) = 0;
  /// Records finished attempts; the ids whose lease fence held.
  virtual result<std::vector<long long>> complete(
      const std::vector<persistence::completion>& done) = 0;
  /// Releases the runs of `node` leased to owners other than `owner`; how many.
  virtual result<long long> release_dead_incarnations(const std::string& node,
                                                      const std::string& owner,
                                                      int max_lost_leases) = 0;
  virtual result<persistence::run_repo::renew_outcome> renew(const std::string& owner,
                                                             const std::vector<long long>& ids,
                                                             millis lease) = 0;
};

/// Opens a store; called on the actor's own thread when it starts (a store
/// holds a connection, and a restarted actor opens a new one).
template <class Store>
using store_opener = std::function<std::unique_ptr<Store>()>;

/// The dispatcher's store on PostgreSQL at `database_url`.
store_opener<dispatch_store> postgres_dispatch_store(std::string database_url);

/// The recorder's store on PostgreSQL at `database_url`.
store_opener<record_store> postgres_record_store(std::string database_url);

}  // namespace orch::actors
