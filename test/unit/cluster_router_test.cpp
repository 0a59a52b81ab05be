#define BOOST_TEST_MODULE cluster_router
#include "runtime/cluster_router.hpp"

#include <boost/test/unit_test.hpp>

#include "domain/cluster_auth.hpp"

using namespace orch;
using namespace orch::runtime;
using namespace std::chrono_literals;

namespace {

const std::string secret = "s3cret-s3cret-s3cret";
const peer_id self = "self#1";
const std::string client_nonce(32, 'c');
const std::string server_nonce(32, 's');
const sys_ms t0 = from_epoch_ms(1'700'000'000'000);

actors::peer_info info(const std::string& name, std::vector<std::string> roles = {"dispatcher"},
                       const std::string& incarnation = "inc") {
  return {name, incarnation, std::move(roles), name + ":7000"};
}

/// A router with the peers `ids`, each named like its id, each a dispatcher.
cluster_router with_peers(const std::vector<peer_id>& ids) {
  cluster_router r(self, secret);
  for (const auto& id : ids) r.add_peer(id, info(id));
  return r;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(senders)

BOOST_AUTO_TEST_CASE(this_node_is_local_a_joined_node_a_peer_and_anyone_else_a_stranger) {
  auto r = with_peers({"b#2"});
  BOOST_TEST((r.classify(self) == sender_kind::local));
  BOOST_TEST((r.classify(peer_id("b#2")) == sender_kind::peer));
  BOOST_TEST((r.classify(peer_id("c#3")) == sender_kind::stranger));
}

BOOST_AUTO_TEST_CASE(an_anonymous_sender_is_a_stranger_since_it_may_be_remote) {
  auto r = with_peers({"b#2"});
  BOOST_TEST((r.classify(std::nullopt) == sender_kind::stranger));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(handshake)

BOOST_AUTO_TEST_CASE(a_node_with_the_secret_joins_in_two_steps) {
  cluster_router r(self, secret);
  auto proof = r.accept_join(peer_id("b#2"), info("b"), client_nonce, server_nonce);
  BOOST_REQUIRE(proof);
  BOOST_TEST(*proof == cluster_auth::proof(secret, "server", client_nonce, server_nonce));
  // Not a peer until it proves the secret too.
  BOOST_TEST((r.classify(peer_id("b#2")) == sender_kind::stranger));
  auto out = r.check_auth(peer_id("b#2"),
                          cluster_auth::proof(secret, "client", client_nonce, server_nonce));
  BOOST_TEST((out.kind == auth_outcome::accepted));
  BOOST_TEST(out.info.name == "b");
}

BOOST_AUTO_TEST_CASE(a_wrong_proof_is_refused_and_the_join_forgotten) {
  cluster_router r(self, secret);
  BOOST_REQUIRE(r.accept_join(peer_id("b#2"), info("b"), client_nonce, server_nonce));
  auto wrong = cluster_auth::proof("other", "client", client_nonce, server_nonce);
  auto out = r.check_auth(peer_id("b#2"), wrong);
  BOOST_TEST((out.kind == auth_outcome::wrong_secret));
  BOOST_TEST(out.info.name == "b");
  // A second try needs a new join.
  auto right = cluster_auth::proof(secret, "client", client_nonce, server_nonce);
  BOOST_TEST((r.check_auth(peer_id("b#2"), right).kind == auth_outcome::unknown));
}

BOOST_AUTO_TEST_CASE(a_proof_without_a_join_or_a_sender_is_refused) {
  cluster_router r(self, secret);
  auto right = cluster_auth::proof(secret, "client", client_nonce, server_nonce);
  BOOST_TEST((r.check_auth(peer_id("b#2"), right).kind == auth_outcome::unknown));
  BOOST_TEST((r.check_auth(std::nullopt, right).kind == auth_outcome::anonymous));
}

BOOST_AUTO_TEST_CASE(a_proof_counts_only_for_the_node_that_asked_to_join) {
  cluster_router r(self, secret);
  BOOST_REQUIRE(r.accept_join(peer_id("b#2"), info("b"), client_nonce, server_nonce));
  auto right = cluster_auth::proof(secret, "client", client_nonce, server_nonce);
  BOOST_TEST((r.check_auth(peer_id("c#3"), right).kind == auth_outcome::unknown));
}

BOOST_AUTO_TEST_CASE(joins_from_this_node_anonymous_or_malformed_are_refused) {
  cluster_router r(self, secret);
  BOOST_TEST(!r.accept_join(self, info("b"), client_nonce, server_nonce));
  BOOST_TEST(!r.accept_join(std::nullopt, info("b"), client_nonce, server_nonce));
  BOOST_TEST(!r.accept_join(peer_id("b#2"), info("b"), "short", server_nonce));
  BOOST_TEST(
      !r.accept_join(peer_id("b#2"), info(std::string(64, 'n')), client_nonce, server_nonce));
  BOOST_TEST(r.accept_join(peer_id("b#2"), info(std::string(63, 'n')), client_nonce, server_nonce)
                 .has_value());
}

BOOST_AUTO_TEST_CASE(the_client_checks_the_servers_proof_and_proves_its_own) {
  cluster_router r(self, secret);
  auto server_proof = cluster_auth::proof(secret, "server", client_nonce, server_nonce);
  BOOST_TEST(r.server_is_genuine(client_nonce, server_nonce, server_proof));
  BOOST_TEST(
      !r.server_is_genuine(client_nonce, server_nonce,
                           cluster_auth::proof("other", "server", client_nonce, server_nonce)));
  // A client's proof is no server's proof: the roles differ.
  BOOST_TEST(
      !r.server_is_genuine(client_nonce, server_nonce, r.client_proof(client_nonce, server_nonce)));
  BOOST_TEST(r.client_proof(client_nonce, server_nonce) ==
             cluster_auth::proof(secret, "client", client_nonce, server_nonce));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(demand)

BOOST_AUTO_TEST_CASE(a_local_pools_demand_goes_to_a_dispatcher_peer_and_stays_there) {
  auto r = with_peers({"b#2", "c#3"});
  auto first = r.route_demand(self, "pool-1", false);
  BOOST_REQUIRE((first.kind == demand_route::to_peer));
  for (int i = 0; i < 3; ++i) {
    auto again = r.route_demand(self, "pool-1", false);
    BOOST_TEST((again.kind == demand_route::to_peer));
    BOOST_TEST(again.peer == first.peer);
  }
}

BOOST_AUTO_TEST_CASE(pools_are_spread_round_robin_over_dispatcher_peers) {
  auto r = with_peers({"b#2", "c#3"});
  auto a = r.route_demand(self, "pool-1", false);
  auto b = r.route_demand(self, "pool-2", false);
  BOOST_TEST(a.peer != b.peer);
}

BOOST_AUTO_TEST_CASE(peers_without_the_dispatcher_role_or_draining_get_no_demand) {
  cluster_router r(self, secret);
  r.add_peer("w#2", info("w", {"worker"}));
  r.add_peer("d#3", info("d"));
  r.add_peer("e#4", info("e"));
  BOOST_TEST(!r.on_drain(peer_id("e#4")).refused);
  for (int i = 0; i < 4; ++i) {
    auto route = r.route_demand(self, "pool-" + std::to_string(i), false);
    BOOST_TEST((route.kind == demand_route::to_peer));
    BOOST_TEST(route.peer == "d#3");
  }
}

BOOST_AUTO_TEST_CASE(a_pool_without_a_dispatcher_peer_waits_and_is_told_when_one_joins) {
  cluster_router r(self, secret);
  BOOST_TEST((r.route_demand(self, "pool-1", false).kind == demand_route::no_dispatcher));
  BOOST_TEST(!r.add_peer("w#2", info("w", {"worker"})));  // not a dispatcher
  BOOST_TEST(r.add_peer("d#3", info("d")));
  BOOST_TEST(!r.add_peer("e#4", info("e")));  // told once
  BOOST_TEST((r.route_demand(self, "pool-1", false).kind == demand_route::to_peer));
}

BOOST_AUTO_TEST_CASE(a_dispatcher_joining_while_no_pool_waits_tells_nobody) {
  cluster_router r(self, secret);
  BOOST_TEST(!r.add_peer("d#3", info("d")));
}

BOOST_AUTO_TEST_CASE(a_peers_demand_goes_to_this_nodes_dispatcher_and_its_batches_back) {
  auto r = with_peers({"b#2"});
  auto route = r.route_demand(peer_id("b#2"), "b/inc.1", false);
  BOOST_TEST((route.kind == demand_route::to_dispatcher));
  auto batch = r.route_batch(self, "b/inc.1");
  BOOST_TEST((batch.kind == batch_route::to_peer));
  BOOST_TEST(batch.peer == "b#2");
}

BOOST_AUTO_TEST_CASE(a_draining_node_sends_a_peers_demand_back_to_ask_elsewhere) {
  auto r = with_peers({"b#2"});
  auto route = r.route_demand(peer_id("b#2"), "b/inc.1", true);
  BOOST_TEST((route.kind == demand_route::draining));
  BOOST_TEST(route.peer == "b#2");
}

BOOST_AUTO_TEST_CASE(demand_from_strangers_is_refused) {
  auto r = with_peers({"b#2"});
  BOOST_TEST((r.route_demand(peer_id("x#9"), "x/1.1", false).kind == demand_route::refused));
  BOOST_TEST((r.route_demand(std::nullopt, "x/1.1", false).kind == demand_route::refused));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(batches)

BOOST_AUTO_TEST_CASE(a_peers_batch_goes_to_this_nodes_pool) {
  auto r = with_peers({"b#2"});
  BOOST_TEST((r.route_batch(peer_id("b#2"), "self/inc.1").kind == batch_route::to_pool));
}

BOOST_AUTO_TEST_CASE(a_batch_for_a_pool_no_peer_asked_for_is_released) {
  auto r = with_peers({"b#2"});
  BOOST_TEST((r.route_batch(self, "nobody/1.1").kind == batch_route::release));
}

BOOST_AUTO_TEST_CASE(a_batch_for_the_pool_of_a_lost_peer_is_released) {
  auto r = with_peers({"b#2"});
  r.route_demand(peer_id("b#2"), "b/inc.1", false);
  BOOST_REQUIRE(r.lose_peer("b#2", true, false));
  BOOST_TEST((r.route_batch(self, "b/inc.1").kind == batch_route::release));
}

BOOST_AUTO_TEST_CASE(batches_from_strangers_are_refused) {
  auto r = with_peers({"b#2"});
  BOOST_TEST((r.route_batch(peer_id("x#9"), "self/inc.1").kind == batch_route::refused));
  BOOST_TEST((r.route_batch(std::nullopt, "self/inc.1").kind == batch_route::refused));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(losses_and_drains)

BOOST_AUTO_TEST_CASE(a_lost_connection_means_the_node_is_down) {
  auto r = with_peers({"b#2"});
  auto loss = r.lose_peer("b#2", true, false);
  BOOST_REQUIRE(loss);
  BOOST_TEST((loss->verdict == peer_loss::node_down));
  BOOST_TEST(loss->info.name == "b#2");
  BOOST_TEST(r.peer_count() == 0u);
  BOOST_TEST((r.classify(peer_id("b#2")) == sender_kind::stranger));
}

BOOST_AUTO_TEST_CASE(an_agent_that_stops_while_its_node_lives_is_no_node_down) {
  auto r = with_peers({"b#2"});
  auto loss = r.lose_peer("b#2", false, true);
  BOOST_REQUIRE(loss);
  BOOST_TEST((loss->verdict == peer_loss::agent_stopped));
}

BOOST_AUTO_TEST_CASE(peers_lost_while_this_node_was_stalled_are_not_judged) {
  auto r = with_peers({"b#2"});
  auto loss = r.lose_peer("b#2", true, true);
  BOOST_REQUIRE(loss);
  BOOST_TEST((loss->verdict == peer_loss::this_node_stalled));
}

BOOST_AUTO_TEST_CASE(a_suspect_whose_session_ended_or_heartbeat_stopped_is_down) {
  for (auto seen : {persistence::presence{false, true}, persistence::presence{true, false},
                    persistence::presence{false, false}}) {
    auto r = with_peers({});
    auto g = r.suspect_peer(info("b"), "remote_link_unreachable", t0 + 10s);
    auto v = r.judge_suspect("b", g, seen, t0);
    BOOST_TEST((v.kind == suspect_verdict::down));
    BOOST_TEST(v.who.info.name == "b");
    BOOST_TEST(v.who.reason == "remote_link_unreachable");
    BOOST_TEST(!r.find_suspect("b", g), "judged once");
    BOOST_TEST((r.judge_suspect("b", g, seen, t0).kind == suspect_verdict::none));
  }
}

BOOST_AUTO_TEST_CASE(a_suspect_that_looks_alive_is_asked_again_until_its_time_is_up) {
  auto r = with_peers({});
  auto g = r.suspect_peer(info("b"), "x", t0 + 10s);
  persistence::presence alive{true, true};
  BOOST_TEST((r.judge_suspect("b", g, alive, t0).kind == suspect_verdict::wait));
  BOOST_TEST((r.judge_suspect("b", g, std::nullopt, t0 + 5s).kind == suspect_verdict::wait),
             "no answer from the database is no verdict");
  BOOST_REQUIRE(r.find_suspect("b", g));
  auto v = r.judge_suspect("b", g, std::nullopt, t0 + 10s);
  BOOST_TEST((v.kind == suspect_verdict::alive), "the database said alive once");
  BOOST_TEST(!r.find_suspect("b", g));
}

BOOST_AUTO_TEST_CASE(a_suspect_the_database_never_spoke_of_is_unknown_not_alive) {
  auto r = with_peers({});
  auto g = r.suspect_peer(info("b"), "x", t0 + 10s);
  BOOST_TEST((r.judge_suspect("b", g, std::nullopt, t0).kind == suspect_verdict::wait));
  BOOST_TEST((r.judge_suspect("b", g, std::nullopt, t0 + 10s).kind == suspect_verdict::unknown));
  BOOST_TEST(!r.find_suspect("b", g));
}

BOOST_AUTO_TEST_CASE(a_suspect_dying_while_judged_is_down) {
  auto r = with_peers({});
  auto g = r.suspect_peer(info("b"), "x", t0 + 10s);
  BOOST_TEST((r.judge_suspect("b", g, persistence::presence{true, true}, t0).kind ==
              suspect_verdict::wait));
  BOOST_TEST((r.judge_suspect("b", g, persistence::presence{false, true}, t0 + 100ms).kind ==
              suspect_verdict::down));
}

BOOST_AUTO_TEST_CASE(a_later_loss_of_the_same_peer_starts_a_judgement_the_old_one_cannot_touch) {
  auto r = with_peers({});
  auto first = r.suspect_peer(info("b"), "x", t0 + 10s);
  r.add_peer("b#2", info("b"));
  auto second = r.suspect_peer(info("b"), "y", t0 + 20s);
  BOOST_TEST(first != second);
  BOOST_TEST(!r.find_suspect("b", first));
  BOOST_TEST((r.judge_suspect("b", first, persistence::presence{false, false}, t0).kind ==
              suspect_verdict::none),
             "the first judgement's timer finds nothing");
  BOOST_REQUIRE(r.find_suspect("b", second));
  BOOST_TEST(r.find_suspect("b", second)->reason == "y");
}

BOOST_AUTO_TEST_CASE(a_suspect_rejoining_is_no_longer_judged_but_a_new_incarnation_is_no_alibi) {
  auto r = with_peers({});
  auto g = r.suspect_peer(info("b", {"dispatcher"}, "inc-1"), "x", t0 + 10s);
  r.add_peer("b#9", info("b", {"dispatcher"}, "inc-2"));
  BOOST_REQUIRE(r.find_suspect("b", g));
  BOOST_TEST(r.find_suspect("b", g)->info.incarnation == "inc-1");
  r.add_peer("b#2", info("b", {"dispatcher"}, "inc-1"));
  BOOST_TEST(!r.find_suspect("b", g));
  BOOST_TEST((r.judge_suspect("b", g, persistence::presence{false, false}, t0).kind ==
              suspect_verdict::none));
}

BOOST_AUTO_TEST_CASE(losing_an_unknown_peer_is_nothing) {
  auto r = with_peers({"b#2"});
  BOOST_TEST(!r.lose_peer("c#3", true, false));
  BOOST_TEST(r.peer_count() == 1u);
}

BOOST_AUTO_TEST_CASE(losing_the_dispatcher_of_a_local_pool_reroutes_it) {
  auto r = with_peers({"b#2", "c#3"});
  auto first = r.route_demand(self, "pool-1", false);
  auto other = first.peer == "b#2" ? peer_id("c#3") : peer_id("b#2");
  BOOST_TEST(!r.lose_peer(other, true, false)->rerouted);
  BOOST_TEST(r.lose_peer(first.peer, true, false)->rerouted);
  BOOST_TEST((r.route_demand(self, "pool-1", false).kind == demand_route::no_dispatcher));
}

BOOST_AUTO_TEST_CASE(a_draining_peer_loses_its_pools_and_gets_no_more_demand) {
  auto r = with_peers({"b#2", "c#3"});
  auto first = r.route_demand(self, "pool-1", false);
  auto drain = r.on_drain(first.peer);
  BOOST_TEST(!drain.refused);
  BOOST_TEST(drain.name == first.peer);
  BOOST_TEST(drain.rerouted);
  auto next = r.route_demand(self, "pool-1", false);
  BOOST_TEST((next.kind == demand_route::to_peer));
  BOOST_TEST(next.peer != first.peer);
  BOOST_TEST(!r.on_drain(first.peer).rerouted);  // nothing left to move
}

BOOST_AUTO_TEST_CASE(drains_from_strangers_are_refused) {
  auto r = with_peers({"b#2"});
  BOOST_TEST(r.on_drain(peer_id("x#9")).refused);
  BOOST_TEST(r.on_drain(std::nullopt).refused);
  BOOST_TEST(r.on_drain(self).refused);
}

BOOST_AUTO_TEST_CASE(a_peer_that_joins_again_no_longer_drains) {
  auto r = with_peers({"b#2"});
  r.on_drain(peer_id("b#2"));
  BOOST_TEST(r.find("b#2")->draining);
  r.add_peer("b#2", info("b#2"));
  BOOST_TEST(!r.find("b#2")->draining);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(discovery)

persistence::node_row row(const std::string& name, const std::string& status = "up",
                          const std::string& incarnation = "inc") {
  persistence::node_row n;
  n.name = name;
  n.incarnation = incarnation;
  n.status = status;
  n.advertise = name + ":7000";
  return n;
}

BOOST_AUTO_TEST_CASE(nodes_up_with_an_endpoint_that_are_no_peers_are_joined) {
  auto r = with_peers({"b"});  // id and name alike
  auto me = info("self");
  auto gone = row("d", "down");
  auto hidden = row("e");
  hidden.advertise.clear();
  auto out = r.endpoints_to_join({row("self"), row("b"), row("c"), gone, hidden}, {}, me);
  BOOST_TEST(out == std::vector<std::string>{"c:7000"}, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_peer_with_a_new_incarnation_is_joined_again) {
  auto r = with_peers({"b"});
  auto out = r.endpoints_to_join({row("b", "up", "newer")}, {}, info("self"));
  BOOST_TEST(out == std::vector<std::string>{"b:7000"}, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(seeds_other_than_this_node_and_its_peers_are_joined) {
  auto r = with_peers({"b"});
  auto out = r.endpoints_to_join({}, {"self:7000", "b:7000", "seed:7000"}, info("self"));
  BOOST_TEST(out == std::vector<std::string>{"seed:7000"}, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(one_join_per_endpoint_is_in_flight) {
  cluster_router r(self, secret);
  BOOST_TEST(r.start_join("b:7000", t0));
  BOOST_TEST(!r.start_join("b:7000", t0));
  BOOST_TEST(r.start_join("c:7000", t0));
  r.end_join("b:7000");
  BOOST_TEST(r.start_join("b:7000", t0));
}

BOOST_AUTO_TEST_CASE(an_endpoint_that_failed_the_handshake_rests_five_seconds) {
  cluster_router r(self, secret);
  BOOST_REQUIRE(r.start_join("b:7000", t0));
  r.refuse_endpoint("b:7000", t0);
  r.end_join("b:7000");
  BOOST_TEST(!r.start_join("b:7000", t0 + 4999ms));
  BOOST_TEST(r.start_join("b:7000", t0 + 5s));
}

BOOST_AUTO_TEST_SUITE_END()
