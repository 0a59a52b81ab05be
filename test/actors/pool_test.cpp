#define CAF_SUITE pool
#include <algorithm>

#include "actor_fixture.hpp"

using namespace orch;
using namespace orch::actors;
using namespace orch::actor_test;

namespace {

using done_atom = caf::atom_constant<caf::atom("done")>;

/// Which worker (by the order they were spawned) got which run.
struct handed {
  std::size_t worker;
  long long run_id;
};

/// What the recorder stand-in answers to renewals, and what it got.
struct recorder_script {
  std::vector<long long> flagged, lost;
  std::vector<renew_msg> renewals;
};

struct fixture : engine_fixture {
  inbox<demand_msg> demands = make_inbox<demand_msg>();
  inbox<run_result> results = make_inbox<run_result>();
  inbox<handed> runs = make_inbox<handed>();
  std::shared_ptr<recorder_script> script = std::make_shared<recorder_script>();
  std::vector<caf::actor> workers;
  pool_actor pool;

  fixture() {
    cfg.worker_concurrency = 2;
    cfg.prefetch = 2;
    stand_in(dispatcher_key, [d = demands](caf::event_based_actor*) -> caf::behavior {
      return {
          [=](demand_atom, demand_msg& m) { d->push_back(std::move(m)); },
          [=](wake_atom) {},
      };
    });
    stand_in(recorder_key, [r = results, s = script](caf::event_based_actor*) -> caf::behavior {
      return {
          [=](run_result& x) { r->push_back(std::move(x)); },
          [=](log_batch&) {},
          [=](renew_msg& m) {
            s->renewals.push_back(m);
            return caf::make_message(s->flagged, s->lost);
          },
      };
    });
    // Stand-in workers: they take a run and go idle when a test says so.
    auto spawn = [this](caf::actor_system& s, pool_actor p) {
      auto index = workers.size();
      auto w = s.spawn([=, log = runs](caf::event_based_actor* self) -> caf::behavior {
        auto last = std::make_shared<long long>(0);
        return {
            [=](run_assignment& a) {
              *last = a.run_id;
              log->push_back({index, a.run_id});
            },
            [=](done_atom) { self->send(p, idle_atom::value, static_cast<std::int64_t>(*last)); },
        };
      });
      workers.push_back(keep(w));
      return caf::actor_cast<worker_actor>(w);
    };
    pool = keep(spawn_worker_pool(sys, cfg, node, std::make_shared<cancel_registry>(), spawn));
    deliver();
  }

  void batch(std::initializer_list<long long> ids) {
    assignment_batch b;
    for (auto id : ids) b.runs.push_back(assignment(id, node->owner()));
    caf::anon_send(pool, std::move(b));
    deliver();
  }

  void done(std::size_t worker) {
    caf::anon_send(workers.at(worker), done_atom::value);
    deliver();
  }

  const run_result* result_of(long long id) const {
    for (const auto& r : *results)
      if (r.run_id == id) return &r;
    return nullptr;
  }
};

}  // namespace

CAF_TEST_FIXTURE_SCOPE(pool_protocol, fixture)

CAF_TEST(asks_for_its_whole_window_when_it_starts) {
  CAF_CHECK_EQUAL(workers.size(), 2u);
  CAF_REQUIRE(!demands->empty());
  const auto& d = demands->front();
  CAF_CHECK_EQUAL(d.owner, node->owner());
  CAF_CHECK_EQUAL(d.node, "n1");
  CAF_CHECK_EQUAL(d.n, 4);  // two workers, two prefetched
  CAF_CHECK(d.reset);
  CAF_CHECK(node->owner().rfind("n1/inc.", 0) == 0);
}

