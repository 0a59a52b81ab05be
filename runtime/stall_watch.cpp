#include "runtime/stall_watch.hpp"

#include <string>
#include <thread>

#include "actors/log.hpp"

namespace orch::runtime {

stall_watch::stall_watch(millis timeout) : timeout_(timeout) {
  beat_ = now();
  std::thread([this] {
    for (;;) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      check();
    }
  }).detach();
}

bool stall_watch::stalled() {
  check();
  return now() < until_.load();
}

stall_watch::ns stall_watch::now() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void stall_watch::check() {
  auto t = now();
  auto gap = t - beat_.exchange(t);
  auto limit = std::chrono::duration_cast<std::chrono::nanoseconds>(timeout_).count() / 2;
  if (gap > limit) {
    until_ = t + 2 * std::chrono::duration_cast<std::chrono::nanoseconds>(timeout_).count();
    log_warning("cluster", "this node was stalled for " + std::to_string(gap / 1000000) + " ms");
  }
}

stall_watch& the_stall_watch(millis timeout) {
  static stall_watch w(timeout);  // one per process, for its life
  return w;
}

}  // namespace orch::runtime
