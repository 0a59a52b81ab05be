#include "actors/run_executor.hpp"

#include <mutex>
#include <set>
#include <thread>

#include "actors/metrics.hpp"
#include "domain/records.hpp"
#include "steps/pipeline.hpp"

namespace orch::actors {
namespace {

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
  r.steps.reserve(out.steps.size());
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

/// Buffers an attempt's log lines and ships them in batches, bounded per attempt.
class log_shipper;

// Ships what shippers hold every 100 ms, so a line followed by silence (a step
// that prints, then sleeps) is readable while the run goes on; one thread for
// the process, started with the first shipper.
struct shipper_registry {
  std::mutex mu;
  std::set<log_shipper*> all;
  std::once_flag started;
};

shipper_registry& shippers() {
  static shipper_registry r;
  return r;
}

/// Batches a run's log lines: 64 lines or 100 ms, whichever comes first.
class log_shipper {
 public:
  log_shipper(const run_assignment& a, std::size_t max_lines, const log_batch_sink& sink)
      : a_(a), max_lines_(max_lines), sink_(sink) {
    auto& r = shippers();
    std::call_once(r.started, [] {
      std::thread([] {
        for (;;) {
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
          auto& reg = shippers();
          std::lock_guard<std::mutex> lock(reg.mu);
          for (auto* s : reg.all) s->flush_if_quiet();
        }
      }).detach();
    });
    std::lock_guard<std::mutex> lock(r.mu);
    r.all.insert(this);
  }
  ~log_shipper() {
    {
      auto& r = shippers();
      std::lock_guard<std::mutex> lock(r.mu);
      r.all.erase(this);
    }
    std::lock_guard<std::mutex> lock(mu_);
    flush_locked();
  }

  void add(const std::string& step, std::string_view stream, std::string_view line) {
    std::lock_guard<std::mutex> lock(mu_);
    if (count_ >= max_lines_) {
      if (count_ == max_lines_) push(step, "system", "log limit reached; further lines dropped");
      ++count_;
      return;
    }
    push(step, stream, line);
    auto now = std::chrono::steady_clock::now();
    if (batch_.lines.size() >= 64 || now - last_ > std::chrono::milliseconds(100)) flush_locked();
  }

  /// Sends lines that have waited 100 ms or more.
  void flush_if_quiet() {
    std::lock_guard<std::mutex> lock(mu_);
    if (std::chrono::steady_clock::now() - last_ >= std::chrono::milliseconds(100)) flush_locked();
  }

 private:
  void flush_locked() {
    if (batch_.lines.empty()) return;
    last_ = std::chrono::steady_clock::now();
    sink_(std::move(batch_));
    batch_ = log_batch{};
  }
  void push(const std::string& step, std::string_view stream, std::string_view line) {
    ++count_;
    if (batch_.lines.empty()) last_ = std::chrono::steady_clock::now();
    batch_.lines.push_back(log_line_msg{a_.run_id, a_.attempt, to_epoch_ms(now_ms()),
                                        std::string(stream), step, sanitize_utf8(line)});
  }
  const run_assignment& a_;
  std::size_t max_lines_;
  const log_batch_sink& sink_;
  std::mutex mu_;
  std::size_t count_ = 0;
  log_batch batch_;
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

}  // namespace

run_counters counters_of(const run_assignment& a) {
  run_counters c;
  c.attempt = a.attempt;
  c.max_attempts = a.max_attempts;
  c.lost_leases = a.lost_leases;
  return c;
}

std::string failed_attempt_status(const run_assignment& a) {
  auto next = next_state(run_status::running, run_event::fail, counters_of(a));
  return std::string(to_string(next ? next->next : run_status::failed));
}

run_executor::run_executor(std::size_t max_log_lines, millis kill_grace)
    : max_log_lines_(max_log_lines), kill_grace_(kill_grace) {}

std::shared_ptr<const task_spec> run_executor::task_for(const run_assignment& a,
                                                        std::string& error) {
  auto key = std::make_pair(a.task, a.task_version);
  auto it = tasks_.find(key);
  if (it != tasks_.end()) return it->second;
  try {
    auto parsed = parse_task(json::parse(a.task_json), a.task, false);
    if (!parsed) {
      error = parsed.error().message;
      return nullptr;
    }
    auto t = std::make_shared<const task_spec>(std::move(*parsed));
    // Versions are immutable, so a parsed definition is cached for good.
    tasks_.emplace(key, t);
    return t;
  } catch (const std::exception& e) {
    error = e.what();
    return nullptr;
  }
}

bool run_executor::is_pure(const run_assignment& a) {
  auto key = std::make_pair(a.task, a.task_version);
  auto it = pure_.find(key);
  if (it != pure_.end()) return it->second;
  std::string error;
  auto task = task_for(a, error);
  bool pure =
      task != nullptr && std::all_of(task->steps.begin(), task->steps.end(),
                                     [](const step_spec& s) { return kind_name(s) == "template"; });
  pure_.emplace(key, pure);
  return pure;
}

run_result run_executor::execute(const run_assignment& a, const steps::cancel_token& stop,
                                 const log_batch_sink& logs) {
  auto started = now_ms();
  std::string error;
  auto task = task_for(a, error);
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
    log_shipper shipper(a, max_log_lines_, logs);
    steps::pipeline_limits limits;
    limits.exec.kill_grace = kill_grace_;
    out = steps::run_pipeline(
        *task, in, stop,
        [&](const std::string& step, std::string_view stream, std::string_view line) {
          shipper.add(step, stream, line);
        },
        limits);
  }
  auto policy = task ? task->retry : retry_policy{};
  auto decision = steps::decide(out, counters_of(a), policy, now_ms(), rng_());
  static auto& duration = global_metrics().worker_job_duration;
  duration.Observe(std::chrono::duration<double>(now_ms() - started).count());
  return make_result(a, out, decision, to_epoch_ms(started));
}

}  // namespace orch::actors
