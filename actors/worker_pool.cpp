#include <deque>
#include <map>
#include <random>
#include <unordered_map>

#include <caf/actor_registry.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/engine.hpp"
#include "actors/log.hpp"
#include "actors/messages.hpp"
#include "actors/metrics.hpp"
#include "domain/records.hpp"
#include "steps/pipeline.hpp"

namespace orch::actors {
namespace {

struct worker_state {
  std::map<std::pair<std::string, int>, std::shared_ptr<task_spec>> tasks;
  std::mt19937_64 rng{std::random_device{}()};
};

// Versions are immutable, so a parsed definition is cached for good.
std::shared_ptr<task_spec> task_for(worker_state& st, const run_assignment& a,
                                    std::string& error) {
  auto key = std::make_pair(a.task, a.task_version);
  auto it = st.tasks.find(key);
  if (it != st.tasks.end()) return it->second;
  try {
    auto parsed = parse_task(json::parse(a.task_json), a.task, false);
    if (!parsed) {
      error = parsed.error().message;
      return nullptr;
    }
    auto t = std::make_shared<task_spec>(std::move(*parsed));
    st.tasks.emplace(key, t);
    return t;
  } catch (const std::exception& e) {
    error = e.what();
    return nullptr;
  }
}

run_result make_result(const run_assignment& a, const steps::pipeline_outcome& out,
                       const steps::attempt_decision& d, long long started_ms) {
  run_result r;
  r.run_id = a.run_id;
  r.attempt = a.attempt;
  r.owner = a.owner;
  r.task = a.task;
  r.status = d.status;
  r.output = out.output;
  r.error_code = out.error_code;
  r.error_message = out.error_message;
  r.available_at_ms = to_epoch_ms(d.available_at);
  r.release = d.release;
  r.started_ms = started_ms;
  r.finished_ms = to_epoch_ms(now_ms());
  for (const auto& s : out.steps) {
    step_result_msg m;
    m.index = s.index;
    m.name = s.name;
    m.status = s.status;
    m.started_ms = s.started_at ? to_epoch_ms(*s.started_at) : 0;
    m.finished_ms = s.finished_at ? to_epoch_ms(*s.finished_at) : 0;
    m.has_exit_code = s.exit_code.has_value();
    m.exit_code = s.exit_code.value_or(-1);
    m.http_status = s.http_status.value_or(0);
    m.output = s.output.value_or("");
    m.error_code = s.error_code.value_or("");
    m.error_message = s.error_message.value_or("");
    r.steps.push_back(std::move(m));
  }
  return r;
}

/// Buffers a run's log lines and ships them to the recorder in batches.
class log_shipper {
 public:
  log_shipper(caf::actor_system& sys, const run_assignment& a, std::size_t max_lines)
      : sys_(sys), a_(a), max_lines_(max_lines) {}
  ~log_shipper() { flush(); }

  void add(const std::string& step, std::string_view stream, std::string_view line) {
    if (count_ >= max_lines_) {
      if (count_ == max_lines_) push(step, "system", "log limit reached; further lines dropped");
      ++count_;
      return;
    }
    push(step, stream, line);
    auto now = std::chrono::steady_clock::now();
    if (batch_.lines.size() >= 64 || now - last_ > std::chrono::milliseconds(100)) flush();
  }

  void flush() {
    if (batch_.lines.empty()) return;
    last_ = std::chrono::steady_clock::now();
    caf::anon_send(lookup(sys_, recorder_key), std::move(batch_));
    batch_ = log_batch{};
  }

