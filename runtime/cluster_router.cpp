#include "runtime/cluster_router.hpp"

#include <algorithm>

#include "domain/cluster_auth.hpp"

namespace orch::runtime {
namespace {

constexpr std::size_t max_pending_joins = 256;
constexpr std::size_t nonce_size = 32;
constexpr std::size_t max_name_size = 63;
constexpr auto refusal_pause = std::chrono::seconds(5);

bool has_role(const actors::peer_info& p, const std::string& role) {
  return std::find(p.roles.begin(), p.roles.end(), role) != p.roles.end();
}

template <class Map>
bool erase_values(Map& m, const peer_id& id) {
  bool any = false;
  for (auto it = m.begin(); it != m.end();) {
    if (it->second == id) {
      it = m.erase(it);
      any = true;
    } else {
      ++it;
    }
  }
  return any;
}

}  // namespace

cluster_router::cluster_router(peer_id self, std::string secret)
    : self_(std::move(self)), secret_(std::move(secret)) {}

sender_kind cluster_router::classify(const std::optional<peer_id>& from) const {
  if (!from) return sender_kind::stranger;
  if (*from == self_) return sender_kind::local;
  return peers_.count(*from) != 0 ? sender_kind::peer : sender_kind::stranger;
}

const peer_entry* cluster_router::find(const peer_id& id) const {
  auto it = peers_.find(id);
  return it == peers_.end() ? nullptr : &it->second;
}

std::optional<std::string> cluster_router::accept_join(const std::optional<peer_id>& from,
                                                       actors::peer_info info,
                                                       const std::string& client_nonce,
                                                       const std::string& server_nonce) {
  if (!from || *from == self_ || client_nonce.size() != nonce_size ||
      info.name.size() > max_name_size) {
    return std::nullopt;
  }
  if (pending_.size() >= max_pending_joins) pending_.erase(pending_.begin());
  pending_[*from] = pending_join{std::move(info), client_nonce, server_nonce};
  return cluster_auth::proof(secret_, "server", client_nonce, server_nonce);
}

auth_outcome cluster_router::check_auth(const std::optional<peer_id>& from,
                                        const std::string& client_proof) {
  if (!from) return {auth_outcome::anonymous, {}};
  auto it = pending_.find(*from);
  if (it == pending_.end()) return {auth_outcome::unknown, {}};
  auto join = std::move(it->second);
  pending_.erase(it);
  auto expected = cluster_auth::proof(secret_, "client", join.client_nonce, join.server_nonce);
  if (!cluster_auth::same(client_proof, expected)) {
    return {auth_outcome::wrong_secret, std::move(join.info)};
  }
  return {auth_outcome::accepted, std::move(join.info)};
}

bool cluster_router::server_is_genuine(const std::string& client_nonce,
                                       const std::string& server_nonce,
                                       const std::string& server_proof) const {
  return cluster_auth::same(server_proof,
                            cluster_auth::proof(secret_, "server", client_nonce, server_nonce));
}

std::string cluster_router::client_proof(const std::string& client_nonce,
                                         const std::string& server_nonce) const {
  return cluster_auth::proof(secret_, "client", client_nonce, server_nonce);
}

bool cluster_router::add_peer(const peer_id& id, actors::peer_info info) {
  bool dispatcher = has_role(info, "dispatcher");
  // The same incarnation back: it was alive. A new one leaves the old suspect
  // to be judged, so the leases of the dead incarnation are released.
  auto s = suspects_.find(info.name);
  if (s != suspects_.end() && s->second.info.incarnation == info.incarnation) suspects_.erase(s);
  peers_[id] = peer_entry{std::move(info), false};
  if (!dispatcher || !pool_waiting_) return false;
  pool_waiting_ = false;
  return true;
}

bool cluster_router::forget_routes_to(const peer_id& id) {
  return erase_values(route_, id);
}

std::optional<peer_loss> cluster_router::lose_peer(const peer_id& id, bool connection_lost,
                                                   bool stalled) {
  auto it = peers_.find(id);
  if (it == peers_.end()) return std::nullopt;
  peer_loss loss;
  loss.info = std::move(it->second.info);
  peers_.erase(it);
  erase_values(remote_pools_, id);
  loss.rerouted = forget_routes_to(id);
  // Only a lost connection (a dead or hung process) says the node is gone;
  // and after this process was stopped every peer looks lost, wrongly.
  if (!connection_lost)
    loss.verdict = peer_loss::agent_stopped;
  else if (stalled)
    loss.verdict = peer_loss::this_node_stalled;
  else
    loss.verdict = peer_loss::node_down;
  return loss;
}

std::uint64_t cluster_router::suspect_peer(actors::peer_info info, std::string reason,
                                           sys_ms until) {
  auto name = info.name;
  auto generation = ++judgements_;
  suspects_[name] = suspect{std::move(info), std::move(reason), until, generation, false};
  return generation;
}

const suspect* cluster_router::find_suspect(const std::string& name,
                                            std::uint64_t generation) const {
  auto it = suspects_.find(name);
  return it == suspects_.end() || it->second.generation != generation ? nullptr : &it->second;
}

suspect_verdict cluster_router::judge_suspect(const std::string& name, std::uint64_t generation,
                                              const std::optional<persistence::presence>& seen,
                                              sys_ms now) {
  auto it = suspects_.find(name);
  if (it == suspects_.end() || it->second.generation != generation) return {};
  auto& s = it->second;
  if (seen) s.answered = true;
  suspect_verdict v;
  if (seen && (!seen->session_open || !seen->beating))
    v.kind = suspect_verdict::down;
  else if (now < s.until)
    return {suspect_verdict::wait, s};
  else
    v.kind = s.answered ? suspect_verdict::alive : suspect_verdict::unknown;
  v.who = std::move(s);
  suspects_.erase(it);
  return v;
}

demand_route cluster_router::route_demand(const std::optional<peer_id>& from,
                                          const std::string& owner, bool this_node_draining) {
  switch (classify(from)) {
    case sender_kind::stranger:
      return {demand_route::refused, {}};
    case sender_kind::peer:
      // This node claims nothing more while it drains: the pool should ask another one.
      if (this_node_draining) return {demand_route::draining, *from};
      remote_pools_[owner] = *from;
      return {demand_route::to_dispatcher, {}};
    case sender_kind::local:
      break;
  }
  auto it = route_.find(owner);
  if (it != route_.end() && peers_.count(it->second) != 0)
    return {demand_route::to_peer, it->second};
  std::vector<peer_id> candidates;
  for (const auto& [id, p] : peers_) {
    if (has_role(p.info, "dispatcher") && !p.draining) candidates.push_back(id);
  }
  if (candidates.empty()) {
    pool_waiting_ = true;
    return {demand_route::no_dispatcher, {}};
  }
  auto chosen = candidates[next_route_++ % candidates.size()];
  route_[owner] = chosen;
  return {demand_route::to_peer, chosen};
}

batch_route cluster_router::route_batch(const std::optional<peer_id>& from,
                                        const std::string& owner) const {
  switch (classify(from)) {
    case sender_kind::stranger:
      return {batch_route::refused, {}};
    case sender_kind::peer:
      return {batch_route::to_pool, {}};
    case sender_kind::local:
      break;
  }
  auto it = remote_pools_.find(owner);
  if (it == remote_pools_.end() || peers_.count(it->second) == 0) return {batch_route::release, {}};
  return {batch_route::to_peer, it->second};
}

peer_drain cluster_router::on_drain(const std::optional<peer_id>& from) {
  if (classify(from) != sender_kind::peer) return {};
  auto& p = peers_[*from];
  p.draining = true;
  return {false, p.info.name, forget_routes_to(*from)};
}

std::vector<std::string> cluster_router::endpoints_to_join(
    const std::vector<persistence::node_row>& rows, const std::vector<std::string>& seeds,
    const actors::peer_info& me) const {
  std::vector<std::string> out;
  for (const auto& n : rows) {
    if (n.name == me.name || n.advertise.empty() || n.status == "down") continue;
    bool known = std::any_of(peers_.begin(), peers_.end(), [&](const auto& e) {
      return e.second.info.name == n.name && e.second.info.incarnation == n.incarnation;
    });
    if (!known) out.push_back(n.advertise);
  }
  for (const auto& seed : seeds) {
    bool known = seed == me.advertise ||
                 std::any_of(peers_.begin(), peers_.end(),
                             [&](const auto& e) { return e.second.info.advertise == seed; });
    if (!known) out.push_back(seed);
  }
  return out;
}

bool cluster_router::start_join(const std::string& endpoint, sys_ms now) {
  if (connecting_.count(endpoint) != 0) return false;
  auto until = refused_until_.find(endpoint);
  if (until != refused_until_.end() && now < until->second) return false;
  connecting_.insert(endpoint);
  return true;
}

void cluster_router::end_join(const std::string& endpoint) {
  connecting_.erase(endpoint);
}

void cluster_router::refuse_endpoint(const std::string& endpoint, sys_ms now) {
  refused_until_[endpoint] = now + refusal_pause;
}

}  // namespace orch::runtime
