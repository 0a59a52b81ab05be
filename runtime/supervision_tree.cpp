#include "runtime/supervision_tree.hpp"

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>

#include "actors/engine.hpp"
#include "actors/messages.hpp"
#include "runtime/cluster.hpp"
#include "runtime/health_probe.hpp"
#include "runtime/supervisor.hpp"

namespace orch::runtime {
namespace {

child_spec subtree(std::string name, restart_strategy strategy, std::vector<child_spec> children) {
  return {name, [=](caf::actor_system& s) {
            supervisor_options o;
            o.name = name;
            o.strategy = strategy;
            return spawn_supervisor(s, o, children);
          }};
}

std::vector<child_spec> engine_children(const config& cfg, const node_setup& setup) {
  std::vector<child_spec> children;
  auto engine = setup.engine;
  auto node = setup.node;
  auto cancels = setup.cancels;
  if (cfg.has_role("worker")) {
    children.push_back({"recorder", [=](caf::actor_system& s) {
                          return caf::actor_cast<caf::actor>(
                              actors::spawn_recorder(s, engine, node));
                        }});
    children.push_back({"worker_pool", [=](caf::actor_system& s) {
                          node->workers_ok = true;
                          return caf::actor_cast<caf::actor>(
                              actors::spawn_worker_pool(s, engine, node, cancels));
                        }});
  }
  if (cfg.has_role("dispatcher")) {
    children.push_back({"dispatcher", [=](caf::actor_system& s) {
                          return caf::actor_cast<caf::actor>(
                              actors::spawn_dispatcher(s, engine, node));
                        }});
  }
  return children;
}

// Each on its own connection, independent of the others: one_for_one. The
// executors share one name, so their restarts add up in one metric series.
std::vector<child_spec> api_children(const config& cfg, const node_setup& setup) {
  std::vector<child_spec> children;
  auto engine = setup.engine;
  children.push_back({"submitter", [=](caf::actor_system& s) {
                        return caf::actor_cast<caf::actor>(actors::spawn_submitter(s, engine));
                      }});
  for (int i = 0; i < cfg.api_workers; ++i) {
    children.push_back({"api_executor", [=](caf::actor_system& s) {
                          return actors::spawn_api_executor(s, engine.database_url, i);
                        }});
  }
  return children;
}

std::vector<child_spec> root_children(const config& cfg, const node_setup& setup) {
  std::vector<child_spec> children;
  auto engine = setup.engine;
  auto node = setup.node;
  auto auth = setup.auth;
  auto me = setup.me;
  children.push_back({"health_probe", [=](caf::actor_system& s) {
                        return spawn_health_probe(s, engine.database_url, node, auth, me,
                                                  engine.node_timeout);
                      }});
  if (cfg.cluster.enabled()) {
    agent_identity id{me.name, me.incarnation, me.roles, me.advertise};
    children.push_back({"cluster", [=, cl = cfg.cluster](caf::actor_system& s) {
                          return caf::actor_cast<caf::actor>(
                              spawn_cluster_agent(s, cl, engine, id, node));
                        }});
  }
  auto exec = engine_children(cfg, setup);
  if (!exec.empty()) children.push_back(subtree("engine", restart_strategy::rest_for_one, exec));
  if (cfg.has_role("api")) {
    children.push_back(subtree("api", restart_strategy::one_for_one, api_children(cfg, setup)));
  }
  if (cfg.has_role("scheduler")) {
    children.push_back({"scheduler", [=](caf::actor_system& s) {
                          return actors::spawn_scheduler(s, engine, node);
                        }});
  } else {
    node->scheduler_ok = true;  // not this node's job
  }
  return children;
}

}  // namespace

caf::actor start_supervision_tree(caf::actor_system& sys, const config& cfg,
                                  const node_setup& setup,
                                  std::function<void(const std::string& why)> on_give_up) {
  supervisor_options root;
  root.name = "health_supervisor";
  root.max_restarts = 3;
  root.window = std::chrono::seconds(60);
  return spawn_supervisor(sys, root, root_children(cfg, setup), std::move(on_give_up));
}

bool api_actors_registered(caf::actor_system& sys, const config& cfg) {
  if (!cfg.has_role("api")) return true;
  if (!actors::lookup<actors::submitter_entry>(sys)) return false;
  for (int i = 0; i < cfg.api_workers; ++i) {
    if (!actors::lookup(sys, actors::api_executor_key(i))) return false;
  }
  return true;
}

}  // namespace orch::runtime
