#pragma once
/// \file wait_until.hpp Polling a condition with a deadline, for start and drain.

#include <atomic>
#include <chrono>
#include <thread>

#include "domain/time.hpp"

namespace orch::runtime {

/// Waits until `pred()` holds, `timeout` passes or `*abort` is set; whether
/// `pred()` held. Polls every 10 ms.
template <class Pred>
bool wait_until(Pred pred, millis timeout, const std::atomic<bool>* abort = nullptr) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    if (abort != nullptr && *abort) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

}  // namespace orch::runtime
