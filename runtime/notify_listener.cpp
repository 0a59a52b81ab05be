#include "runtime/notify_listener.hpp"

#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <pqxx/pqxx>

#include "actors/engine.hpp"
#include "actors/log.hpp"
#include "actors/messages.hpp"

namespace orch::runtime {
namespace {

class receiver : public pqxx::notification_receiver {
 public:
  receiver(pqxx::connection_base& c, const std::string& channel, caf::actor_system& sys)
      : pqxx::notification_receiver(c, channel), sys_(sys) {}

  void operator()(const std::string& payload, int) override {
    if (channel() == "orch_runs") {
      if (auto d = actors::lookup<actors::dispatcher_entry>(sys_)) {
        caf::anon_send(d, actors::wake_atom::value);
      }
      return;
    }
    long long id = 0;
    try {
      id = std::stoll(payload);
    } catch (const std::exception&) {
      return;
    }
    if (auto p = actors::lookup<actors::pool_entry>(sys_)) {
      caf::anon_send(p, actors::cancel_atom::value, id);
    }
  }

 private:
  caf::actor_system& sys_;
};

}  // namespace

notify_listener::notify_listener(caf::actor_system& sys, std::string url)
    : sys_(sys), url_(std::move(url)), thread_([this] { run(); }) {}

notify_listener::~notify_listener() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void notify_listener::run() {
  auto backoff = std::chrono::milliseconds(250);
  while (!stop_) {
    try {
      pqxx::connection c{url_};
      receiver runs(c, "orch_runs", sys_);
      receiver cancels(c, "orch_cancel", sys_);
      backoff = std::chrono::milliseconds(250);
      while (!stop_) c.await_notification(0, 200000);
    } catch (const std::exception& e) {
      log_limited(log_level::warning, "listener", "listener",
                  std::string("LISTEN connection lost: ") + e.what());
      for (auto waited = std::chrono::milliseconds(0); waited < backoff && !stop_;
           waited += std::chrono::milliseconds(50)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
    }
  }
}

}  // namespace orch::runtime
