#pragma once
// Test support: a load generator that submits runs from its own thread and
// keeps the ids the servers acknowledged, so a test can kill, drain or starve
// the servers meanwhile and then check that every acknowledged run completed.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "support/harness.hpp"

namespace orch::test {

/// How a load_generator submits: what, how many at once, how fast, to whom.
struct load_options {
  /// The task whose runs are submitted (with empty params).
  std::string task = "work";
  /// One round starts every `period` (a slow round is not caught up with a burst).
  std::chrono::milliseconds period{20};
  /// Runs submitted in one round.
  int runs_per_round = 1;
  /// Whether a round's runs go in one POST /v1/runs/batch; otherwise each is
  /// one POST /v1/tasks/{task}/runs.
  bool batch = false;
  /// With `batch`: every n-th round (n > 0) submits its runs singly instead.
  int singles_every = 0;
  /// Stop once this many runs are acknowledged (unbounded when empty).
  std::optional<int> total{};
  /// A refused submission (503 or no connection) is offered to the next
  /// target in the same round instead of being dropped.
  bool fail_over = false;
};

/// One answer that was not an acknowledgement.
struct refusal {
  std::string target;
  long status = 0;           ///< HTTP status, or a negative curl error (no connection)
  bool retry_after = false;  ///< whether a 503 carried Retry-After
  std::string body;
};

/// Submits runs round robin over named targets from a background thread and
/// keeps the acknowledged ids and every answer that was not one.
class load_generator {
 public:
  /// Starts submitting at once. `targets` are (name, client) pairs; rounds go
  /// to them in turn.
  load_generator(std::vector<std::pair<std::string, client>> targets, load_options options)
      : targets_(std::move(targets)), options_(std::move(options)), thread_([this] { loop(); }) {}
  ~load_generator() { stop(); }
  load_generator(const load_generator&) = delete;
  load_generator& operator=(const load_generator&) = delete;

  /// Stops submitting; when it returns, no request is in flight.
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  /// Stops sending to `name`; when it returns, no request to it is in flight.
  void exclude(const std::string& name) {
    std::lock_guard<std::mutex> lock(round_mu_);
    excluded_.insert(name);
  }
  /// Whether `total` runs are acknowledged (never without a total).
  bool done() const { return finished_; }

  /// Ids of the acknowledged runs, in the order of their acknowledgements.
  std::vector<std::string> acknowledged() const {
    std::lock_guard<std::mutex> lock(mu_);
    return acked_;
  }
  std::size_t acknowledged_count() const {
    std::lock_guard<std::mutex> lock(mu_);
    return acked_.size();
  }
  /// Every answer that was not an acknowledgement.
  std::vector<refusal> refusals() const {
    std::lock_guard<std::mutex> lock(mu_);
    return refusals_;
  }
  /// Answers other than 201, 503 or a failed connection, as "target: status body".
  std::vector<std::string> unexpected() const {
    std::vector<std::string> out;
    for (const auto& r : refusals()) {
      if (r.status > 0 && r.status != 503) out.push_back(describe(r));
    }
    return out;
  }
  /// 503 answers.
  int unavailable() const {
    return count([](const refusal& r) { return r.status == 503; });
  }
  /// 503 answers without a Retry-After header.
  int unavailable_without_retry_after() const {
    return count([](const refusal& r) { return r.status == 503 && !r.retry_after; });
  }
  /// Submissions that got no HTTP answer (refused connection, reset, timeout).
  int connection_failures() const {
    return count([](const refusal& r) { return r.status <= 0; });
  }

  /// "target: status body" of one refusal.
  static std::string describe(const refusal& r) {
    return r.target + ": " + std::to_string(r.status) + " " + r.body;
  }

 private:
  template <class Pred>
  int count(Pred pred) const {
    std::lock_guard<std::mutex> lock(mu_);
    return static_cast<int>(std::count_if(refusals_.begin(), refusals_.end(), pred));
  }

  int wanted() const {
    int n = options_.runs_per_round;
    if (options_.total) n = std::min(n, *options_.total - static_cast<int>(acknowledged_count()));
    return n;
  }

  void loop() {
    std::size_t turn = 0;
    auto next = std::chrono::steady_clock::now();
    while (!stop_) {
      if (options_.total && static_cast<int>(acknowledged_count()) >= *options_.total) break;
      {
        std::lock_guard<std::mutex> lock(round_mu_);
        std::vector<std::size_t> live;
        for (std::size_t i = 0; i < targets_.size(); ++i) {
          if (!excluded_.count(targets_[i].first)) live.push_back(i);
        }
        if (!live.empty()) round(live, turn);
        ++turn;
      }
      next = std::max(next + options_.period, std::chrono::steady_clock::now());
      std::this_thread::sleep_until(next);
    }
    finished_ = options_.total && static_cast<int>(acknowledged_count()) >= *options_.total;
  }

  // One round: its runs to live[turn % size], failing over to the next live
  // target when allowed.
  void round(const std::vector<std::size_t>& live, std::size_t turn) {
    int n = wanted();
    if (n <= 0) return;
    bool singles = !options_.batch || (options_.singles_every > 0 &&
                                       turn % options_.singles_every ==
                                           static_cast<std::size_t>(options_.singles_every - 1));
    if (singles) {
      for (int i = 0; i < n && !stop_; ++i)
        submit(live, turn, [](const client& c, const std::string& task) {
          return c.post("/v1/tasks/" + task + "/runs", json::object());
        });
    } else {
      submit(live, turn, [n](const client& c, const std::string& task) {
        json runs = json::array();
        for (int i = 0; i < n; ++i) runs.push_back({{"task", task}, {"params", json::object()}});
        return c.post("/v1/runs/batch", {{"runs", runs}});
      });
    }
  }

  template <class Send>
  void submit(const std::vector<std::size_t>& live, std::size_t turn, Send send) {
    std::size_t tries = options_.fail_over ? live.size() : 1;
    for (std::size_t k = 0; k < tries; ++k) {
      const auto& [name, c] = targets_[live[(turn + k) % live.size()]];
      response r = send(c, options_.task);
      std::lock_guard<std::mutex> lock(mu_);
      if (r.status == 201) {
        auto body = r.js();
        if (body.contains("items")) {
          for (const auto& run : body["items"]) acked_.push_back(run["id"].get<std::string>());
        } else {
          acked_.push_back(body["id"].get<std::string>());
        }
        return;
      }
      refusals_.push_back({name, r.status, r.headers.count("retry-after") == 1, r.body});
      if (r.status > 0 && r.status != 503) return;  // not a refusal: no other target either
    }
  }

  const std::vector<std::pair<std::string, client>> targets_;
  const load_options options_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> finished_{false};
  std::mutex round_mu_;  // held for a whole round: exclude() waits for it
  std::set<std::string> excluded_;
  mutable std::mutex mu_;
  std::vector<std::string> acked_;
  std::vector<refusal> refusals_;
  std::thread thread_;  // last: it starts once every other member is ready
};

}  // namespace orch::test
