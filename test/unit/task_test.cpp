#define BOOST_TEST_MODULE task
#include "domain/task.hpp"

#include <boost/test/unit_test.hpp>
#include <cmath>
#include <limits>
#include <string>

using namespace orch;
using namespace std::chrono_literals;

namespace {

/// The body from API.md, PUT /v1/tasks/{name}.
json example_body() {
  return json::parse(R"({
  "description": "Morning digest",
  "params": {"topic": "rust"},
  "steps": [
    {"name": "fetch", "exec": {"command": ["/usr/bin/printf", "%s", "{{ params.topic }}"]}, "timeout": "30s"},
    {"name": "prompt", "template": {"value": {"text": "Summarize {{ steps.fetch.output }}"}}},
    {"name": "send", "http": {"method": "POST", "url": "http://127.0.0.1:9000/hook",
       "headers": {"X-Key": "abc"}, "body": "{{ steps.prompt.output }}", "expect_status": [200, 201]}}
  ],
  "retry": {"max_attempts": 3, "initial_delay": "1s", "max_delay": "5m", "multiplier": 2.0, "jitter": true},
  "timeout": "10m",
  "concurrency": 1,
  "queue": "default",
  "priority": 0
})");
}

/// A minimal valid body with one exec step.
json minimal() {
  return {{"steps", {{{"name", "a"}, {"exec", {{"command", {"/bin/true"}}}}}}}};
}

std::vector<field_error> errors_of(const json& body, const std::string& name = "digest",
                                   bool name_in_body = false) {
  return validate_task(body, name, name_in_body);
}

/// The single error a body produces; fails the test when there is not exactly one.
field_error only_error(const json& body) {
  const auto errs = errors_of(body);
  BOOST_REQUIRE_MESSAGE(
      errs.size() == 1, "expected one error, got " << errs.size() << [&] {
        std::string all;
        for (const auto& e : errs) all += "\n  " + e.field + ": " + e.message;
        return all;
      }());
  return errs.front();
}

bool has_error(const std::vector<field_error>& errs, const std::string& field,
               const std::string& message_part = "") {
  for (const auto& e : errs) {
    if (e.field == field && e.message.find(message_part) != std::string::npos) return true;
  }
  return false;
}

/// Checks that setting `pointer` of the minimal body to `value` fails with `field`.
void expect_rejected(const std::string& pointer, const json& value, const std::string& field,
                     const std::string& message_part = "") {
  json body = minimal();
  body[json::json_pointer(pointer)] = value;
  const auto errs = errors_of(body);
  BOOST_TEST(has_error(errs, field, message_part),
             pointer << " = " << value.dump(-1, ' ', false, json::error_handler_t::replace)
                     << " should fail at " << field);
}

void expect_accepted(const std::string& pointer, const json& value) {
  json body = minimal();
  body[json::json_pointer(pointer)] = value;
  const auto errs = errors_of(body);
  BOOST_TEST(errs.empty(), pointer << " = " << value.dump() << " should be accepted"
                                   << (errs.empty() ? "" : ": " + errs.front().message));
}

