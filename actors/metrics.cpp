#include "actors/metrics.hpp"

#include <utility>

#include "actors/log.hpp"

namespace orch::actors {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

prometheus::Histogram::BucketBoundaries latency_buckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300};
}

// An API request takes milliseconds; a few seconds is already a failure.
prometheus::Histogram::BucketBoundaries request_buckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

// Label values known in advance are exported at 0 from the start, so rate()
// and absence-based alerts see a fresh node; the rest appear when first used.
constexpr const char* finished_statuses[] = {"succeeded", "failed", "cancelled", "retrying"};
constexpr const char* step_statuses[] = {"succeeded", "failed", "cancelled"};
constexpr const char* error_codes[] = {"exit_status", "timeout",        "spawn_failed",
                                       "http_error",  "http_status",    "response_too_large",
                                       "cancelled",   "worker_crashed", "invalid_task"};
// Children of the supervision trees (runtime/supervision_tree.cpp), and the
// workers their pools replace.
constexpr const char* restarting_actors[] = {"api_executor", "cluster",     "dispatcher",
                                             "health_probe", "recorder",    "scheduler",
                                             "submitter",    "worker_pool", "worker"};
// The handlers that count and time the messages they handle: actor, message.
constexpr std::pair<const char*, const char*> timed_handlers[] = {
    {"api", "api_call"},
    {"dispatcher", "demand"},
    {"recorder", "run_result"},
    {"scheduler", "tick"},
    {"submitter", "submit"},
    {"worker", "run_assignment"},
    {"worker_pool", "assignment_batch"}};

// Handlers take microseconds, a worker's a whole run attempt.
prometheus::Histogram::BucketBoundaries handler_buckets() {
  return {0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60};
}

void zero_initialise(metrics& m) {
  for (const char* s : finished_statuses) m.tasks_total.Add({{"status", s}});
  for (const char* s : step_statuses) m.steps_total.Add({{"status", s}});
  for (const char* c : error_codes) m.worker_errors.Add({{"code", c}});
  for (const char* a : restarting_actors) m.actor_restarts.Add({{"actor", a}});
  for (const auto& [actor, message] : timed_handlers) (void)m.handler(actor, message);
}

}  // namespace

