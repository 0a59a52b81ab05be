#include "steps/pipeline.hpp"

#include <optional>
#include <random>
#include <thread>

#include "domain/backoff.hpp"
#include "domain/template.hpp"

namespace orch::steps {
namespace {

step_outcome fail(std::string code, std::string message) {
  step_outcome o;
  o.status = run_status::failed;
  o.error_code = std::move(code);
  o.error_message = std::move(message);
  return o;
}

// Renders every string of a step's kind; template errors fail the step.
result<step_spec> render_step(const step_spec& step, const template_context& ctx) {
  step_spec out = step;
  auto str = [&](std::string& s) -> std::optional<error_info> {
    auto r = render_string(s, ctx);
    if (!r) return r.error();
    s = std::move(*r);
    return std::nullopt;
  };
  if (auto* e = std::get_if<exec_spec>(&out.kind)) {
    for (auto& a : e->command)
      if (auto err = str(a)) return *err;
    for (auto& [k, v] : e->env)
      if (auto err = str(v)) return *err;
    if (auto err = str(e->cwd)) return *err;
    if (e->stdin_data)
      if (auto err = str(*e->stdin_data)) return *err;
  } else if (auto* h = std::get_if<http_spec>(&out.kind)) {
    if (auto err = str(h->url)) return *err;
    for (auto& [k, v] : h->headers)
      if (auto err = str(v)) return *err;
    if (!h->body.is_null()) {
      auto b = render_json(h->body, ctx);
      if (!b) return b.error();
      h->body = std::move(*b);
    }
  } else if (auto* t = std::get_if<template_spec>(&out.kind)) {
    auto v = render_json(t->value, ctx);
    if (!v) return v.error();
    t->value = std::move(*v);
  }
  return out;
}

bool sleep_unless_stopped(millis d, const cancel_token& stop) {
  auto until = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < until) {
    if (stop.stopped()) return false;
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
        millis(20), until - std::chrono::steady_clock::now()));
  }
  return !stop.stopped();
}

}  // namespace

pipeline_outcome run_pipeline(
    const task_spec& task, const pipeline_input& in, const cancel_token& stop,
    const std::function<void(const std::string&, std::string_view, std::string_view)>& log,
    const pipeline_limits& limits) {
  pipeline_outcome out;
  std::map<std::string, std::string> outputs;
  template_context ctx;
  ctx.params = &in.params;
  ctx.outputs = &outputs;
  ctx.run_id = std::to_string(in.run_id);
  ctx.task = in.task;
  ctx.attempt = in.attempt;
  const auto deadline = std::chrono::steady_clock::now() + task.timeout;
  const std::map<std::string, std::string> orch_env = {
      {"ORCH_RUN_ID", ctx.run_id},
      {"ORCH_TASK", in.task},
      {"ORCH_ATTEMPT", std::to_string(in.attempt)},
      {"ORCH_IDEMPOTENCY_KEY", ctx.run_id + ":" + std::to_string(in.attempt)}};
  // Seeded on first use: most attempts never retry a step.
  std::optional<std::mt19937_64> rng;

  int index = 0;
  for (const auto& step : task.steps) {
    step_record rec;
    rec.index = index++;
    rec.name = step.name;
    rec.attempt = in.attempt;
    rec.started_at = now_ms();
    auto step_log = [&](std::string_view stream, std::string_view line) {
      log(step.name, stream, line);
    };
    const retry_policy policy = step.retry.value_or(retry_policy{});
    step_outcome result;
    for (int try_no = 1;; ++try_no) {
      auto left = std::chrono::duration_cast<millis>(deadline - std::chrono::steady_clock::now());
      if (left <= millis(0)) {
        result = fail("timeout", "task timeout of " + format_duration(task.timeout) + " exceeded");
        break;
      }
      millis timeout = step.timeout ? std::min(*step.timeout, left) : left;
      auto rendered = render_step(step, ctx);
      if (!rendered) {
        result = fail("template", rendered.error().message);
        break;  // a template error is not transient: no step retry
      }
      if (const auto* e = std::get_if<exec_spec>(&rendered->kind)) {
        result = run_exec(*e, orch_env, timeout, stop, step_log, limits.exec);
      } else if (const auto* h = std::get_if<http_spec>(&rendered->kind)) {
        result = run_http(*h, timeout, stop, step_log, limits.http);
      } else {
        const auto& v = std::get<template_spec>(rendered->kind).value;
        result = step_outcome{};
        result.status = run_status::succeeded;
        result.output = v.is_string()
                            ? v.get<std::string>()
                            : v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      }
      if (result.status != run_status::failed || try_no >= policy.max_attempts) break;
      if (!rng) rng.emplace(std::random_device{}());
      auto delay = backoff_delay(policy, try_no, (*rng)());
      step_log("system", "step failed (" + result.error_code + "), retry " +
                             std::to_string(try_no + 1) + "/" +
                             std::to_string(policy.max_attempts) + " in " + format_duration(delay));
      if (!sleep_unless_stopped(delay, stop)) {
        result = fail("cancelled", "cancelled");
        result.status = run_status::cancelled;
        break;
      }
    }
    rec.finished_at = now_ms();
    rec.status = std::string(to_string(result.status));
    rec.exit_code = result.exit_code;
    rec.http_status = result.http_status;
    rec.output = sanitize_utf8(result.output);
    if (!result.error_code.empty()) {
      rec.error_code = result.error_code;
      rec.error_message = sanitize_utf8(result.error_message);
    }
    outputs[step.name] = *rec.output;
    out.steps.push_back(std::move(rec));
    if (result.status != run_status::succeeded) {
      out.status = result.status;
      out.error_code = result.error_code;
      out.error_message = "step '" + step.name + "': " + sanitize_utf8(result.error_message);
      out.released = result.status == run_status::cancelled && stop.get() == stop_reason::release;
      return out;
    }
  }
  out.status = run_status::succeeded;
  if (!out.steps.empty()) out.output = *out.steps.back().output;
  return out;
}

}  // namespace orch::steps

namespace orch::steps {

attempt_decision decide(const pipeline_outcome& outcome, const run_counters& counters,
                        const retry_policy& policy, sys_ms now, std::uint64_t random) {
  run_event event = run_event::fail;
  if (outcome.released)
    event = run_event::release;
  else if (outcome.status == run_status::succeeded)
    event = run_event::succeed;
  else if (outcome.status == run_status::cancelled)
    event = run_event::stop;
  run_counters c = counters;
  c.cancel_requested = false;
  attempt_decision d;
  d.available_at = now;
  d.release = event == run_event::release;
  auto next = next_state(run_status::running, event, c);
  d.status = std::string(to_string(next ? next->next : run_status::failed));
  if (event == run_event::fail && d.status == "pending") {
    d.available_at = now + backoff_delay(policy, attempts_used(c), random);
  }
  return d;
}

}  // namespace orch::steps
