#pragma once
/// \file demand_book.hpp The dispatcher's fair share across worker pools, as a
/// plain class: how much each pool asked for, and claiming for them in turn so
/// that one hungry pool does not starve the rest.

#include <algorithm>
#include <cstddef>
#include <functional>
#include <iterator>
#include <map>
#include <string>

namespace orch::actors {

/// The demand of the pools a dispatcher serves, keyed by lease owner.
/// `Target` is where a pool's runs go (an actor handle in the dispatcher).
template <class Target>
class demand_book {
 public:
  /// One pool.
  struct pool {
    Target target{};
    std::string node;
    int demand = 0;
    bool local = false;  ///< on this node (not behind the cluster agent)
  };

  /// Adds `n` to the demand of `owner`'s pool (replaces it when `reset`: the
  /// pool's periodic repeat, which starts its count over).
  pool& add(const std::string& owner, const std::string& node, int n, bool reset) {
    auto& p = pools_[owner];
    p.node = node;
    p.demand = reset ? n : p.demand + n;
    return p;
  }

  /// Forgets the pools for which `pred(owner, pool)` holds.
  void forget_if(const std::function<bool(const std::string&, const pool&)>& pred) {
    for (auto it = pools_.begin(); it != pools_.end();) {
      if (pred(it->first, it->second))
        it = pools_.erase(it);
      else
        ++it;
    }
  }

  /// Whether `owner` has a pool here.
  bool knows(const std::string& owner) const { return pools_.count(owner) != 0; }
  /// The pools, by owner.
  const std::map<std::string, pool>& pools() const { return pools_; }

  /// Claims for the pools in turn, at most `batch` runs each per turn,
  /// starting one pool further each time: `claim(owner, pool, limit)` returns
  /// how many runs it claimed (and sent). A short claim means the queue ran
  /// dry (or the database failed): the others would find nothing either, so
  /// the round ends. `stop()` ends it too (the node drains).
  void claim_in_turn(int batch,
                     const std::function<int(const std::string&, const pool&, int)>& claim,
                     const std::function<bool()>& stop) {
    bool more = true;
    while (more && !stop()) {
      more = false;
      if (pools_.empty()) return;
      auto it = std::next(pools_.begin(), static_cast<long>(next_++ % pools_.size()));
      for (std::size_t i = 0; i < pools_.size(); ++i) {
        auto& p = it->second;
        if (p.demand > 0) {
          int limit = std::min(p.demand, batch);
          int n = claim(it->first, p, limit);
          p.demand -= std::max(0, n);
          if (n < limit) return;
          if (p.demand > 0) more = true;
        }
        if (++it == pools_.end()) it = pools_.begin();
      }
    }
  }

 private:
  std::map<std::string, pool> pools_;
  std::size_t next_ = 0;
};

}  // namespace orch::actors