metrics::metrics()
    : tasks_total(BuildCounter()
                      .Name("orchestrator_tasks_total")
                      .Help("Finished run attempts by status")
                      .Register(*registry)),
      task_duration(BuildHistogram()
                        .Name("orchestrator_task_duration_seconds")
                        .Help("Run duration from start to finish")
                        .Register(*registry)
                        .Add({}, latency_buckets())),
      steps_total(BuildCounter()
                      .Name("orchestrator_pipeline_steps_total")
                      .Help("Executed steps by kind and status")
                      .Register(*registry)),
      queue_depth(BuildGauge()
                      .Name("orchestrator_queue_depth")
                      .Help("Pending runs")
                      .Register(*registry)
                      .Add({})),
      queue_running(BuildGauge()
                        .Name("orchestrator_queue_running")
                        .Help("Running runs")
                        .Register(*registry)
                        .Add({})),
      scheduler_drift(BuildHistogram()
                          .Name("orchestrator_scheduler_drift_seconds")
                          .Help("Delay between a fire time and the run's creation")
                          .Register(*registry)
                          .Add({}, latency_buckets())),
      schedule_triggers(BuildCounter()
                            .Name("orchestrator_schedule_triggers_total")
                            .Help("Runs created by schedules")
                            .Register(*registry)
                            .Add({})),
      missed_schedules(BuildCounter()
                           .Name("orchestrator_missed_schedules_total")
                           .Help("Fire times dropped by the misfire policy")
                           .Register(*registry)
                           .Add({})),
      overlap_skips(BuildCounter()
                        .Name("orchestrator_schedule_overlap_skips_total")
                        .Help("Fires skipped because a run of the schedule was active")
                        .Register(*registry)
                        .Add({})),
      worker_active_jobs(BuildGauge()
                             .Name("orchestrator_worker_active_jobs")
                             .Help("Runs executing on this node")
                             .Register(*registry)
                             .Add({})),
      worker_capacity(BuildGauge()
                          .Name("orchestrator_worker_capacity")
                          .Help("Worker slots on this node")
                          .Register(*registry)
                          .Add({})),
      worker_job_duration(BuildHistogram()
                              .Name("orchestrator_worker_job_duration_seconds")
                              .Help("Time a worker spent on one attempt")
                              .Register(*registry)
                              .Add({}, latency_buckets())),
      worker_errors(BuildCounter()
                        .Name("orchestrator_worker_errors_total")
                        .Help("Failed attempts by error code")
                        .Register(*registry)),
      actor_restarts(BuildCounter()
                         .Name("orchestrator_actor_restarts_total")
                         .Help("Actor restarts by supervisors")
                         .Register(*registry)),
      actor_mailbox(BuildGauge()
                        .Name("orchestrator_actor_mailbox_size")
                        .Help("Messages waiting in an actor's mailbox")
                        .Register(*registry)),
      actor_messages(BuildCounter()
                         .Name("orchestrator_actor_messages_total")
                         .Help("Messages handled by an actor")
                         .Register(*registry)),
      actor_processing(BuildHistogram()
                           .Name("orchestrator_actor_processing_seconds")
                           .Help("Time an actor's handler took, by actor and message")
                           .Register(*registry)),
      stale_completions(BuildCounter()
                            .Name("orchestrator_stale_completions_total")
                            .Help("Completions rejected by the lease fence")
                            .Register(*registry)
                            .Add({})),
      leases_requeued(BuildCounter()
                          .Name("orchestrator_leases_requeued_total")
                          .Help("Runs put back after a lost lease")
                          .Register(*registry)
                          .Add({})),
      runs_pruned(BuildCounter()
                      .Name("orchestrator_runs_pruned_total")
                      .Help("Finished runs deleted by the retention policy")
                      .Register(*registry)
                      .Add({})),
      http_requests(BuildCounter()
                        .Name("orchestrator_http_requests_total")
                        .Help("HTTP responses by status code")
                        .Register(*registry)),
      http_duration(BuildHistogram()
                        .Name("orchestrator_http_request_duration_seconds")
                        .Help("Time from a request read in full to its response, by route "
                              "template and status class")
                        .Register(*registry)),
      db_errors(BuildCounter()
                    .Name("orchestrator_db_errors_total")
                    .Help("Failed database calls")
                    .Register(*registry)
                    .Add({})),
      cluster_peers(BuildGauge()
                        .Name("orchestrator_cluster_peers")
                        .Help("Cluster peers connected and authenticated")
                        .Register(*registry)
                        .Add({})),
      cluster_rejected(BuildCounter()
                           .Name("orchestrator_cluster_rejected_total")
                           .Help("Cluster joins and messages refused (wrong or missing secret)")
                           .Register(*registry)
                           .Add({})),
      peers_down(BuildCounter()
                     .Name("orchestrator_cluster_peers_down_total")
                     .Help("Peers declared down (their leases released)")
                     .Register(*registry)
                     .Add({})),
      peers_cut_off(BuildCounter()
                        .Name("orchestrator_cluster_peers_cut_off_total")
                        .Help("Peers lost while the database showed them alive (a partition: "
                              "their leases kept)")
                        .Register(*registry)
                        .Add({})),
      node_info(BuildGauge()
                    .Name("orchestrator_node_info")
                    .Help("1, labelled with this node's name and roles")
                    .Register(*registry)),
      build_info(BuildGauge()
                     .Name("orchestrator_build_info")
                     .Help("1, labelled with the orchestrator's version")
                     .Register(*registry)),
      scheduler_leader(BuildGauge()
                           .Name("orchestrator_scheduler_leader")
                           .Help("1 while this node leads the schedules, else 0")
                           .Register(*registry)
                           .Add({})) {
  zero_initialise(*this);
}

handler_metrics metrics::handler(const std::string& actor, const std::string& message) {
  return {actor_messages.Add({{"actor", actor}}),
          actor_processing.Add({{"actor", actor}, {"message", message}}, handler_buckets())};
}

prometheus::Histogram& metrics::http_request_duration(const std::string& route, int status) {
  static const char* const classes[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
  int c = status / 100;
  std::string cls = c >= 1 && c <= 5 ? classes[c - 1] : "other";
  return http_duration.Add({{"route", route.empty() ? "none" : route}, {"status_class", cls}},
                           request_buckets());
}

metrics& global_metrics() {
  static metrics m;
  return m;
}

void report_db_error(std::string_view key, std::string_view logger, const error_info& e) {
  global_metrics().db_errors.Increment();
  log_limited(log_level::error, key, logger, std::string(key) + ": " + e.message);
}

}  // namespace orch::actors