CAF_TEST(hands_one_run_to_each_idle_worker_and_queues_the_rest) {
  batch({1, 2, 3});
  CAF_REQUIRE_EQUAL(runs->size(), 2u);
  CAF_CHECK_EQUAL(runs->at(0).run_id, 1);
  CAF_CHECK_EQUAL(runs->at(1).run_id, 2);
  CAF_CHECK(runs->at(0).worker != runs->at(1).worker);
  CAF_CHECK_EQUAL(node->active_runs.load(), 3);
  auto first = runs->at(0).worker;
  done(first);
  CAF_REQUIRE_EQUAL(runs->size(), 3u);
  CAF_CHECK_EQUAL(runs->at(2).run_id, 3);
  CAF_CHECK_EQUAL(runs->at(2).worker, first);
  CAF_CHECK_EQUAL(node->active_runs.load(), 2);
}

CAF_TEST(a_worker_that_dies_fails_its_attempt_and_is_replaced) {
  batch({1});
  CAF_REQUIRE_EQUAL(runs->size(), 1u);
  anon_send_exit(workers.at(runs->at(0).worker), caf::exit_reason::kill);
  deliver();
  auto r = result_of(1);
  CAF_REQUIRE(r != nullptr);
  CAF_CHECK_EQUAL(r->error_code, "worker_crashed");
  CAF_CHECK_EQUAL(r->status, "failed");  // max_attempts 1: no retry left
  CAF_CHECK(!r->release);
  CAF_CHECK_EQUAL(workers.size(), 3u);
  batch({2, 3});
  CAF_CHECK_EQUAL(runs->size(), 3u);  // both live workers take one
}

CAF_TEST(a_cancel_of_a_queued_run_ends_it_without_a_worker) {
  batch({1, 2, 3});
  caf::anon_send(pool, cancel_atom::value, std::int64_t{3});
  deliver();
  auto r = result_of(3);
  CAF_REQUIRE(r != nullptr);
  CAF_CHECK_EQUAL(r->status, "cancelled");
  CAF_CHECK(!r->release);
  done(runs->at(0).worker);
  CAF_CHECK_EQUAL(runs->size(), 2u);  // nothing left to hand out
}

CAF_TEST(a_drain_gives_queued_runs_back_without_using_an_attempt) {
  batch({1, 2, 3, 4});
  caf::anon_send(pool, drain_atom::value, false);
  deliver();
  for (long long id : {3LL, 4LL}) {
    auto r = result_of(id);
    CAF_REQUIRE(r != nullptr);
    CAF_CHECK_EQUAL(r->status, "pending");
    CAF_CHECK(r->release);
  }
  CAF_CHECK(result_of(1) == nullptr);  // running ones finish in the grace period
  batch({5});
  CAF_REQUIRE(result_of(5) != nullptr);
  CAF_CHECK(result_of(5)->release);
  CAF_CHECK_EQUAL(runs->size(), 2u);
}

CAF_TEST(renews_the_runs_it_holds_and_drops_queued_runs_whose_lease_is_lost) {
  batch({1, 2, 3});
  script->lost = {3};
  advance(cfg.lease_timeout / 3);
  CAF_REQUIRE(!script->renewals.empty());
  auto ids = script->renewals.back().ids;
  std::sort(ids.begin(), ids.end());
  CAF_CHECK_EQUAL(ids, (std::vector<long long>{1, 2, 3}));
  CAF_CHECK_EQUAL(script->renewals.back().owner, node->owner());
  done(runs->at(0).worker);
  CAF_CHECK_EQUAL(runs->size(), 2u);   // run 3 runs elsewhere now
  CAF_CHECK(result_of(3) == nullptr);  // and is not recorded here
}

CAF_TEST(a_run_flagged_at_renewal_is_cancelled) {
  batch({1, 2, 3});
  script->flagged = {3};
  advance(cfg.lease_timeout / 3);
  auto r = result_of(3);
  CAF_REQUIRE(r != nullptr);
  CAF_CHECK_EQUAL(r->status, "cancelled");
}

CAF_TEST(asks_again_every_second_in_case_demand_was_lost) {
  auto before = demands->size();
  advance(std::chrono::seconds(1));
  CAF_REQUIRE(demands->size() > before);
  CAF_CHECK(demands->back().reset);
  CAF_CHECK_EQUAL(demands->back().n, 4);
}

CAF_TEST_FIXTURE_SCOPE_END()
