#define CAF_SUITE dispatcher
#include <deque>
#include <map>

#include "actor_fixture.hpp"

using namespace orch;
using namespace orch::actors;
using namespace orch::actor_test;

namespace {

using ask_atom = caf::atom_constant<caf::atom("ask")>;

/// What the dispatcher's store holds and what it was asked.
struct dispatch_data {
  std::deque<persistence::claimed_run> due;
  std::map<std::string, std::string> definitions;  // by "task@version"
  bool fail_claims = false;
  std::vector<persistence::claim_request> claims;
  std::vector<persistence::dead_node> dead;  // declared down at the next maintenance
  std::vector<std::string> released;         // owner prefixes released
};

class scripted_store : public dispatch_store {
 public:
  explicit scripted_store(std::shared_ptr<dispatch_data> d) : d_(std::move(d)) {}

  result<std::vector<persistence::claimed_run>> claim(
      const persistence::claim_request& req) override {
    d_->claims.push_back(req);
    if (d_->fail_claims) return error_info{errc::unavailable, "connection lost", ""};
    std::vector<persistence::claimed_run> out;
    while (!d_->due.empty() && static_cast<int>(out.size()) < req.limit) {
      out.push_back(d_->due.front());
      d_->due.pop_front();
    }
    return out;
  }
  result<std::string> task_definition(const std::string& task, int version) override {
    auto it = d_->definitions.find(task + "@" + std::to_string(version));
    if (it == d_->definitions.end()) return error_info{errc::not_found, "no such task", ""};
    return it->second;
  }
  result<long long> requeue_expired(int, int) override { return 0LL; }
  result<std::vector<persistence::dead_node>> expire_nodes(const std::string&, millis) override {
    return std::exchange(d_->dead, {});
  }
  result<long long> release_owner_prefix(const std::string& prefix, int) override {
    d_->released.push_back(prefix);
    return 0LL;
  }
  result<persistence::queue_counts> counts() override { return persistence::queue_counts{}; }
  result<long long> prune(millis, int) override { return 0LL; }
  result<long long> forget_nodes(millis) override { return 0LL; }

 private:
  std::shared_ptr<dispatch_data> d_;
};

struct fixture : engine_fixture {
  std::shared_ptr<dispatch_data> data = std::make_shared<dispatch_data>();
  dispatcher_actor dispatcher;

  fixture() {
    cfg.claim_batch = 2;
    data->definitions["t@1"] = R"({"name":"t"})";
    dispatcher = keep(spawn_dispatcher(
        sys, cfg, node, [d = data] { return std::make_unique<scripted_store>(d); },
        spawn_mode::scheduled));
    deliver();
  }

  /// A pool stand-in (or the cluster agent's, under cluster_key): records the
  /// batches it gets; asked with ask_atom, it sends demand to the dispatcher.
  caf::actor pool_stand_in(caf::atom_value key, inbox<assignment_batch> batches) {
    return stand_in(key, [=, d = dispatcher](caf::event_based_actor* self) -> caf::behavior {
      return {
          [=](assignment_batch& b) { batches->push_back(std::move(b)); },
          [=](hello_atom) {},
          [=](ask_atom, demand_msg& m) { self->send(d, demand_atom::value, std::move(m)); },
      };
    });
  }

  void ask(const caf::actor& pool, std::string owner, std::string node_name, int n) {
    caf::anon_send(pool, ask_atom::value,
                   demand_msg{std::move(owner), std::move(node_name), n, false});
  }

  void add_due(long long from, long long to) {
    for (auto id = from; id <= to; ++id) data->due.push_back(due_run(id));
  }

  static std::size_t total(const inbox<assignment_batch>& b) {
    std::size_t n = 0;
    for (const auto& x : *b) n += x.runs.size();
    return n;
  }
};

}  // namespace

CAF_TEST_FIXTURE_SCOPE(dispatcher_protocol, fixture)

CAF_TEST(claims_for_a_local_pool_up_to_its_demand_in_batches) {
  add_due(1, 10);
  auto batches = make_inbox<assignment_batch>();
  auto pool = pool_stand_in(pool_key, batches);
  ask(pool, node->owner(), "n1", 3);
  deliver();
  CAF_REQUIRE_EQUAL(batches->size(), 2u);  // claim_batch 2: two claims, 2 and 1
  CAF_REQUIRE_EQUAL(batches->at(0).runs.size(), 2u);
  CAF_REQUIRE_EQUAL(batches->at(1).runs.size(), 1u);
  const auto& first = batches->at(0).runs[0];
  CAF_CHECK_EQUAL(first.run_id, 1);
  CAF_CHECK_EQUAL(batches->at(1).runs[0].run_id, 3);
  CAF_CHECK_EQUAL(first.owner, node->owner());
  CAF_CHECK_EQUAL(first.task_json, R"({"name":"t"})");
  CAF_REQUIRE_EQUAL(data->claims.size(), 2u);
  CAF_CHECK_EQUAL(data->claims[0].owner, node->owner());
  CAF_CHECK_EQUAL(data->claims[0].node, "n1");
  CAF_CHECK_EQUAL(data->claims[0].limit, 2);
  CAF_CHECK_EQUAL(data->claims[1].limit, 1);
  CAF_CHECK(data->claims[0].lease == cfg.lease_timeout);
  CAF_CHECK_EQUAL(data->due.size(), 7u);
}

