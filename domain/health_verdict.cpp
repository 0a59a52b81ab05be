#include "domain/health_verdict.hpp"

namespace orch {

health_verdict judge_health(const health_facts& f) {
  health_verdict v;
  v.database = f.database_reachable;
  // A standby scheduler is fine as long as some node leads.
  v.scheduler = f.scheduler_alive && (f.is_leader || f.cluster_leader_alive);
  // A node without workers is fine as long as another node has some up.
  v.workers = f.workers_alive && (f.local_workers || f.cluster_workers_up > 0);
  return v;
}

readiness_verdict judge_readiness(bool started, bool draining, bool database_reachable) {
  if (draining) return {false, "draining"};
  if (!started) return {false, "starting"};
  if (!database_reachable) return {false, "database unreachable"};
  return {true, ""};
}

}  // namespace orch
