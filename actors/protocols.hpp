#pragma once
/// \file protocols.hpp The protocol of each engine actor, declared once as a
/// typed interface: a message an actor does not take is a compile error at the
/// sender, not a message dropped at run time. Timer messages an actor sends
/// itself are not part of its protocol; each actor extends its interface with
/// them privately.

#include <caf/actor_cast.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/fwd.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "actors/messages.hpp"
#include "domain/result.hpp"
#include "persistence/run_repo.hpp"

namespace orch::persistence {
class session;
}

namespace orch::actors {

/// A unit of API work that runs on an API executor's own connection.
struct api_call {
  std::function<void(persistence::session&)> fn;
};

/// A run submission waiting for the next group commit, and where its answer goes.
struct submit_call {
  persistence::submit_request request;
  std::function<void(result<persistence::submit_outcome>)> reply;
};

/// Where a dispatcher sends claimed runs: a local pool, or the cluster agent
/// carrying them to a pool on another node.
using batch_sink_actor = caf::typed_actor<caf::reacts_to<assignment_batch>>;

/// Where a pool sends its demand: the node's dispatcher, or the cluster agent
/// carrying it to a dispatcher on another node.
using demand_sink_actor = caf::typed_actor<caf::reacts_to<demand_atom, demand_msg>>;

/// The scheduler: woken when a leader may have gone.
using scheduler_actor = caf::typed_actor<caf::reacts_to<wake_atom>, caf::reacts_to<crash_atom>>;

/// The dispatcher: takes demand from pools (local ones directly, remote ones
/// through the cluster agent), wakes (a run was submitted or released), and
/// news of a peer node gone (its pools get nothing more).
using dispatcher_actor = caf::typed_actor<caf::reacts_to<demand_atom, demand_msg>,
                                          caf::reacts_to<forget_atom, std::string>,
                                          caf::reacts_to<wake_atom>, caf::reacts_to<crash_atom>>;

// Integers in signatures are fixed-width: CAF sends `long long` as std::int64_t.

/// The worker pool: takes batches of claimed runs, a worker's word that it is
/// idle again, a dispatcher's greeting (ask again for work), a cancel of one
/// run, and the drain (with `true`: stop running steps at once).
using pool_actor =
    caf::typed_actor<caf::reacts_to<assignment_batch>, caf::reacts_to<idle_atom, std::int64_t>,
                     caf::reacts_to<hello_atom>, caf::reacts_to<cancel_atom, std::int64_t>,
                     caf::reacts_to<drain_atom, bool>, caf::reacts_to<crash_atom>>;

/// A worker: runs one assignment at a time and tells its pool when idle.
using worker_actor = caf::typed_actor<caf::reacts_to<run_assignment>, caf::reacts_to<crash_atom>>;

/// The recorder: takes finished attempts and log lines, renews leases
/// (answering the ids flagged for cancel and the ids whose lease is lost), and
/// answers a probe once every message sent before it has been taken in.
using recorder_actor = caf::typed_actor<
    caf::reacts_to<run_result>, caf::reacts_to<log_batch>,
    caf::replies_to<renew_msg>::with<std::vector<long long>, std::vector<long long>>,
    caf::replies_to<probe_atom>::with<bool>, caf::reacts_to<crash_atom>>;

/// The submitter: takes submissions and answers each through its callback.
using submitter_actor = caf::typed_actor<caf::reacts_to<submit_call>, caf::reacts_to<crash_atom>>;

/// The cluster agent, the one actor other nodes reach: the join handshake
/// (nonces and proofs of the cluster secret), demand and batches in transit
/// between a pool on one node and a dispatcher on another, a peer's drain.
using cluster_agent_actor = caf::typed_actor<
    caf::replies_to<join_atom, peer_info, std::string>::with<std::string, std::string>,
    caf::replies_to<auth_atom, std::string>::with<peer_info>,
    caf::reacts_to<demand_atom, demand_msg>, caf::reacts_to<assignment_batch>,
    caf::reacts_to<drain_atom>, caf::reacts_to<crash_atom>>;

/// Looks up a well-known actor of this node; an invalid handle while it is
/// restarting.
caf::actor lookup(caf::actor_system& sys, caf::atom_value key);

/// A well-known actor: the key it registers under and the protocol it has.
template <class Handle, caf::atom_value Key>
struct well_known {
  using handle = Handle;
  static constexpr caf::atom_value key = Key;
};

using dispatcher_entry = well_known<dispatcher_actor, dispatcher_key>;
using pool_entry = well_known<pool_actor, pool_key>;
using recorder_entry = well_known<recorder_actor, recorder_key>;
using submitter_entry = well_known<submitter_actor, submitter_key>;
using cluster_agent_entry = well_known<cluster_agent_actor, cluster_key>;
using scheduler_entry = well_known<scheduler_actor, scheduler_key>;

/// Looks up a well-known actor with its protocol, e.g. `lookup<pool_entry>(sys)`;
/// an invalid handle while it is restarting. Each actor registers itself under
/// its entry's key only, so the handle has the actor's own interface.
template <class Entry>
typename Entry::handle lookup(caf::actor_system& sys) {
  return caf::actor_cast<typename Entry::handle>(lookup(sys, Entry::key));
}

/// Registers `self` under `key` in the node's directory, replacing a
/// predecessor's entry, and removes the entry when `self` terminates unless a
/// successor has replaced it already. Not CAF's registry: remote nodes can look
/// up names there, and only the cluster agent may be reachable from outside.
void register_as(caf::local_actor* self, caf::atom_value key);

}  // namespace orch::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(orch::actors::api_call)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(orch::actors::submit_call)
