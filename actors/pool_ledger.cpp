#include "actors/pool_ledger.hpp"

#include <algorithm>

namespace orch::actors {

pool_ledger::pool_ledger(int capacity, int prefetch) : window_(capacity + prefetch) {}

int pool_ledger::demand(bool force) {
  if (draining_) return 0;
  if (force) outstanding_ = 0;
  int free = window_ - held() - outstanding_;
  if (free <= 0) return 0;
  if (!force && free < std::max(1, window_ / 4) && !queue_.empty()) return 0;
  outstanding_ += free;
  return free;
}

void pool_ledger::received(std::size_t n) {
  outstanding_ = std::max(0, outstanding_ - static_cast<int>(n));
}

void pool_ledger::add_worker(worker_id w) {
  if (workers_.insert(w).second) idle_.push_back(w);
}

std::optional<run_assignment> pool_ledger::remove_worker(worker_id w) {
  if (workers_.erase(w) == 0) return std::nullopt;
  idle_.erase(std::remove(idle_.begin(), idle_.end(), w), idle_.end());
  auto it = busy_.find(w);
  if (it == busy_.end()) return std::nullopt;
  auto run = std::move(it->second.run);
  busy_.erase(it);
  return run;
}

bool pool_ledger::finished(worker_id w) {
  if (busy_.erase(w) == 0) return false;
  idle_.push_back(w);
  return true;
}

void pool_ledger::enqueue(run_assignment a) {
  queue_.push_back(std::move(a));
}

std::vector<std::pair<pool_ledger::worker_id, run_assignment>> pool_ledger::dispatch(
    const std::function<clock::time_point(const run_assignment&)>& deadline_of) {
  std::vector<std::pair<worker_id, run_assignment>> out;
  while (!idle_.empty() && !queue_.empty()) {
    auto w = idle_.front();
    idle_.pop_front();
    auto a = std::move(queue_.front());
    queue_.pop_front();
    busy_.emplace(w, job{a, deadline_of(a)});
    out.emplace_back(w, std::move(a));
  }
  return out;
}

std::vector<std::pair<pool_ledger::worker_id, run_assignment>> pool_ledger::take_stuck(
    clock::time_point now) {
  std::vector<std::pair<worker_id, run_assignment>> out;
  for (auto it = busy_.begin(); it != busy_.end();) {
    if (now > it->second.deadline) {
      workers_.erase(it->first);
      out.emplace_back(it->first, std::move(it->second.run));
      it = busy_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

std::optional<run_assignment> pool_ledger::take_queued(long long run_id) {
  auto it = std::find_if(queue_.begin(), queue_.end(),
                         [&](const run_assignment& a) { return a.run_id == run_id; });
  if (it == queue_.end()) return std::nullopt;
  auto a = std::move(*it);
  queue_.erase(it);
  return a;
}

pool_ledger::lost pool_ledger::lose(const std::vector<long long>& ids) {
  std::set<long long> gone(ids.begin(), ids.end());
  lost out;
  auto before = queue_.size();
  queue_.erase(std::remove_if(queue_.begin(), queue_.end(),
                              [&](const run_assignment& a) { return gone.count(a.run_id) != 0; }),
               queue_.end());
  out.dropped = before - queue_.size();
  for (const auto& [w, j] : busy_) {
    if (gone.count(j.run.run_id) != 0) out.to_stop.push_back(j.run.run_id);
  }
  return out;
}

std::vector<run_assignment> pool_ledger::drain() {
  draining_ = true;
  std::vector<run_assignment> out(std::make_move_iterator(queue_.begin()),
                                  std::make_move_iterator(queue_.end()));
  queue_.clear();
  return out;
}

std::vector<long long> pool_ledger::held_ids() const {
  std::vector<long long> ids;
  ids.reserve(queue_.size() + busy_.size());
  for (const auto& a : queue_) ids.push_back(a.run_id);
  for (const auto& [w, j] : busy_) ids.push_back(j.run.run_id);
  return ids;
}

}  // namespace orch::actors
