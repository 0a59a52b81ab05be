#include "domain/build_run.hpp"

namespace orch {

result<new_run> build_run(const std::string& task, int version, const task_spec& spec,
                          const run_submit& submission, const std::string& trigger,
                          const std::string& field) {
  new_run r;
  r.task = task;
  r.task_version = version;
  r.queue = spec.queue;
  r.params = merge_params(spec.params, submission.params);
  auto errors = check_param_references(spec, r.params);
  if (!errors.empty()) {
    auto e = validation_error(errors);
    if (!field.empty()) {
      e.message = field + ": " + e.message;
      e.field = field + ".params";
    }
    return e;
  }
  r.trigger = trigger;
  r.max_attempts = spec.retry.max_attempts;
  r.priority = submission.priority.value_or(spec.priority);
  r.concurrency_limit = spec.concurrency;
  r.idempotency_key = submission.idempotency_key;
  r.available_at = submission.run_at;
  return r;
}

}  // namespace orch