bool dumps(const std::string& s) {
  try {
    (void)json(s).dump();
    return true;
  } catch (...) {
    return false;
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_api_example_body_parses) {
  auto r = parse_task(example_body(), "digest", false);
  if (!r.ok()) BOOST_FAIL(r.error().message);
  const task_spec& t = *r;
  BOOST_TEST(t.name == "digest");
  BOOST_TEST(t.description == "Morning digest");
  BOOST_TEST(t.params == json({{"topic", "rust"}}));
  BOOST_REQUIRE(t.steps.size() == 3u);
  BOOST_TEST(kind_name(t.steps[0]) == "exec");
  BOOST_TEST(kind_name(t.steps[1]) == "template");
  BOOST_TEST(kind_name(t.steps[2]) == "http");
  const auto& exec = std::get<exec_spec>(t.steps[0].kind);
  BOOST_TEST(exec.command.size() == 3u);
  BOOST_TEST(exec.command[2] == "{{ params.topic }}");
  BOOST_TEST(t.steps[0].timeout.value().count() == 30000);
  BOOST_TEST(!t.steps[1].timeout.has_value());
  const auto& http = std::get<http_spec>(t.steps[2].kind);
  BOOST_TEST(http.method == "POST");
  BOOST_TEST(http.headers.at("X-Key") == "abc");
  BOOST_TEST(http.body == json("{{ steps.prompt.output }}"));
  BOOST_TEST((http.expect_status == std::vector<int>{200, 201}));
  BOOST_TEST(t.retry.max_attempts == 3);
  BOOST_TEST(t.retry.initial_delay.count() == 1000);
  BOOST_TEST(t.retry.max_delay.count() == 300000);
  BOOST_TEST(t.retry.multiplier == 2.0);
  BOOST_TEST(t.retry.jitter);
  BOOST_TEST(t.timeout.count() == 600000);
  BOOST_TEST(t.concurrency == 1);
  BOOST_TEST(t.queue == "default");
  BOOST_TEST(t.priority == 0);
}

BOOST_AUTO_TEST_CASE(defaults_are_filled_in_for_a_minimal_body) {
  auto r = parse_task(minimal(), "digest", false);
  BOOST_REQUIRE(r.ok());
  const json j = to_json(*r);
  BOOST_TEST(j["name"] == "digest");
  BOOST_TEST(j["description"] == "");
  BOOST_TEST(j["params"] == json::object());
  BOOST_TEST(j["retry"] == json({{"max_attempts", 1},
                                 {"initial_delay", "1s"},
                                 {"max_delay", "5m"},
                                 {"multiplier", 2.0},
                                 {"jitter", true}}));
  BOOST_TEST(j["timeout"] == "1h");
  BOOST_TEST(j["concurrency"] == 0);
  BOOST_TEST(j["queue"] == "default");
  BOOST_TEST(j["priority"] == 0);
  BOOST_TEST(j["steps"][0] ==
             json({{"name", "a"},
                   {"exec", {{"command", {"/bin/true"}}, {"env", json::object()}, {"cwd", ""}}}}));
}

BOOST_AUTO_TEST_CASE(canonical_json_round_trips_to_equal_json) {
  for (const json& body : {example_body(), minimal()}) {
    auto first = parse_task(body, "digest", false);
    BOOST_REQUIRE(first.ok());
    const json canonical = to_json(*first);
    auto again = parse_task(canonical, "", true);
    if (!again.ok()) BOOST_FAIL(again.error().message);
    BOOST_TEST(to_json(*again) == canonical);
    auto by_path = parse_task(canonical, "digest", false);
    BOOST_REQUIRE(by_path.ok());
    BOOST_TEST(to_json(*by_path) == canonical);
  }
}

BOOST_AUTO_TEST_CASE(step_timeout_retry_and_stdin_round_trip_only_when_set) {
  json body = minimal();
  body["steps"][0]["retry"] = {{"max_attempts", 4}};
  body["steps"][0]["timeout"] = "90s";
  body["steps"][0]["exec"]["stdin"] = "input";
  body["steps"][0]["exec"]["env"] = {{"A", "1"}};
  body["steps"].push_back(
      {{"name", "b"}, {"http", {{"url", "https://x.test"}, {"method", "get"}}}});
  auto t = parse_task(body, "digest", false);
  BOOST_REQUIRE(t.ok());
  const json j = to_json(*t);
  BOOST_TEST(j["steps"][0]["timeout"] == "1m30s");
  BOOST_TEST(j["steps"][0]["retry"]["max_attempts"] == 4);
  BOOST_TEST(j["steps"][0]["exec"]["stdin"] == "input");
  BOOST_TEST(!j["steps"][1].contains("timeout"));
  BOOST_TEST(!j["steps"][1].contains("retry"));
  BOOST_TEST(j["steps"][1]["http"] == json({{"method", "GET"},
                                            {"url", "https://x.test"},
                                            {"headers", json::object()},
                                            {"body", nullptr},
                                            {"expect_status", json::array()}}));
  auto again = parse_task(j, "", true);
  BOOST_REQUIRE(again.ok());
  BOOST_TEST(to_json(*again) == j);
}

BOOST_AUTO_TEST_CASE(a_step_retry_overrides_only_the_fields_it_names) {
  json body = minimal();
  body["retry"] = {{"max_attempts", 5}, {"initial_delay", "2s"}, {"jitter", false}};
  body["steps"][0]["retry"] = {{"max_attempts", 2}};
  auto t = parse_task(body, "digest", false);
  BOOST_REQUIRE(t.ok());
  const auto& r = t->steps[0].retry.value();
  BOOST_TEST(r.max_attempts == 2);
  BOOST_TEST(r.initial_delay.count() == 2000);
  BOOST_TEST(!r.jitter);
}

BOOST_AUTO_TEST_CASE(the_name_comes_from_the_body_when_posted) {
  json body = minimal();
  body["name"] = "nightly-report_2";
  auto t = parse_task(body, "", true);
  BOOST_REQUIRE(t.ok());
  BOOST_TEST(t->name == "nightly-report_2");
}

BOOST_AUTO_TEST_CASE(a_posted_body_without_a_name_is_rejected) {
  const auto errs = errors_of(minimal(), "", true);
  BOOST_TEST(has_error(errs, "name", "name is required"));
}

BOOST_AUTO_TEST_CASE(a_body_name_must_match_the_path_name) {
  json body = minimal();
  body["name"] = "digest";
  BOOST_TEST(errors_of(body).empty());
  body["name"] = "other";
  BOOST_TEST(has_error(errors_of(body), "name", "does not match"));
}

BOOST_AUTO_TEST_CASE(task_names_follow_the_pattern) {
  BOOST_TEST(valid_task_name("a"));
  BOOST_TEST(valid_task_name("0-digest_x"));
  BOOST_TEST(valid_task_name(std::string(63, 'a')));
  BOOST_TEST(!valid_task_name(""));
  BOOST_TEST(!valid_task_name(std::string(64, 'a')));
  BOOST_TEST(!valid_task_name("Digest"));
  BOOST_TEST(!valid_task_name("-digest"));
  BOOST_TEST(!valid_task_name("_digest"));
  BOOST_TEST(!valid_task_name("di gest"));
  BOOST_TEST(!valid_task_name("di.gest"));
  BOOST_TEST(has_error(errors_of(minimal(), "Bad Name"), "name", "must match"));
}

BOOST_AUTO_TEST_CASE(an_unknown_top_level_field_is_rejected) {
  json body = minimal();
  body["descripton"] = "typo";
  const auto e = only_error(body);
  BOOST_TEST(e.field == "descripton");
  BOOST_TEST(e.message.find("unknown field 'descripton'") != std::string::npos);
  BOOST_TEST(e.message.find("did you mean 'description'") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(unknown_field_in_a_step_is_rejected_with_its_path) {
  json body = minimal();
  body["steps"][0]["timeuot"] = "5s";
  const auto e = only_error(body);
  BOOST_TEST(e.field == "steps[0].timeuot");
  BOOST_TEST(e.message.find("unknown field 'timeuot'") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_typo_in_an_exec_field_is_never_silently_ignored) {
  json body = minimal();
  body["steps"][0]["exec"] = {{"comand", {"/bin/true"}}};
  const auto errs = errors_of(body);
  BOOST_TEST(has_error(errs, "steps[0].exec.comand", "unknown field 'comand'"));
  BOOST_TEST(has_error(errs, "steps[0].exec.command", "is required"));
  BOOST_TEST(errs.front().message ==
             "steps[0].exec: unknown field 'comand' (did you mean 'command'?)");
}

BOOST_AUTO_TEST_CASE(unknown_fields_are_rejected_at_every_level) {
  expect_rejected("/steps/0/exec/shell", true, "steps[0].exec.shell", "unknown field 'shell'");
  expect_rejected("/retry", {{"max_attempt", 3}}, "retry.max_attempt", "unknown field");
  expect_rejected("/steps/0/retry", {{"tries", 3}}, "steps[0].retry.tries", "unknown field");
  json body = minimal();
  body["steps"][0] = {{"name", "a"}, {"http", {{"url", "http://x"}, {"header", json::object()}}}};
  BOOST_TEST(has_error(errors_of(body), "steps[0].http.header", "unknown field 'header'"));
  body["steps"][0] = {{"name", "a"}, {"template", {{"value", 1}, {"values", 2}}}};
  BOOST_TEST(has_error(errors_of(body), "steps[0].template.values", "unknown field 'values'"));
}

BOOST_AUTO_TEST_CASE(a_step_needs_exactly_one_kind) {
  json body = minimal();
  body["steps"][0] = {{"name", "a"}};
  BOOST_TEST(only_error(body).message == "steps[0] must have exactly one of exec, http, template");
  body["steps"][0] = {{"name", "a"}, {"exec", {{"command", {"x"}}}}, {"template", {{"value", 1}}}};
  BOOST_TEST(only_error(body).field == "steps[0]");
  expect_rejected("/steps/0/exec", "ls", "steps[0].exec", "must be an object");
}

BOOST_AUTO_TEST_CASE(a_shell_string_command_is_rejected) {
  json body = minimal();
  body["steps"].push_back({{"name", "b"}, {"exec", {{"command", "echo hi"}}}});
  const auto e = only_error(body);
  BOOST_TEST(e.field == "steps[1].exec.command");
  BOOST_TEST(e.message.rfind("steps[1].exec.command must be a non-empty array of strings", 0) == 0);
}

BOOST_AUTO_TEST_CASE(command_must_be_a_non_empty_array_of_non_empty_strings) {
  expect_rejected("/steps/0/exec/command", json::array(), "steps[0].exec.command", "non-empty");
  expect_rejected("/steps/0/exec/command", {"/bin/echo", ""}, "steps[0].exec.command[1]",
                  "non-empty string");
  expect_rejected("/steps/0/exec/command", {"/bin/echo", 5}, "steps[0].exec.command[1]");
  expect_rejected("/steps/0/exec/command", {"/bin/echo", std::string("a\0b", 3)},
                  "steps[0].exec.command[1]", "NUL");
  expect_rejected("/steps/0/exec/command", nullptr, "steps[0].exec.command", "is required");
}

BOOST_AUTO_TEST_CASE(env_cwd_and_stdin_must_be_strings) {
  expect_rejected("/steps/0/exec/env", {{"FOO", 1}}, "steps[0].exec.env.FOO", "must be a string");
  expect_rejected("/steps/0/exec/env", {"FOO=1"}, "steps[0].exec.env", "object of strings");
  expect_rejected("/steps/0/exec/env", {{"A=B", "1"}}, "steps[0].exec.env.A=B", "environment");
  expect_rejected("/steps/0/exec/cwd", 1, "steps[0].exec.cwd", "must be a string");
  expect_rejected("/steps/0/exec/stdin", {{"a", 1}}, "steps[0].exec.stdin", "must be a string");
  expect_accepted("/steps/0/exec/env", {{"PATH", "/usr/bin"}, {"LANG", "C"}});
  expect_accepted("/steps/0/exec/cwd", "/tmp");
}

BOOST_AUTO_TEST_CASE(a_url_that_is_a_template_is_checked_when_rendered_not_when_defined) {
  json body = minimal();
  body["params"] = {{"endpoint", "http://127.0.0.1:9/hook"}};
  body["steps"][0] = {{"name", "a"}, {"http", {{"url", "{{ params.endpoint }}"}}}};
  BOOST_TEST(errors_of(body).empty());
  body["steps"][0]["http"]["url"] = "{{ params.endpoint";
  BOOST_TEST(!errors_of(body).empty());
}

BOOST_AUTO_TEST_CASE(http_fields_are_validated) {
  json base = minimal();
  base["steps"][0] = {{"name", "a"}, {"http", {{"url", "https://example.com/x"}}}};
  auto check = [&](const std::string& key, const json& value, const std::string& field,
                   const std::string& part) {
    json body = base;
    body["steps"][0]["http"][key] = value;
    BOOST_TEST(has_error(errors_of(body), field, part), key << " = " << value.dump());
  };
  check("method", "FETCH", "steps[0].http.method", "must be one of GET");
  check("method", 1, "steps[0].http.method", "must be a string");
  check("url", "ftp://example.com", "steps[0].http.url", "http:// or https://");
  check("url", "example.com", "steps[0].http.url", "http:// or https://");
  check("url", "http://", "steps[0].http.url", "http:// or https://");
  check("url", 5, "steps[0].http.url", "must be a string");
  check("headers", {{"X-Key", 1}}, "steps[0].http.headers.X-Key", "must be a string");
  check("headers", {{"Bad Header", "v"}}, "steps[0].http.headers.Bad Header", "header name");
  check("headers", {{"X-Key", "a\r\nInjected: 1"}}, "steps[0].http.headers.X-Key", "line breaks");
  check("headers", "X-Key: 1", "steps[0].http.headers", "object of strings");
  check("expect_status", 600, "steps[0].http.expect_status", "between 100 and 599");
  check("expect_status", {200, 99}, "steps[0].http.expect_status[1]", "between 100 and 599");
  check("expect_status", "200", "steps[0].http.expect_status", "status code");
  check("expect_status", 200.5, "steps[0].http.expect_status", "fractional");
  json no_url = base;
  no_url["steps"][0]["http"].erase("url");
  BOOST_TEST(has_error(errors_of(no_url), "steps[0].http.url", "is required"));
}

BOOST_AUTO_TEST_CASE(http_method_is_upper_cased_and_a_single_status_is_accepted) {
  json body = minimal();
  body["steps"][0] = {{"name", "a"},
                      {"http",
                       {{"url", "HTTPS://example.com/{{ params.path }}"},
                        {"method", "patch"},
                        {"expect_status", 204},
                        {"body", {{"k", {1, 2, {{"x", nullptr}}}}}}}}};
  auto t = parse_task(body, "digest", false);
  if (!t.ok()) BOOST_FAIL(t.error().message);
  const auto& h = std::get<http_spec>(t->steps[0].kind);
  BOOST_TEST(h.method == "PATCH");
  BOOST_TEST((h.expect_status == std::vector<int>{204}));
  BOOST_TEST(h.body["k"][2]["x"].is_null());
}

BOOST_AUTO_TEST_CASE(a_template_step_needs_a_value_which_may_be_null) {
  json body = minimal();
  body["steps"][0] = {{"name", "a"}, {"template", json::object()}};
  BOOST_TEST(only_error(body).field == "steps[0].template.value");
  body["steps"][0]["template"]["value"] = nullptr;
  BOOST_TEST(errors_of(body).empty());
}

BOOST_AUTO_TEST_CASE(timeouts_are_positive_durations_of_at_most_seven_days) {
  expect_accepted("/timeout", "7d");
  expect_accepted("/steps/0/timeout", "250ms");
  expect_rejected("/timeout", "0s", "timeout", "more than 0s");
  expect_rejected("/timeout", "8d", "timeout", "at most 7d");
  expect_rejected("/timeout", "10 minutes", "timeout", "duration");
  expect_rejected("/timeout", 600, "timeout", "duration");
  expect_rejected("/steps/0/timeout", "-1s", "steps[0].timeout", "duration");
  expect_rejected("/steps/0/timeout", "0ms", "steps[0].timeout");
}

BOOST_AUTO_TEST_CASE(retry_fields_are_range_checked) {
  expect_rejected("/retry", {{"max_attempts", 0}}, "retry.max_attempts", "between 1 and 100");
  expect_rejected("/retry", {{"max_attempts", 101}}, "retry.max_attempts", "between 1 and 100");
  expect_rejected("/retry", {{"max_attempts", -1}}, "retry.max_attempts", "between 1 and 100");
  expect_rejected("/retry", {{"max_attempts", 1e300}}, "retry.max_attempts", "between 1 and 100");
  expect_rejected("/retry", {{"max_attempts", 2.5}}, "retry.max_attempts", "fractional");
  expect_rejected("/retry", {{"max_attempts", "3"}}, "retry.max_attempts", "got a string");
  expect_rejected("/retry", {{"max_attempts", std::numeric_limits<std::uint64_t>::max()}},
                  "retry.max_attempts");
  expect_rejected("/retry", {{"multiplier", 0.5}}, "retry.multiplier", "between 1.0 and 10.0");
  expect_rejected("/retry", {{"multiplier", 11}}, "retry.multiplier", "between 1.0 and 10.0");
  expect_rejected("/retry", {{"multiplier", "NaN"}}, "retry.multiplier", "got a string");
  expect_rejected("/retry", {{"multiplier", std::nan("")}}, "retry.multiplier");
  expect_rejected("/retry", {{"jitter", "yes"}}, "retry.jitter", "true or false");
  expect_rejected("/retry", {{"initial_delay", "soon"}}, "retry.initial_delay", "duration");
  expect_rejected("/retry", {{"initial_delay", "10m"}}, "retry.max_delay", "at least");
  expect_rejected("/retry", 3, "retry", "must be an object");
  expect_rejected("/steps/0/retry", {{"max_attempts", 0}}, "steps[0].retry.max_attempts");
  expect_accepted("/retry", {{"max_attempts", 3.0}, {"multiplier", 1}, {"initial_delay", "0s"}});
}

BOOST_AUTO_TEST_CASE(concurrency_queue_and_priority_are_range_checked) {
  expect_accepted("/concurrency", 10000);
  expect_rejected("/concurrency", -1, "concurrency", "between 0 and 10000");
  expect_rejected("/concurrency", 10001, "concurrency", "between 0 and 10000");
  expect_rejected("/concurrency", true, "concurrency", "got a boolean");
  expect_accepted("/priority", -1000);
  expect_rejected("/priority", 1001, "priority", "between -1000 and 1000");
  expect_rejected("/priority", -1e300, "priority", "between -1000 and 1000");
  expect_accepted("/queue", "llm-calls");
  expect_rejected("/queue", "Bad Queue", "queue", "must match");
  expect_rejected("/queue", 1, "queue", "must be a string");
}

BOOST_AUTO_TEST_CASE(description_is_a_string_of_at_most_1000_characters) {
  expect_accepted("/description", std::string(1000, 'x'));
  std::string euros;
  for (int i = 0; i < 1000; ++i) euros += "\xe2\x82\xac";
  expect_accepted("/description", euros);
  expect_rejected("/description", std::string(1001, 'x'), "description", "at most 1000");
  expect_rejected("/description", 5, "description", "must be a string");
}

BOOST_AUTO_TEST_CASE(params_must_be_an_object) {
  expect_rejected("/params", {1, 2}, "params", "must be an object");
  expect_rejected("/params", "x", "params", "must be an object");
  expect_accepted("/params", {{"a", {{"b", {1, 2.5, "c", nullptr}}}}});
}

BOOST_AUTO_TEST_CASE(steps_must_be_a_bounded_non_empty_array) {
  json body = minimal();
  body.erase("steps");
  BOOST_TEST(only_error(body).field == "steps");
  body["steps"] = json::array();
  BOOST_TEST(only_error(body).message.find("non-empty") != std::string::npos);
  body["steps"] = {{"name", "a"}};
  BOOST_TEST(has_error(errors_of(body), "steps", "non-empty array"));
  body["steps"] = json::array();
  for (std::size_t i = 0; i <= max_steps; ++i) {
    body["steps"].push_back({{"name", "s" + std::to_string(i)}, {"template", {{"value", 1}}}});
  }
  BOOST_TEST(only_error(body).message.find("at most 100") != std::string::npos);
  body["steps"].erase(body["steps"].size() - 1);
  BOOST_TEST(errors_of(body).empty());
  body["steps"] = {1};
  BOOST_TEST(only_error(body).field == "steps[0]");
}

BOOST_AUTO_TEST_CASE(step_names_are_required_unique_and_follow_the_pattern) {
  json body = minimal();
  body["steps"].push_back({{"name", "a"}, {"template", {{"value", 1}}}});
  const auto e = only_error(body);
  BOOST_TEST(e.field == "steps[1].name");
  BOOST_TEST(e.message.find("duplicate step name 'a'") != std::string::npos);
  expect_rejected("/steps/0/name", "Fetch", "steps[0].name", "must match");
  expect_rejected("/steps/0/name", 1, "steps[0].name", "must be a string");
  json nameless = minimal();
  nameless["steps"][0].erase("name");
  BOOST_TEST(only_error(nameless).field == "steps[0].name");
}

BOOST_AUTO_TEST_CASE(a_reference_to_an_unknown_step_names_the_string_it_is_in) {
  json body = example_body();
  body["steps"][2]["http"]["body"] = "{{ steps.fech.output }}";
  const auto e = only_error(body);
  BOOST_TEST(e.field == "steps[2].http.body");
  BOOST_TEST(e.message == "steps[2].http.body: template references unknown step 'fech'");
}

BOOST_AUTO_TEST_CASE(a_reference_to_the_same_or_a_later_step_is_rejected) {
  json body = example_body();
  body["steps"][0]["exec"]["command"][1] = "{{ steps.send.output }}";
  body["steps"][1]["template"]["value"]["text"] = "{{ steps.prompt.output }}";
  const auto errs = errors_of(body);
  BOOST_TEST(has_error(errs, "steps[0].exec.command[1]", "does not run before this step"));
  BOOST_TEST(has_error(errs, "steps[1].template.value.text", "does not run before this step"));
}

BOOST_AUTO_TEST_CASE(references_are_checked_in_every_string_of_a_step) {
  json body = minimal();
  body["steps"] = {
      {{"name", "a"},
       {"exec",
        {{"command", {"x", "{{ nope.a }}"}},
         {"env", {{"E", "{{ nope.b }}"}}},
         {"cwd", "{{ nope.c }}"},
         {"stdin", "{{ nope.d }}"}}}},
      {{"name", "b"},
       {"http",
        {{"url", "http://{{ nope.e }}"},
         {"headers", {{"H", "{{ nope.f }}"}}},
         {"body", {{"k", {"{{ nope.g }}"}}}}}}},
      {{"name", "c"}, {"template", {{"value", {{"deep", {{"er", "{{ nope.h }}"}}}}}}}}};
  const auto errs = errors_of(body);
  BOOST_TEST(errs.size() == 8u);
  for (auto field : {"steps[0].exec.command[1]", "steps[0].exec.env.E", "steps[0].exec.cwd",
                     "steps[0].exec.stdin", "steps[1].http.url", "steps[1].http.headers.H",
                     "steps[1].http.body.k[0]", "steps[2].template.value.deep.er"}) {
    BOOST_TEST(has_error(errs, field, "unknown root 'nope'"), field);
  }
}

BOOST_AUTO_TEST_CASE(secrets_run_fields_and_malformed_templates_are_checked) {
  auto check = [](const std::string& text, const std::string& part) {
    json body = minimal();
    body["steps"][0]["exec"]["command"] = {"x", text};
    BOOST_TEST(has_error(errors_of(body), "steps[0].exec.command[1]", part), text);
  };
  check("{{ secrets.TOKEN }}", "no secrets are configured");
  check("{{ run.node }}", "unknown run field");
  check("{{ run.id }} {{ params.topic", "unterminated");
  check("{{ }}", "empty");
  check("{{ steps.a }}", "steps.<name>.output");
  check("{{ a b }}", "malformed");
  for (auto ok : {"{{ run.id }}{{ run.task }}{{run.attempt}}", "{{ params.anything.at.all }}",
                  "}} {", "{{ params }}"}) {
    json body = minimal();
    body["steps"][0]["exec"]["command"] = {"x", ok};
    BOOST_TEST(errors_of(body).empty(), ok);
  }
}

BOOST_AUTO_TEST_CASE(every_problem_is_collected_and_the_first_is_reported) {
  json body = minimal();
  body["priority"] = 5000;
  body["queue"] = "Q";
  body["steps"][0]["exec"]["command"] = "ls";
  const auto errs = errors_of(body);
  BOOST_TEST(errs.size() == 3u);
  auto r = parse_task(body, "digest", false);
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(static_cast<int>(r.error().code) == static_cast<int>(errc::validation_failed));
  BOOST_TEST(r.error().field == errs.front().field);
  BOOST_TEST(r.error().message.find("(and 2 more)") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_body_that_is_not_an_object_is_rejected) {
  for (const json& body : {json::array(), json("x"), json(nullptr), json(1.5)}) {
    auto r = parse_task(body, "digest", false);
    BOOST_REQUIRE(!r.ok());
    BOOST_TEST(r.error().message.find("must be a JSON object") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(deeply_nested_params_are_refused_without_crashing) {
  // Moved, never copied: copying a json this deep would itself overflow the stack.
  auto deep = [] { return json::parse(std::string(100000, '[') + std::string(100000, ']')); };
  json body = minimal();
  body["params"]["x"] = deep();
  const auto params_errs = errors_of(body);
  BOOST_REQUIRE(params_errs.size() == 1u);
  BOOST_TEST(params_errs[0].field.rfind("params.x[0][0]", 0) == 0);
  BOOST_TEST(params_errs[0].message.find("nests deeper than 64 levels") != std::string::npos);
  json step_body = minimal();
  step_body["steps"][0] = {{"name", "a"}, {"template", json::object()}};
  step_body["steps"][0]["template"]["value"] = deep();
  const auto errs = errors_of(step_body);
  BOOST_REQUIRE(!errs.empty());
  BOOST_TEST(errs.front().message.find("nests deeper than 64 levels") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(invalid_utf8_is_rejected_and_every_message_still_serializes) {
  const std::string bad = "bad \xff\xc3 bytes";
  json body = minimal();
  body["description"] = bad;
  body["params"] = {{"k", bad}};
  body["steps"][0]["exec"]["command"] = {bad};
  body[bad] = 1;
  body["steps"][0]["exec"]["env"] = {{bad, "v"}};
  const auto errs = errors_of(body);
  BOOST_TEST(errs.size() >= 5u);
  BOOST_TEST(has_error(errs, "description", "valid UTF-8"));
  BOOST_TEST(has_error(errs, "params.k", "valid UTF-8"));
  BOOST_TEST(has_error(errs, "steps[0].exec.command[0]", "valid UTF-8"));
  for (const auto& e : errs) {
    BOOST_TEST(dumps(e.field));
    BOOST_TEST(dumps(e.message));
  }
  auto r = parse_task(body, "digest", false);
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(dumps(r.error().message));
}

BOOST_AUTO_TEST_CASE(a_flood_of_problems_is_capped) {
  json body = minimal();
  for (int i = 0; i < 5000; ++i) body["unknown" + std::to_string(i)] = i;
  const auto errs = errors_of(body);
  BOOST_TEST(errs.size() == max_reported_errors);
}

BOOST_AUTO_TEST_CASE(null_optional_fields_count_as_absent) {
  json body = minimal();
  body["description"] = nullptr;
  body["retry"] = nullptr;
  body["steps"][0]["timeout"] = nullptr;
  auto t = parse_task(body, "digest", false);
  BOOST_REQUIRE(t.ok());
  BOOST_TEST(t->description == "");
  BOOST_TEST(!t->steps[0].timeout.has_value());
}

BOOST_AUTO_TEST_CASE(parse_retry_reports_with_the_given_path) {
  std::vector<field_error> errs;
  BOOST_TEST(!parse_retry({{"max_attempts", 0}}, "x.retry", errs).has_value());
  BOOST_REQUIRE(errs.size() == 1u);
  BOOST_TEST(errs[0].field == "x.retry.max_attempts");
  errs.clear();
  const auto r = parse_retry({{"max_attempts", 7}, {"max_delay", "1h"}}, "retry", errs);
  BOOST_REQUIRE(r);
  BOOST_TEST(r->max_attempts == 7);
  BOOST_TEST(r->max_delay.count() == 3'600'000);
  BOOST_TEST(to_json(*r)["max_delay"] == "1h");
}

BOOST_AUTO_TEST_CASE(a_full_run_submission_parses) {
  auto r = parse_run_submit({{"params", {{"topic", "go"}}},
                             {"idempotency_key", "k1"},
                             {"priority", 5},
                             {"run_at", "2026-12-01T07:00:00.000Z"}});
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(r->params == json({{"topic", "go"}}));
  BOOST_TEST(r->idempotency_key.value() == "k1");
  BOOST_TEST(r->priority.value() == 5);
  BOOST_TEST(format_rfc3339(r->run_at.value()) == "2026-12-01T07:00:00.000Z");
}

BOOST_AUTO_TEST_CASE(an_empty_or_null_run_submission_uses_defaults) {
  for (const json& body : {json::object(), json(nullptr)}) {
    auto r = parse_run_submit(body);
    BOOST_REQUIRE(r.ok());
    BOOST_TEST(r->params == json::object());
    BOOST_TEST(!r->idempotency_key.has_value());
    BOOST_TEST(!r->priority.has_value());
    BOOST_TEST(!r->run_at.has_value());
  }
}

BOOST_AUTO_TEST_CASE(bad_run_submissions_are_rejected_with_their_field) {
  auto field_of = [](const json& body) {
    auto r = parse_run_submit(body);
    BOOST_REQUIRE(!r.ok());
    return r.error().field;
  };
  BOOST_TEST(field_of({{"parms", json::object()}}) == "parms");
  BOOST_TEST(field_of({{"params", {1}}}) == "params");
  BOOST_TEST(field_of({{"idempotency_key", ""}}) == "idempotency_key");
  BOOST_TEST(field_of({{"idempotency_key", std::string(201, 'k')}}) == "idempotency_key");
  BOOST_TEST(field_of({{"idempotency_key", 5}}) == "idempotency_key");
  BOOST_TEST(field_of({{"priority", 1001}}) == "priority");
  BOOST_TEST(field_of({{"priority", 1.5}}) == "priority");
  BOOST_TEST(field_of({{"run_at", "tomorrow"}}) == "run_at");
  BOOST_TEST(field_of({{"run_at", 0}}) == "run_at");
  BOOST_TEST(field_of(json::array()) == "");
  BOOST_TEST(parse_run_submit({{"idempotency_key", std::string(200, 'k')}}).ok());
}

BOOST_AUTO_TEST_CASE(batch_items_prefix_their_field_paths) {
  auto r = parse_run_submit({{"params", "x"}}, "runs[3]");
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(r.error().field == "runs[3].params");
  BOOST_TEST(r.error().message.rfind("runs[3].params must be an object", 0) == 0);
  auto u = parse_run_submit({{"task", "digest"}}, "runs[0]");
  BOOST_REQUIRE(!u.ok());
  BOOST_TEST(u.error().field == "runs[0].task");
  auto extra = parse_run_submit({{"task", "digest"}, {"params", {{"a", 1}}}}, "runs[0]",
                                std::vector<std::string>{"task"});
  BOOST_REQUIRE(extra.ok());
  BOOST_TEST(extra->params == json({{"a", 1}}));
}

BOOST_AUTO_TEST_CASE(merged_params_overlay_run_keys_shallowly) {
  const json merged =
      merge_params({{"a", 1}, {"o", {{"x", 1}, {"y", 2}}}}, {{"b", 2}, {"o", {{"x", 9}}}});
  BOOST_TEST(merged == json({{"a", 1}, {"b", 2}, {"o", {{"x", 9}}}}));
  BOOST_TEST(merge_params(nullptr, {{"a", 1}}) == json({{"a", 1}}));
  BOOST_TEST(merge_params({{"a", 1}}, nullptr) == json({{"a", 1}}));
}

BOOST_AUTO_TEST_CASE(param_references_must_resolve_in_the_merged_params) {
  json body = minimal();
  body["steps"][0]["exec"]["command"] = {"/bin/echo", "{{ params.topic }}"};
  auto t = parse_task(body, "digest", false);
  BOOST_REQUIRE(t.ok());
  const auto errs = check_param_references(*t, json::object());
  BOOST_REQUIRE(errs.size() == 1u);
  BOOST_TEST(errs[0].field == "steps[0].exec.command[1]");
  BOOST_TEST(errs[0].message ==
             "steps[0].exec.command[1]: template references unknown param 'topic'");
  BOOST_TEST(check_param_references(*t, {{"topic", "rust"}}).empty());
  BOOST_TEST(check_param_references(*t, merge_params(t->params, {{"topic", 1}})).empty());
}

BOOST_AUTO_TEST_CASE(deeper_param_paths_are_checked_inside_objects_and_arrays) {
  json body = minimal();
  body["steps"][0] = {
      {"name", "a"},
      {"template",
       {{"value", {"{{ params.user.name }}", "{{ params.list.1 }}", "{{ params.s.x }}"}}}}};
  auto t = parse_task(body, "digest", false);
  BOOST_REQUIRE(t.ok());
  auto errs = check_param_references(
      *t, {{"user", {{"name", "ann"}}}, {"list", {1, 2}}, {"s", {{"x", 1}}}});
  BOOST_TEST(errs.empty());
  errs = check_param_references(*t, {{"user", {{"id", 1}}}, {"list", {1}}, {"s", "text"}});
  BOOST_REQUIRE(errs.size() == 3u);
  BOOST_TEST(errs[0].message ==
             "steps[0].template.value[0]: template references unknown param 'user.name'");
  BOOST_TEST(errs[1].field == "steps[0].template.value[1]");
  BOOST_TEST(errs[2].field == "steps[0].template.value[2]");
}
