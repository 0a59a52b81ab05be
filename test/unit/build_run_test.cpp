#define BOOST_TEST_MODULE build_run
#include "domain/build_run.hpp"

#include <boost/test/unit_test.hpp>

using namespace orch;

namespace {

/// A task whose one step prints `{{ params.topic }}`, with topic defaulting to "rust".
task_spec digest() {
  task_spec t;
  t.name = "digest";
  t.params = {{"topic", "rust"}, {"lang", "en"}};
  exec_spec exec;
  exec.command = {"/usr/bin/printf", "%s", "{{ params.topic }}"};
  t.steps.push_back(step_spec{"fetch", exec, std::nullopt, std::nullopt});
  t.retry.max_attempts = 3;
  t.concurrency = 2;
  t.queue = "slow";
  t.priority = 7;
  return t;
}

/// A task whose step needs a param without a default.
task_spec needs_endpoint() {
  auto t = digest();
  t.params = json::object();
  exec_spec exec;
  exec.command = {"/usr/bin/curl", "{{ params.endpoint }}", "{{ params.token }}"};
  t.steps = {step_spec{"call", exec, std::nullopt, std::nullopt}};
  return t;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_run_takes_the_task_version_queue_retry_budget_and_concurrency_limit) {
  auto r = build_run("digest", 4, digest(), run_submit{}, "api", "");
  BOOST_REQUIRE(r);
  BOOST_TEST(r->task == "digest");
  BOOST_TEST(r->task_version == 4);
  BOOST_TEST(r->queue == "slow");
  BOOST_TEST(r->max_attempts == 3);
  BOOST_TEST(r->concurrency_limit == 2);
  BOOST_TEST(r->trigger == "api");
  BOOST_TEST(!r->schedule_id.has_value());
  BOOST_TEST(!r->retry_of.has_value());
}

BOOST_AUTO_TEST_CASE(submitted_params_override_the_task_defaults_key_by_key) {
  run_submit s;
  s.params = {{"topic", "c++"}, {"extra", 1}};
  auto r = build_run("digest", 1, digest(), s, "api", "");
  BOOST_REQUIRE(r);
  BOOST_TEST(r->params == (json{{"topic", "c++"}, {"lang", "en"}, {"extra", 1}}));
}

BOOST_AUTO_TEST_CASE(the_task_priority_applies_unless_the_submission_names_one) {
  auto by_task = build_run("digest", 1, digest(), run_submit{}, "api", "");
  BOOST_REQUIRE(by_task);
  BOOST_TEST(by_task->priority == 7);
  run_submit s;
  s.priority = -3;
  auto by_submission = build_run("digest", 1, digest(), s, "api", "");
  BOOST_REQUIRE(by_submission);
  BOOST_TEST(by_submission->priority == -3);
}

BOOST_AUTO_TEST_CASE(the_idempotency_key_start_time_and_trigger_come_from_the_submission) {
  run_submit s;
  s.idempotency_key = "nightly-2026-12-01";
  s.run_at = from_epoch_ms(1'800'000'000'000);
  auto r = build_run("digest", 1, digest(), s, "schedule", "");
  BOOST_REQUIRE(r);
  BOOST_TEST(r->idempotency_key.value_or("") == "nightly-2026-12-01");
  BOOST_REQUIRE(r->available_at.has_value());
  BOOST_TEST(to_epoch_ms(*r->available_at) == 1'800'000'000'000);
  BOOST_TEST(r->trigger == "schedule");
}

BOOST_AUTO_TEST_CASE(a_submission_without_a_param_a_step_references_is_a_validation_error) {
  run_submit s;
  s.params = {{"endpoint", "http://127.0.0.1:9000"}};
  auto r = build_run("call", 1, needs_endpoint(), s, "api", "");
  BOOST_REQUIRE(!r);
  BOOST_TEST((r.error().code == errc::validation_failed));
  BOOST_TEST(r.error().message.find("unknown param 'token'") != std::string::npos,
             r.error().message);
  BOOST_TEST(r.error().message.rfind("steps[0]", 0) == 0, r.error().message);
  BOOST_TEST(r.error().field.rfind("steps[0]", 0) == 0, r.error().field);
}

BOOST_AUTO_TEST_CASE(every_missing_param_is_counted_in_the_message) {
  auto r = build_run("call", 1, needs_endpoint(), run_submit{}, "api", "");
  BOOST_REQUIRE(!r);
  BOOST_TEST(r.error().message.find("(and 1 more)") != std::string::npos, r.error().message);
}

BOOST_AUTO_TEST_CASE(in_a_batch_the_error_names_the_item_and_its_params) {
  auto r = build_run("call", 1, needs_endpoint(), run_submit{}, "api", "runs[3]");
  BOOST_REQUIRE(!r);
  BOOST_TEST((r.error().code == errc::validation_failed));
  BOOST_TEST(r.error().message.rfind("runs[3]: steps[0]", 0) == 0, r.error().message);
  BOOST_TEST(r.error().field == "runs[3].params");
}

BOOST_AUTO_TEST_CASE(params_that_satisfy_every_reference_build_a_run) {
  run_submit s;
  s.params = {{"endpoint", "http://127.0.0.1:9000"}, {"token", "t"}};
  BOOST_TEST(build_run("call", 1, needs_endpoint(), s, "api", "runs[0]").ok());
}