 private:
  void push(const std::string& step, std::string_view stream, std::string_view line) {
    ++count_;
    batch_.lines.push_back(log_line_msg{a_.run_id, a_.attempt, to_epoch_ms(now_ms()),
                                        std::string(stream), step, sanitize_utf8(line)});
  }
  caf::actor_system& sys_;
  const run_assignment& a_;
  std::size_t max_lines_;
  std::size_t count_ = 0;
  log_batch batch_;
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

caf::behavior worker_actor(caf::stateful_actor<worker_state>* self, caf::actor pool,
                           engine_settings cfg, std::shared_ptr<cancel_registry> cancels) {
  return {
      [=](run_assignment& a) {
        global_metrics().messages("worker").Increment();
        auto started = now_ms();
        auto token = cancels->find(a.run_id);
        if (!token) token = std::make_shared<steps::cancel_token>();
        std::string error;
        auto task = task_for(self->state, a, error);
        steps::pipeline_outcome out;
        if (!task) {
          out.status = run_status::failed;
          out.error_code = "invalid_task";
          out.error_message = "stored task definition is unusable: " + error;
        } else {
          steps::pipeline_input in;
          in.run_id = a.run_id;
          in.attempt = a.attempt;
          in.max_attempts = a.max_attempts;
          in.task = a.task;
          try {
            in.params = json::parse(a.params_json);
          } catch (const std::exception&) {
            in.params = json::object();
          }
          log_shipper logs(self->system(), a, cfg.max_log_lines);
          steps::pipeline_limits limits;
          limits.exec.kill_grace = cfg.kill_grace;
          out = steps::run_pipeline(
              *task, in, *token,
              [&](const std::string& step, std::string_view stream, std::string_view line) {
                logs.add(step, stream, line);
              },
              limits);
        }
        auto policy = task ? task->retry : retry_policy{};
        auto decision =
            steps::decide(out, a.attempt, a.max_attempts, policy, now_ms(), self->state.rng());
        global_metrics().worker_job_duration.Observe(
            std::chrono::duration<double>(now_ms() - started).count());
        caf::anon_send(lookup(self->system(), recorder_key),
                       make_result(a, out, decision, to_epoch_ms(started)));
        self->send(pool, idle_atom::value, a.run_id);
      },
      [=](crash_atom) -> caf::result<void> { throw std::runtime_error("injected worker crash"); },
  };
}

struct pool_state {
  std::vector<caf::actor> workers;
  std::deque<caf::actor> idle;
  std::deque<run_assignment> queue;
  std::unordered_map<caf::actor_addr, run_assignment> busy;
  int outstanding = 0;
  bool draining = false;
};

caf::behavior pool_actor(caf::stateful_actor<pool_state>* self, engine_settings cfg,
                         std::shared_ptr<node_state> node,
                         std::shared_ptr<cancel_registry> cancels) {
  node->set_owner(cfg.node_name + "/" + random_incarnation());
  const int capacity = cfg.worker_concurrency;
  const int window = capacity + cfg.effective_prefetch();
  global_metrics().worker_capacity.Set(capacity);

  auto spawn_worker = [=] {
    auto w = self->system().spawn<caf::detached>(worker_actor, caf::actor_cast<caf::actor>(self),
                                                 cfg, cancels);
    self->monitor(w);
    self->state.workers.push_back(w);
    self->state.idle.push_back(w);
  };
  for (int i = 0; i < capacity; ++i) spawn_worker();

  auto publish = [=] {
    auto& s = self->state;
    node->active_runs = static_cast<int>(s.queue.size() + s.busy.size());
    global_metrics().worker_active_jobs.Set(static_cast<double>(s.busy.size()));
  };
  auto dispatch = [=] {
    auto& s = self->state;
    while (!s.idle.empty() && !s.queue.empty()) {
      auto w = s.idle.front();
      s.idle.pop_front();
      auto a = std::move(s.queue.front());
      s.queue.pop_front();
      cancels->add(a.run_id);
      s.busy.emplace(w.address(), a);
      self->send(w, std::move(a));
    }
    publish();
  };
  auto demand = [=](bool force) {
    auto& s = self->state;
    if (s.draining) return;
    int free = window - static_cast<int>(s.queue.size() + s.busy.size()) - s.outstanding;
    if (free <= 0) return;
    if (!force && free < std::max(1, window / 4) && !s.queue.empty()) return;
    auto d = lookup(self->system(), dispatcher_key);
    if (!d) return;
    s.outstanding += free;
    self->send(d, demand_atom::value, free, force);
  };
  auto finish_unstarted = [=](run_assignment& a, const std::string& status, bool release) {
    run_result r;
    r.run_id = a.run_id;
    r.attempt = a.attempt;
    r.owner = a.owner;
    r.task = a.task;
    r.status = status;
    r.release = release;
    r.error_code = release ? "" : "cancelled";
    r.error_message = release ? "" : "cancelled before start";
    r.available_at_ms = to_epoch_ms(now_ms());
    r.started_ms = r.finished_ms = r.available_at_ms;
    caf::anon_send(lookup(self->system(), recorder_key), std::move(r));
  };

  self->set_down_handler([=](caf::down_msg& dm) {
    auto& s = self->state;
    auto it = s.busy.find(dm.source);
    std::optional<run_assignment> lost;
    if (it != s.busy.end()) {
      lost = std::move(it->second);
      s.busy.erase(it);
    }
    auto wit = std::find_if(s.workers.begin(), s.workers.end(),
                            [&](const caf::actor& w) { return w.address() == dm.source; });
    if (wit == s.workers.end()) return;
    s.workers.erase(wit);
    s.idle.erase(std::remove_if(s.idle.begin(), s.idle.end(),
                                [&](const caf::actor& w) { return w.address() == dm.source; }),
                 s.idle.end());
    global_metrics().actor_restarts.Add({{"actor", "worker"}}).Increment();
    log_warning("worker_pool", "worker died (" + caf::to_string(dm.reason) + "); replacing it");
    if (lost) {
      cancels->remove(lost->run_id);
      // The attempt ends as a failure of its own; the task's retry policy applies.
      run_result r;
      r.run_id = lost->run_id;
      r.attempt = lost->attempt;
      r.owner = lost->owner;
      r.task = lost->task;
      bool retry = lost->attempt < lost->max_attempts;
      r.status = retry ? "pending" : "failed";
      r.error_code = "worker_crashed";
      r.error_message = "worker crashed: " + caf::to_string(dm.reason);
      r.available_at_ms = to_epoch_ms(now_ms() + millis(1000));
      r.started_ms = r.finished_ms = to_epoch_ms(now_ms());
      caf::anon_send(lookup(self->system(), recorder_key), std::move(r));
    }
    spawn_worker();
    dispatch();
    demand(false);
  });

  // Workers of a dead pool must stop their processes: the node's next
  // incarnation releases their runs.
  self->attach_functor([=](const caf::error&) {
    cancels->request_all(steps::stop_reason::release);
    for (auto& w : self->state.workers) caf::anon_send_exit(w, caf::exit_reason::user_shutdown);
  });

  self->system().registry().put(pool_key, caf::actor_cast<caf::strong_actor_ptr>(self));
  demand(true);
  return {
      [=](assignment_batch& b) {
        global_metrics().messages("worker_pool").Increment();
        auto& s = self->state;
        s.outstanding = std::max(0, s.outstanding - static_cast<int>(b.runs.size()));
        for (auto& a : b.runs) {
          if (s.draining) {
            finish_unstarted(a, "pending", true);
            continue;
          }
          s.queue.push_back(std::move(a));
        }
        dispatch();
        demand(false);
      },
      [=](idle_atom, long long run_id) {
        auto& s = self->state;
        cancels->remove(run_id);
        auto w = caf::actor_cast<caf::actor>(self->current_sender());
        s.busy.erase(w.address());
        s.idle.push_back(w);
        dispatch();
        demand(false);
      },
      [=](hello_atom) {
        self->state.outstanding = 0;
        demand(true);
      },
      [=](cancel_atom, long long run_id) {
        auto& s = self->state;
        auto it = std::find_if(s.queue.begin(), s.queue.end(),
                               [&](const run_assignment& a) { return a.run_id == run_id; });
        if (it != s.queue.end()) {
          finish_unstarted(*it, "cancelled", false);
          s.queue.erase(it);
          publish();
          demand(false);
          return;
        }
        cancels->request(run_id, steps::stop_reason::cancel);
      },
      [=](drain_atom, bool release) {
        // Runs not started yet go back at once; running ones get the grace
        // period unless `release` says it is over.
        auto& s = self->state;
        s.draining = true;
        for (auto& a : s.queue) finish_unstarted(a, "pending", true);
        s.queue.clear();
        if (release) cancels->request_all(steps::stop_reason::release);
        publish();
      },
      [=](crash_atom) -> caf::result<void> { throw std::runtime_error("injected pool crash"); },
  };
}

}  // namespace

caf::actor spawn_worker_pool(caf::actor_system& sys, const engine_settings& cfg,
                             std::shared_ptr<node_state> node,
                             std::shared_ptr<cancel_registry> cancels) {
  return sys.spawn(pool_actor, cfg, std::move(node), std::move(cancels));
}

caf::actor lookup(caf::actor_system& sys, caf::atom_value key) {
  return caf::actor_cast<caf::actor>(sys.registry().get(key));
}

}  // namespace orch::actors