CAF_TEST(pools_take_turns_so_one_does_not_starve_another) {
  add_due(1, 4);
  auto local = make_inbox<assignment_batch>();
  auto remote = make_inbox<assignment_batch>();
  auto pool = pool_stand_in(pool_key, local);
  auto agent = pool_stand_in(cluster_key, remote);
  ask(pool, node->owner(), "n1", 4);
  ask(agent, "n2/x.1", "n2", 4);
  deliver();
  // Four runs for eight asked: each pool gets its turn of two.
  CAF_CHECK_EQUAL(total(local), 2u);
  CAF_CHECK_EQUAL(total(remote), 2u);
  for (const auto& b : *remote) CAF_CHECK_EQUAL(b.runs.front().owner, "n2/x.1");
}

CAF_TEST(a_run_whose_definition_is_missing_still_reaches_a_worker_to_fail_it) {
  data->due.push_back(due_run(7, "gone"));
  auto batches = make_inbox<assignment_batch>();
  auto pool = pool_stand_in(pool_key, batches);
  ask(pool, node->owner(), "n1", 1);
  deliver();
  CAF_REQUIRE_EQUAL(total(batches), 1u);
  CAF_CHECK_EQUAL(batches->front().runs[0].run_id, 7);
  CAF_CHECK_EQUAL(batches->front().runs[0].task_json, "{}");
}

CAF_TEST(a_draining_node_claims_nothing) {
  add_due(1, 3);
  node->draining = true;
  auto batches = make_inbox<assignment_batch>();
  auto pool = pool_stand_in(pool_key, batches);
  auto before = data->claims.size();
  ask(pool, node->owner(), "n1", 3);
  deliver();
  CAF_CHECK_EQUAL(data->claims.size(), before);
  CAF_CHECK(batches->empty());
}

CAF_TEST(a_failed_claim_sends_nothing_and_the_next_wake_claims_again) {
  add_due(1, 2);
  data->fail_claims = true;
  auto batches = make_inbox<assignment_batch>();
  auto pool = pool_stand_in(pool_key, batches);
  ask(pool, node->owner(), "n1", 2);
  deliver();
  CAF_CHECK(batches->empty());
  data->fail_claims = false;
  caf::anon_send(dispatcher, wake_atom::value);
  deliver();
  CAF_CHECK_EQUAL(total(batches), 2u);
}

CAF_TEST(wakes_that_arrive_together_make_one_claim) {
  auto batches = make_inbox<assignment_batch>();
  auto pool = pool_stand_in(pool_key, batches);
  ask(pool, node->owner(), "n1", 10);
  deliver();
  auto before = data->claims.size();
  for (int i = 0; i < 5; ++i) caf::anon_send(dispatcher, wake_atom::value);
  deliver();
  CAF_CHECK_EQUAL(data->claims.size(), before + 1);
}

CAF_TEST(a_pool_of_an_earlier_incarnation_gets_no_runs) {
  add_due(1, 3);
  auto batches = make_inbox<assignment_batch>();
  auto pool = pool_stand_in(pool_key, batches);
  ask(pool, "n1/inc.old", "n1", 3);
  deliver();
  CAF_CHECK(batches->empty());
  CAF_CHECK_EQUAL(data->due.size(), 3u);
}

CAF_TEST(a_local_pool_that_stops_is_forgotten) {
  auto batches = make_inbox<assignment_batch>();
  auto pool = pool_stand_in(pool_key, batches);
  ask(pool, node->owner(), "n1", 5);
  deliver();
  anon_send_exit(pool, caf::exit_reason::user_shutdown);
  deliver();
  add_due(1, 5);
  auto before = data->claims.size();
  caf::anon_send(dispatcher, wake_atom::value);
  deliver();
  CAF_CHECK_EQUAL(data->claims.size(), before);
  CAF_CHECK_EQUAL(data->due.size(), 5u);
}

CAF_TEST(a_node_past_its_heartbeat_is_released_and_its_pools_get_nothing_more) {
  auto batches = make_inbox<assignment_batch>();
  auto agent = pool_stand_in(cluster_key, batches);
  ask(agent, "n2/x.1", "n2", 5);
  deliver();
  data->dead.push_back({"n2", "x"});
  advance(std::chrono::seconds(1));  // the next maintenance
  CAF_REQUIRE_EQUAL(data->released.size(), 1u);
  CAF_CHECK_EQUAL(data->released.front(), "n2/x.");
  add_due(1, 5);
  caf::anon_send(dispatcher, wake_atom::value);
  deliver();
  CAF_CHECK(batches->empty());
  CAF_CHECK_EQUAL(data->due.size(), 5u);
}

CAF_TEST(the_cluster_agent_saying_a_peer_is_gone_drops_that_peers_pools) {
  auto batches = make_inbox<assignment_batch>();
  auto agent = pool_stand_in(cluster_key, batches);
  ask(agent, "n2/x.1", "n2", 5);
  deliver();
  caf::anon_send(dispatcher, forget_atom::value, std::string("n2"));
  add_due(1, 5);
  caf::anon_send(dispatcher, wake_atom::value);
  deliver();
  CAF_CHECK(batches->empty());
}

CAF_TEST_FIXTURE_SCOPE_END()
