#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_behavior.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <map>

#include "actors/engine.hpp"
#include "actors/log.hpp"
#include "actors/messages.hpp"
#include "actors/metrics.hpp"

namespace orch::actors {
namespace {

// Label lookups in prometheus-cpp hash and lock; the recorder keeps its own
// map from label value to counter (it is one thread).
prometheus::Counter& labelled(std::map<std::string, prometheus::Counter*>& cache,
                              prometheus::Family<prometheus::Counter>& family,
                              const std::string& label, const std::string& value) {
  auto it = cache.find(value);
  if (it == cache.end()) it = cache.emplace(value, &family.Add({{label, value}})).first;
  return *it->second;
}

struct counters {
  std::map<std::string, prometheus::Counter*> tasks, errors, steps;
};

// The protocol plus the flush the recorder sends itself.
using recorder_impl = recorder_actor::extend<caf::reacts_to<flush_atom>>;

struct recorder_state {
  std::unique_ptr<record_store> db;
  std::vector<run_result> results;
  std::vector<log_line_msg> logs;
  bool flush_scheduled = false;
  millis retry_delay{50};
  counters metrics;
  std::string released_for;  // the pool owner whose predecessors' runs were released
};

persistence::completion to_completion(const run_result& r) {
  persistence::completion c;
  c.id = r.run_id;
  c.attempt = r.attempt;
  c.owner = r.owner;
  c.status = r.status;
  if (!r.output.empty() || r.status == "succeeded") c.output = r.output;
  if (!r.error_code.empty()) {
    c.error_code = r.error_code;
    c.error_message = r.error_message;
  }
  c.available_at = from_epoch_ms(r.available_at_ms);
  c.release = r.release;
  for (const auto& s : r.steps) {
    step_record rec;
    rec.index = s.index;
    rec.name = s.name;
    rec.status = s.status;
    rec.attempt = r.attempt;
    if (s.started_ms != 0) rec.started_at = from_epoch_ms(s.started_ms);
    if (s.finished_ms != 0) rec.finished_at = from_epoch_ms(s.finished_ms);
    if (s.has_exit_code) rec.exit_code = s.exit_code;
    if (s.http_status != 0) rec.http_status = s.http_status;
    rec.output = s.output;
    if (!s.error_code.empty()) {
      rec.error_code = s.error_code;
      rec.error_message = s.error_message;
    }
    c.steps.push_back(std::move(rec));
  }
  return c;
}

void count(counters& c, const run_result& r) {
  auto& m = global_metrics();
  if (r.release) return;
  labelled(c.tasks, m.tasks_total, "status", r.status == "pending" ? "retrying" : r.status)
      .Increment();
  if (r.status != "succeeded" && !r.error_code.empty()) {
    labelled(c.errors, m.worker_errors, "code", r.error_code).Increment();
  }
  if (r.finished_ms > r.started_ms && r.started_ms > 0) {
    m.task_duration.Observe(static_cast<double>(r.finished_ms - r.started_ms) / 1000.0);
  }
  for (const auto& s : r.steps) labelled(c.steps, m.steps_total, "status", s.status).Increment();
}

recorder_impl::behavior_type recorder(recorder_impl::stateful_pointer<recorder_state> self,
                                      engine_settings cfg, std::shared_ptr<node_state> node,
                                      store_opener<record_store> open) {
  self->state.db = open();
  // Results held by a crashed predecessor are gone; their runs are released by
  // the next incarnation of the pool.
  node->unrecorded = 0;
  register_as(self, recorder_key);

  auto flush = [=] {
    auto& st = self->state;
    st.flush_scheduled = false;
    bool failed = false;
    if (!st.logs.empty()) {
      std::vector<persistence::new_log_line> lines;
      lines.reserve(st.logs.size());
      for (auto& l : st.logs) {
        lines.push_back({l.run_id, l.attempt, from_epoch_ms(l.ts_ms), std::move(l.stream),
                         std::move(l.step), std::move(l.line)});
      }
      auto res = st.db->append_logs(lines);
      if (db_ok(res, "recorder.logs", "recorder")) {
        st.logs.clear();
      } else {
        failed = true;
        // Restore what was moved out so nothing is lost on retry.
        for (std::size_t i = 0; i < lines.size(); ++i) {
          st.logs[i].stream = std::move(lines[i].stream);
          st.logs[i].step = std::move(lines[i].step);
          st.logs[i].line = std::move(lines[i].line);
        }
      }
    }
    if (!st.results.empty() && !failed) {
      std::size_t n =
          std::min<std::size_t>(st.results.size(), static_cast<std::size_t>(cfg.completion_batch));
      std::vector<persistence::completion> batch;
      batch.reserve(n);
      for (std::size_t i = 0; i < n; ++i) batch.push_back(to_completion(st.results[i]));
      auto applied = st.db->complete(batch);
      if (applied) {
        auto stale = static_cast<long long>(n) - static_cast<long long>(applied->size());
        if (stale > 0) {
          global_metrics().stale_completions.Increment(static_cast<double>(stale));
          log_limited(log_level::warning, "recorder.stale", "recorder",
                      std::to_string(stale) + " stale completion(s) rejected by the lease fence");
        }
        for (std::size_t i = 0; i < n; ++i) count(st.metrics, st.results[i]);
        st.results.erase(st.results.begin(), st.results.begin() + static_cast<long>(n));
        node->unrecorded -= static_cast<int>(n);
      } else {
        failed = true;
        report_db_error("recorder.results", "recorder", applied.error());
      }
    }
    if (failed) {
      st.flush_scheduled = true;
      self->delayed_send(self, st.retry_delay, flush_atom::value);
      st.retry_delay = std::min(st.retry_delay * 2, millis(2000));
    } else {
      st.retry_delay = millis(50);
      if (!st.results.empty() || !st.logs.empty()) {
        st.flush_scheduled = true;
        self->send(self, flush_atom::value);
      }
    }
  };
  auto schedule = [=] {
    auto& st = self->state;
    if (st.results.size() >= static_cast<std::size_t>(cfg.completion_batch)) {
      if (!st.flush_scheduled) {
        st.flush_scheduled = true;
        self->send(self, flush_atom::value);
      }
      return;
    }
    if (st.flush_scheduled) return;
    st.flush_scheduled = true;
    self->delayed_send(self, cfg.completion_flush, flush_atom::value);
  };

  return {
      [=](run_result& r) {
        static const auto handled = global_metrics().handler("recorder", "run_result");
        auto timed = handled.time();
        ++node->unrecorded;
        self->state.results.push_back(std::move(r));
        schedule();
      },
      [=](log_batch& b) {
        auto& logs = self->state.logs;
        for (auto& l : b.lines) logs.push_back(std::move(l));
        schedule();
      },
      [=](flush_atom) { flush(); },
      [=](renew_msg& m) -> caf::result<std::vector<long long>, std::vector<long long>> {
        auto& st = self->state;
        global_metrics().mailbox("recorder").Set(static_cast<double>(self->mailbox().size()));
        if (st.released_for != m.owner) {
          // A new pool incarnation: the runs leased to earlier ones of this
          // node (a crashed pool, a killed process) will never be finished.
          auto n = st.db->release_dead_incarnations(cfg.node_name, m.owner, cfg.max_lost_leases);
          if (db_ok(n, "recorder.release_dead", "recorder")) {
            st.released_for = m.owner;
            if (*n > 0) {
              global_metrics().leases_requeued.Increment(static_cast<double>(*n));
              log_info("recorder", "released " + std::to_string(*n) +
                                       " run(s) of an earlier incarnation of this node");
            }
          }
        }
        // Results waiting here are still running in the database.
        for (const auto& r : st.results) {
          if (r.owner == m.owner) m.ids.push_back(r.run_id);
        }
        auto out = st.db->renew(m.owner, m.ids, cfg.lease_timeout);
        if (!db_ok(out, "recorder.renew", "recorder")) {
          return {std::vector<long long>{}, std::vector<long long>{}};
        }
        return {std::move(out->flagged), std::move(out->lost)};
      },
      // A round trip for shutdown: the answer comes after every message sent
      // to the recorder before this one has been taken in (and counted).
      [=](probe_atom) { return true; },
      [=](crash_atom) -> caf::result<void> { throw std::runtime_error("injected recorder crash"); },
  };
}

}  // namespace

recorder_actor spawn_recorder(caf::actor_system& sys, const engine_settings& cfg,
                              std::shared_ptr<node_state> node, store_opener<record_store> open,
                              spawn_mode mode) {
  if (!open) open = postgres_record_store(cfg.database_url);
  auto impl = mode == spawn_mode::detached
                  ? sys.spawn<caf::detached>(recorder, cfg, std::move(node), std::move(open))
                  : sys.spawn(recorder, cfg, std::move(node), std::move(open));
  return caf::actor_cast<recorder_actor>(impl);
}

}  // namespace orch::actors
