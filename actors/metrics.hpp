#pragma once
/// \file metrics.hpp The node's Prometheus metrics (names from DESIGN.md section 6).

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "domain/result.hpp"

namespace orch::actors {

/// Observes, when it ends, how long a message handler ran.
class handling_timer {
 public:
  /// Starts timing; the time goes to `h`.
  explicit handling_timer(prometheus::Histogram& h) : h_(h) {}
  handling_timer(const handling_timer&) = delete;
  handling_timer& operator=(const handling_timer&) = delete;
  ~handling_timer() {
    h_.Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
  }

 private:
  prometheus::Histogram& h_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

/// The metrics of one actor's handler of one message:
/// orchestrator_actor_messages_total{actor} and
/// orchestrator_actor_processing_seconds{actor,message}.
struct handler_metrics {
  prometheus::Counter& handled;    ///< orchestrator_actor_messages_total{actor}
  prometheus::Histogram& seconds;  ///< orchestrator_actor_processing_seconds{actor,message}
  /// Counts the message; the guard observes the handling time when it ends.
  [[nodiscard]] handling_timer time() const {
    handled.Increment();
    return handling_timer(seconds);
  }
};

/// Every metric of a node. Thread-safe: prometheus-cpp metrics are atomic.
struct metrics {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();

  prometheus::Family<prometheus::Counter>& tasks_total;
  prometheus::Histogram& task_duration;
  prometheus::Family<prometheus::Counter>& steps_total;
  prometheus::Gauge& queue_depth;
  prometheus::Gauge& queue_running;
  prometheus::Histogram& scheduler_drift;
  prometheus::Counter& schedule_triggers;
  prometheus::Counter& missed_schedules;
  prometheus::Counter& overlap_skips;
  prometheus::Gauge& worker_active_jobs;
  prometheus::Gauge& worker_capacity;
  prometheus::Histogram& worker_job_duration;
  prometheus::Family<prometheus::Counter>& worker_errors;
  prometheus::Family<prometheus::Counter>& actor_restarts;
  prometheus::Family<prometheus::Gauge>& actor_mailbox;
  prometheus::Family<prometheus::Counter>& actor_messages;
  prometheus::Family<prometheus::Histogram>& actor_processing;
  prometheus::Counter& stale_completions;
  prometheus::Counter& leases_requeued;
  prometheus::Counter& runs_pruned;
  prometheus::Family<prometheus::Counter>& http_requests;
  prometheus::Family<prometheus::Histogram>& http_duration;
  prometheus::Counter& db_errors;
  prometheus::Gauge& cluster_peers;
  prometheus::Counter& cluster_rejected;
  prometheus::Counter& peers_down;
  prometheus::Counter& peers_cut_off;
  prometheus::Family<prometheus::Gauge>& node_info;
  prometheus::Family<prometheus::Gauge>& build_info;
  prometheus::Gauge& scheduler_leader;

  metrics();

  /// orchestrator_http_request_duration_seconds{route, status_class}; `route`
  /// is the route's template ("/v1/runs/:id"), "none" when the request was
  /// answered before routing (no such path, a refused body).
  prometheus::Histogram& http_request_duration(const std::string& route, int status);

  /// orchestrator_tasks_total{status}.
  prometheus::Counter& tasks(const std::string& status) {
    return tasks_total.Add({{"status", status}});
  }
  /// The metrics of `actor`'s handler of `message` (keep it in a static: the
  /// lookup hashes and locks).
  handler_metrics handler(const std::string& actor, const std::string& message);
  /// orchestrator_actor_mailbox_size{actor}.
  prometheus::Gauge& mailbox(const std::string& actor) {
    return actor_mailbox.Add({{"actor", actor}});
  }
};

/// The process-wide metrics.
metrics& global_metrics();

/// Counts a failed database operation (orchestrator_db_errors_total) and logs
/// it, at most once per 10 s per `key`. Every database error an actor does not
/// answer with goes through here.
void report_db_error(std::string_view key, std::string_view logger, const error_info& e);

/// Whether `r` holds a value; reports its error (see report_db_error) when not.
template <class T>
bool db_ok(const result<T>& r, std::string_view key, std::string_view logger) {
  if (!r) report_db_error(key, logger, r.error());
  return r.ok();
}

}  // namespace orch::actors
