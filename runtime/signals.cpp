#include "runtime/signals.hpp"

#include <unistd.h>

#include <cstdio>
#include <string>
#include <thread>

#include "actors/log.hpp"

namespace orch::runtime {

void shutdown_signal::request(int code) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!requested_) exit_code_ = code;
  requested_ = true;
  cv_.notify_all();
}

int shutdown_signal::wait() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return requested_; });
  return exit_code_;
}

sigset_t block_shutdown_signals() {
  // Signals are taken by one thread with sigwait; every other thread blocks them.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return sigs;
}

void watch_signals(sigset_t sigs, shutdown_signal& stop, std::atomic<bool>& second) {
  std::thread([sigs, &stop, &second] {
    int sig = 0;
    sigwait(&sigs, &sig);
    log_info("serve",
             std::string("received ") + (sig == SIGTERM ? "SIGTERM" : "SIGINT") + ", draining");
    stop.request(0);
    sigwait(&sigs, &sig);
    second = true;
    log_warning("serve", "second signal: exiting now");
    std::fflush(stderr);
    _exit(130);
  }).detach();
}

}  // namespace orch::runtime
