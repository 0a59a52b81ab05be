// Guarantee 7: bad input never takes a node down. Every malformed, oversized,
// mistyped or misrouted request gets the JSON error shape with the right status,
// and none of them disturbs runs in flight.
#define BOOST_TEST_MODULE bad_input
#include <boost/test/unit_test.hpp>

#include "support/harness.hpp"

using namespace orch::test;

namespace {

/// One request that must be refused, and how.
struct bad_request {
  bad_request(std::string what_, std::string method_, std::string path_,
              std::optional<std::string> body_, long status_, std::string code_,
              std::optional<std::string> field_ = std::nullopt, std::string message_has_ = "")
      : what(std::move(what_)),
        method(std::move(method_)),
        path(std::move(path_)),
        body(std::move(body_)),
        status(status_),
        code(std::move(code_)),
        field(std::move(field_)),
        message_has(std::move(message_has_)) {}

  std::string what;
  std::string method;
  std::string path;
  std::optional<std::string> body;
  long status;
  std::string code;
  /// The expected `field`: nullopt does not check it, "" requires it to be absent.
  std::optional<std::string> field;
  /// A piece of text the message must contain ("" checks nothing).
  std::string message_has;
  std::string content_type = "application/json";
};

using catalogue = std::vector<bad_request>;

/// One server for the whole file, with the tasks the cases refer to.
struct env {
  server srv;
  client c;

  env() : srv({{"DATABASE_URL", fresh_database()}, {"WORKER_CONCURRENCY", "10"}}), c(srv.url()) {
    srv.start_ready();
    put_task("echo", exec_task({"/bin/echo", "hi"}));
    put_task("sleepy", exec_task({"/bin/sh", "-c", "sleep 1.5; echo done"}));
    json greet = {
        {"steps", json::array({{{"name", "say"},
                                {"exec", {{"command", {"/bin/echo", "{{ params.who }}"}}}}}})}};
    put_task("greet", greet);
  }
  void put_task(const std::string& name, const json& body) {
    auto r = c.put("/v1/tasks/" + name, body);
    if (r.status != 201 && r.status != 200) {
      throw std::runtime_error("cannot create task " + name + ": " + r.body + "\n" + srv.log());
    }
  }
};

std::unique_ptr<env>& env_slot() {
  static std::unique_ptr<env> e;
  return e;
}

/// The shared server, started on first use.
env& E() {
  auto& e = env_slot();
  if (!e) e = std::make_unique<env>();
  return *e;
}

/// Stops the shared server when the test tree is torn down, not in static destruction.
struct stop_env {
  stop_env() = default;
  ~stop_env() { env_slot().reset(); }
};

/// Asserts the status and the JSON error shape of a response.
void expect_error(const response& r, long status, const std::string& code,
                  const std::optional<std::string>& field = std::nullopt,
                  const std::string& message_has = "") {
  BOOST_TEST(r.status == status);
  json j;
  try {
    j = r.js();
  } catch (const std::exception&) {
    BOOST_ERROR("the body is not JSON: " << r.body.substr(0, 300));
    return;
  }
  BOOST_TEST_CONTEXT("body: " << r.body.substr(0, 500)) {
    BOOST_REQUIRE(j.is_object());
    BOOST_REQUIRE(j.contains("error"));
    const auto& e = j["error"];
    BOOST_REQUIRE(e.is_object());
    BOOST_TEST(e.value("code", std::string()) == code);
    BOOST_REQUIRE(e.contains("message"));
    BOOST_REQUIRE(e["message"].is_string());
    const auto message = e["message"].get<std::string>();
    BOOST_TEST(!message.empty());
    if (field) {
      if (field->empty()) {
        BOOST_TEST(!e.contains("field"));
      } else {
        BOOST_TEST(e.value("field", std::string("<absent>")) == *field);
      }
    }
    if (!message_has.empty()) {
      BOOST_CHECK_MESSAGE(message.find(message_has) != std::string::npos,
                          "message '" << message << "' lacks '" << message_has << "'");
    }
    auto ct = r.headers.find("content-type");
    bool is_json = ct != r.headers.end() && ct->second.rfind("application/json", 0) == 0;
    BOOST_TEST(is_json);
  }
}

response send(const bad_request& b) {
  return E().c.request(b.method, b.path, b.body, b.content_type);
}

void check(const catalogue& cases) {
  for (const auto& b : cases) {
    BOOST_TEST_CONTEXT(b.what << " (" << b.method << " " << b.path.substr(0, 120) << ")") {
      expect_error(send(b), b.status, b.code, b.field, b.message_has);
    }
  }
}

std::string task_with_step(const json& step) {
  return json{{"steps", json::array({step})}}.dump();
}

std::string nested_arrays(int depth) {
  return std::string(static_cast<std::size_t>(depth), '[') +
         std::string(static_cast<std::size_t>(depth), ']');
}

// --- the catalogue, by kind -------------------------------------------------

catalogue malformed_json() {
  return {
      {"an unclosed array", "PUT", "/v1/tasks/mj", R"({"steps": [)", 400, "bad_request", ""},
      {"a trailing comma", "POST", "/v1/tasks", R"({"name":"mj",})", 400, "bad_request", ""},
      {"not JSON at all", "POST", "/v1/tasks/echo/runs", "hello", 400, "bad_request", ""},
      {"garbage after the value", "POST", "/v1/schedules", R"({"task":"echo"} {})", 400,
       "bad_request", ""},
      {"an empty body where one is required", "PUT", "/v1/tasks/mj", std::string(), 400,
       "bad_request", ""},
      {"a lone surrogate escape", "PUT", "/v1/tasks/mj", R"({"description":"\ud800"})", 400,
       "bad_request", ""},
  };
}

catalogue non_objects() {
  return {
      {"an array as a task", "PUT", "/v1/tasks/na", "[]", 400, "bad_request", ""},
      {"an array as a run submission", "POST", "/v1/tasks/echo/runs", "[1,2]", 400, "bad_request",
       ""},
      {"a string as a schedule", "POST", "/v1/schedules", R"("nope")", 400, "bad_request", ""},
      {"a number as a batch", "POST", "/v1/runs/batch", "42", 400, "bad_request", ""},
  };
}

catalogue wrong_types() {
  return {
      {"a number as the command", "PUT", "/v1/tasks/wt",
       task_with_step({{"name", "a"}, {"exec", {{"command", 42}}}}), 400, "validation_failed",
       "steps[0].exec.command"},
      {"a number inside the command", "PUT", "/v1/tasks/wt",
       task_with_step({{"name", "a"}, {"exec", {{"command", {"/bin/echo", 7}}}}}), 400,
       "validation_failed", "steps[0].exec.command[1]"},
      {"a number as a step timeout", "PUT", "/v1/tasks/wt",
       task_with_step({{"name", "a"}, {"exec", {{"command", {"/bin/true"}}}}, {"timeout", 30}}),
       400, "validation_failed", "steps[0].timeout"},
      {"a string as max_attempts", "PUT", "/v1/tasks/wt",
       json{{"steps", json::array({{{"name", "a"}, {"exec", {{"command", {"/bin/true"}}}}}})},
            {"retry", {{"max_attempts", "3"}}}}
           .dump(),
       400, "validation_failed", "retry.max_attempts"},
      {"an array as task params", "PUT", "/v1/tasks/wt",
       json{{"steps", json::array({{{"name", "a"}, {"exec", {{"command", {"/bin/true"}}}}}})},
            {"params", json::array()}}
           .dump(),
       400, "validation_failed", "params"},
      {"an object as the steps", "PUT", "/v1/tasks/wt", R"({"steps":{"a":1}})", 400,
       "validation_failed", "steps"},
      {"a string as a step", "PUT", "/v1/tasks/wt", R"({"steps":["echo hi"]})", 400,
       "validation_failed", "steps[0]"},
      {"a string as run params", "POST", "/v1/tasks/echo/runs", R"({"params":"x"})", 400,
       "validation_failed", "params"},
      {"a number as the idempotency key", "POST", "/v1/tasks/echo/runs", R"({"idempotency_key":5})",
       400, "validation_failed", "idempotency_key"},
      {"a bad run_at time", "POST", "/v1/tasks/echo/runs", R"({"run_at":"tomorrow"})", 400,
       "validation_failed", "run_at"},
      {"a string as enabled", "POST", "/v1/schedules",
       R"({"task":"echo","cron":"0 7 * * *","enabled":"yes"})", 400, "validation_failed",
       "enabled"},
      {"an unknown misfire policy", "POST", "/v1/schedules",
       R"({"task":"echo","cron":"0 7 * * *","misfire":"sometimes"})", 400, "validation_failed",
       "misfire"},
  };
}

catalogue unknown_fields() {
  return {
      {"a typo at the top level", "PUT", "/v1/tasks/uf",
       R"({"descripton":"x","steps":[{"name":"a","exec":{"command":["/bin/true"]}}]})", 400,
       "validation_failed", "descripton", "descripton"},
      {"a typo in a step", "PUT", "/v1/tasks/uf",
       task_with_step({{"name", "a"}, {"exec", {{"command", {"/bin/true"}}}}, {"timout", "5s"}}),
       400, "validation_failed", "steps[0].timout", "timout"},
      {"a typo in an exec step", "PUT", "/v1/tasks/uf",
       task_with_step({{"name", "a"}, {"exec", {{"comand", {"/bin/true"}}}}}), 400,
       "validation_failed", "steps[0].exec.comand", "comand"},
      {"a typo in a retry policy", "PUT", "/v1/tasks/uf",
       json{{"steps", json::array({{{"name", "a"}, {"exec", {{"command", {"/bin/true"}}}}}})},
            {"retry", {{"max_attempt", 3}}}}
           .dump(),
       400, "validation_failed", "retry.max_attempt", "max_attempt"},
      {"a typo in a run submission", "POST", "/v1/tasks/echo/runs", R"({"parms":{}})", 400,
       "validation_failed", "parms", "parms"},
      {"a typo in a schedule", "POST", "/v1/schedules",
       R"({"task":"echo","cron":"0 7 * * *","timezon":"UTC"})", 400, "validation_failed", "timezon",
       "timezon"},
      {"a typo in a batch", "POST", "/v1/runs/batch", R"({"run":[]})", 400, "validation_failed",
       "run"},
      {"a typo in a batch item", "POST", "/v1/runs/batch",
       R"({"runs":[{"task":"echo","prams":{}}]})", 400, "validation_failed", "runs[0].prams"},
  };
}

catalogue shell_strings() {
  return {
      {"a shell string instead of an argv array", "PUT", "/v1/tasks/sh",
       task_with_step({{"name", "a"}, {"exec", {{"command", "echo hi && rm -rf /tmp/x"}}}}), 400,
       "validation_failed", "steps[0].exec.command", "shell"},
      {"an empty argv array", "PUT", "/v1/tasks/sh",
       task_with_step({{"name", "a"}, {"exec", {{"command", json::array()}}}}), 400,
       "validation_failed", "steps[0].exec.command"},
  };
}

catalogue oversized() {
  std::string big = R"({"params":{"x":")" + std::string(2u << 20, 'a') + R"("}})";
  return {
      {"a 2 MiB task body", "PUT", "/v1/tasks/big", big, 413, "payload_too_large", ""},
      {"a 2 MiB run submission", "POST", "/v1/tasks/echo/runs", big, 413, "payload_too_large", ""},
  };
}

catalogue media_types() {
  auto t = task_with_step({{"name", "a"}, {"exec", {{"command", {"/bin/true"}}}}});
  bad_request plain{"a text/plain task",      "PUT", "/v1/tasks/mt", t, 415,
                    "unsupported_media_type", ""};
  plain.content_type = "text/plain";
  bad_request form{"a form-encoded run submission", "POST", "/v1/tasks/echo/runs", "a=1", 415,
                   "unsupported_media_type",        ""};
  form.content_type = "application/x-www-form-urlencoded";
  bad_request xml{"an XML schedule",        "POST", "/v1/schedules", "<schedule/>", 415,
                  "unsupported_media_type", ""};
  xml.content_type = "application/xml";
  return {plain, form, xml};
}

catalogue schedules() {
  return {
      {"an invalid cron", "POST", "/v1/schedules", R"({"task":"echo","cron":"61 * * * *"})", 400,
       "validation_failed", "cron"},
      {"a cron with too few fields", "POST", "/v1/schedules", R"({"task":"echo","cron":"* *"})",
       400, "validation_failed", "cron"},
      {"an unknown time zone", "POST", "/v1/schedules",
       R"({"task":"echo","cron":"0 7 * * *","timezone":"Mars/Olympus_Mons"})", 400,
       "validation_failed", "timezone"},
      {"a schedule of an unknown task", "POST", "/v1/schedules",
       R"({"task":"no-such-task","cron":"0 7 * * *"})", 404, "not_found", "task"},
      {"a schedule put of an unknown task", "PUT", "/v1/schedules/s1",
       R"({"task":"no-such-task","cron":"0 7 * * *"})", 404, "not_found", "task"},
      {"an invalid schedule id", "PUT", "/v1/schedules/-bad",
       R"({"task":"echo","cron":"0 7 * * *"})", 400, "validation_failed", "id"},
  };
}

catalogue not_found() {
  return {
      {"a run of an unknown task", "POST", "/v1/tasks/no-such-task/runs", R"({})", 404,
       "not_found"},
      {"an unknown task", "GET", "/v1/tasks/no-such-task", std::nullopt, 404, "not_found"},
      {"deleting an unknown task", "DELETE", "/v1/tasks/no-such-task", std::nullopt, 404,
       "not_found"},
      {"an unknown schedule", "GET", "/v1/schedules/no-such", std::nullopt, 404, "not_found"},
      {"a batch naming an unknown task", "POST", "/v1/runs/batch",
       R"({"runs":[{"task":"echo"},{"task":"no-such-task"}]})", 404, "not_found", "runs[1].task"},
  };
}

catalogue template_references() {
  json later = {
      {"steps",
       json::array({{{"name", "a"}, {"exec", {{"command", {"/bin/echo", "{{ steps.b.output }}"}}}}},
                    {{"name", "b"}, {"exec", {{"command", {"/bin/true"}}}}}})}};
  json unknown = {
      {"steps", json::array({{{"name", "a"}, {"exec", {{"command", {"/bin/true"}}}}},
                             {{"name", "b"},
                              {"template", {{"value", {{"x", "{{ steps.fech.output }}"}}}}}}})}};
  json itself = {
      {"steps", json::array({{{"name", "a"},
                              {"exec", {{"command", {"/bin/echo", "{{ steps.a.output }}"}}}}}})}};
  json root = {{"steps", json::array({{{"name", "a"},
                                       {"exec", {{"command", {"/bin/echo", "{{ nope.x }}"}}}}}})}};
  return {
      {"a reference to a later step", "PUT", "/v1/tasks/tr", later.dump(), 400, "validation_failed",
       "steps[0].exec.command[1]", "does not run before"},
      {"a reference to an unknown step", "PUT", "/v1/tasks/tr", unknown.dump(), 400,
       "validation_failed", "steps[1].template.value.x", "unknown step 'fech'"},
      {"a reference of a step to itself", "PUT", "/v1/tasks/tr", itself.dump(), 400,
       "validation_failed", "steps[0].exec.command[1]"},
      {"a reference to an unknown root", "PUT", "/v1/tasks/tr", root.dump(), 400,
       "validation_failed", "steps[0].exec.command[1]"},
      {"a submission lacking a referenced param", "POST", "/v1/tasks/greet/runs", R"({})", 400,
       "validation_failed", "steps[0].exec.command[1]", "who"},
  };
}

catalogue numbers() {
  auto with = [](const json& extra) {
    json t = {{"steps", json::array({{{"name", "a"}, {"exec", {{"command", {"/bin/true"}}}}}})}};
    for (auto it = extra.begin(); it != extra.end(); ++it) t[it.key()] = *it;
    return t.dump();
  };
  return {
      {"priority 1e300 on a task", "PUT", "/v1/tasks/nb", with({{"priority", 1e300}}), 400,
       "validation_failed", "priority"},
      {"priority 2^64-1 on a task", "PUT", "/v1/tasks/nb",
       R"({"priority":18446744073709551615,"steps":[{"name":"a","exec":{"command":["/bin/true"]}}]})",
       400, "validation_failed", "priority"},
      {"a fractional priority", "PUT", "/v1/tasks/nb", with({{"priority", 1.5}}), 400,
       "validation_failed", "priority"},
      {"max_attempts -1", "PUT", "/v1/tasks/nb", with({{"retry", {{"max_attempts", -1}}}}), 400,
       "validation_failed", "retry.max_attempts"},
      {"concurrency -1", "PUT", "/v1/tasks/nb", with({{"concurrency", -1}}), 400,
       "validation_failed", "concurrency"},
      {"a negative timeout", "PUT", "/v1/tasks/nb", with({{"timeout", "-5s"}}), 400,
       "validation_failed", "timeout"},
      {"a ten-year timeout", "PUT", "/v1/tasks/nb", with({{"timeout", "3650d"}}), 400,
       "validation_failed", "timeout"},
      {"priority 1e300 on a run", "POST", "/v1/tasks/echo/runs", R"({"priority":1e300})", 400,
       "validation_failed", "priority"},
      {"priority -1e300 on a run", "POST", "/v1/tasks/echo/runs", R"({"priority":-1e300})", 400,
       "validation_failed", "priority"},
      {"limit=-5", "GET", "/v1/runs?limit=-5", std::nullopt, 400, "validation_failed", "limit"},
      {"limit=0", "GET", "/v1/tasks?limit=0", std::nullopt, 400, "validation_failed", "limit"},
      {"limit=501", "GET", "/v1/schedules?limit=501", std::nullopt, 400, "validation_failed",
       "limit"},
      {"a 20-digit limit", "GET", "/v1/runs?limit=99999999999999999999", std::nullopt, 400,
       "validation_failed", "limit"},
      {"limit=abc", "GET", "/v1/runs?limit=abc", std::nullopt, 400, "validation_failed", "limit"},
      {"a preview count of 1e9", "GET", "/v1/schedules/x/preview?count=1000000000", std::nullopt,
       400, "validation_failed", "count"},
  };
}

catalogue invalid_utf8() {
  std::string in_description = std::string(R"({"description":"ab)") + "\xff\xfe" +
                               R"(","steps":[{"name":"a","exec":{"command":["/bin/true"]}}]})";
  std::string in_param = std::string(R"({"params":{"x":")") + "\xc3\x28" + R"("}})";
  std::string in_key = std::string(R"({"params":{")") + "\xed\xa0\x80" + R"(":1}})";
  return {
      {"invalid UTF-8 in a description", "PUT", "/v1/tasks/u8", in_description, 400, "bad_request",
       ""},
      {"invalid UTF-8 in a run param", "POST", "/v1/tasks/echo/runs", in_param, 400, "bad_request",
       ""},
      {"an encoded surrogate in a key", "POST", "/v1/tasks/echo/runs", in_key, 400, "bad_request",
       ""},
  };
}

catalogue deep_nesting() {
  return {
      {"10000 nested arrays as a body", "PUT", "/v1/tasks/deep", nested_arrays(10000), 400,
       "bad_request", ""},
      {"10000 nested arrays in run params", "POST", "/v1/tasks/echo/runs",
       R"({"params":{"x":)" + nested_arrays(10000) + "}}", 400, "bad_request", ""},
      {"10000 nested objects in a schedule", "POST", "/v1/schedules",
       [] {
         std::string s = R"({"task":"echo","cron":"0 7 * * *","params":)";
         for (int i = 0; i < 10000; ++i) s += R"({"a":)";
         s += "1";
         s += std::string(10000, '}');
         return s + "}";
       }(),
       400, "bad_request", ""},
  };
}

catalogue run_ids() {
  return {
      {"a run id of letters", "GET", "/v1/runs/abc", std::nullopt, 404, "not_found"},
      {"a negative run id", "GET", "/v1/runs/-1", std::nullopt, 404, "not_found"},
      {"run id 0", "GET", "/v1/runs/0", std::nullopt, 404, "not_found"},
      {"a run id past 2^63", "GET", "/v1/runs/99999999999999999999", std::nullopt, 404,
       "not_found"},
      {"a run id with a suffix", "GET", "/v1/runs/12abc", std::nullopt, 404, "not_found"},
      {"a run that does not exist", "GET", "/v1/runs/987654321", std::nullopt, 404, "not_found"},
      {"logs of a run id of letters", "GET", "/v1/runs/abc/logs", std::nullopt, 404, "not_found"},
      {"cancel of a run id of letters", "POST", "/v1/runs/abc/cancel", std::nullopt, 404,
       "not_found"},
      {"cancel of a run that does not exist", "POST", "/v1/runs/987654321/cancel", std::nullopt,
       404, "not_found"},
      {"retry of a run id of letters", "POST", "/v1/runs/abc/retry", std::nullopt, 404,
       "not_found"},
      {"retry of a run that does not exist", "POST", "/v1/runs/987654321/retry", std::nullopt, 404,
       "not_found"},
  };
}

catalogue queries() {
  return {
      {"an unknown query parameter on runs", "GET", "/v1/runs?colour=red", std::nullopt, 400,
       "validation_failed", "colour"},
      {"an unknown query parameter on tasks", "GET", "/v1/tasks?sort=name", std::nullopt, 400,
       "validation_failed", "sort"},
      {"an unknown query parameter on logs", "GET", "/v1/runs/1/logs?tail=5", std::nullopt, 400,
       "validation_failed", "tail"},
      {"a bad status filter", "GET", "/v1/runs?status=done", std::nullopt, 400, "validation_failed",
       "status"},
      {"an upper-case status filter", "GET", "/v1/runs?status=RUNNING", std::nullopt, 400,
       "validation_failed", "status"},
      {"a cursor of letters", "GET", "/v1/runs?cursor=abc", std::nullopt, 400, "validation_failed",
       "cursor"},
      {"a negative logs offset", "GET", "/v1/runs/1/logs?after=-3", std::nullopt, 400,
       "validation_failed", "after"},
  };
}

catalogue methods_and_routes() {
  return {
      {"PATCH on a task", "PATCH", "/v1/tasks/echo", R"({})", 405, "method_not_allowed"},
      {"DELETE on the run list", "DELETE", "/v1/runs", std::nullopt, 405, "method_not_allowed"},
      {"PUT on /health", "PUT", "/health", R"({})", 405, "method_not_allowed"},
      {"POST on the queue", "POST", "/v1/queue", R"({})", 405, "method_not_allowed"},
      {"GET on cancel", "GET", "/v1/runs/1/cancel", std::nullopt, 405, "method_not_allowed"},
      {"DELETE on the batch route", "DELETE", "/v1/runs/batch", std::nullopt, 405,
       "method_not_allowed"},
      {"an unknown API version", "GET", "/v2/tasks", std::nullopt, 404, "not_found"},
      {"an unknown collection", "GET", "/v1/taskz", std::nullopt, 404, "not_found"},
      {"an unknown sub-resource", "GET", "/v1/tasks/echo/runs/extra", std::nullopt, 404,
       "not_found"},
      {"an unknown run action", "POST", "/v1/runs/1/explode", std::nullopt, 404, "not_found"},
  };
}

catalogue malformed_paths() {
  return {
      {"an invalid percent escape in a task name", "GET", "/v1/tasks/%zz", std::nullopt, 400,
       "bad_request", ""},
      {"a truncated percent escape in a run id", "POST", "/v1/runs/1%2/cancel", std::nullopt, 400,
       "bad_request", ""},
      {"a lone percent sign at the end", "PUT", "/v1/tasks/a%", R"({})", 400, "bad_request", ""},
      {"an invalid percent escape on an unknown route", "GET", "/v1/nope/%g1", std::nullopt, 400,
       "bad_request", ""},
      {"an invalid escape in the query", "GET", "/v1/runs?limit=%zz", std::nullopt, 400,
       "bad_request", ""},
      {"invalid UTF-8 in the query", "GET", "/v1/runs?task=%ff", std::nullopt, 400, "bad_request",
       ""},
  };
}

catalogue task_names() {
  auto t = task_with_step({{"name", "a"}, {"exec", {{"command", {"/bin/true"}}}}});
  return {
      {"an upper-case task name", "PUT", "/v1/tasks/Digest", t, 400, "validation_failed", "name"},
      {"a task name with a leading dash", "PUT", "/v1/tasks/-digest", t, 400, "validation_failed",
       "name"},
      {"a 64-character task name", "PUT", "/v1/tasks/" + std::string(64, 'a'), t, 400,
       "validation_failed", "name"},
      {"a task name with a dot", "PUT", "/v1/tasks/a.b", t, 400, "validation_failed", "name"},
      {"a task name with an escaped space", "PUT", "/v1/tasks/a%20b", t, 400, "validation_failed",
       "name"},
      {"a body name that differs from the path", "PUT", "/v1/tasks/nm",
       R"({"name":"other","steps":[{"name":"a","exec":{"command":["/bin/true"]}}]})", 400,
       "validation_failed", "name"},
      {"an invalid name in POST /v1/tasks", "POST", "/v1/tasks",
       R"({"name":"Bad Name","steps":[{"name":"a","exec":{"command":["/bin/true"]}}]})", 400,
       "validation_failed", "name"},
      {"an invalid step name", "PUT", "/v1/tasks/nm",
       task_with_step({{"name", "Fetch It"}, {"exec", {{"command", {"/bin/true"}}}}}), 400,
       "validation_failed", "steps[0].name"},
      {"a run of an upper-case task", "POST", "/v1/tasks/Digest/runs", R"({})", 404, "not_found"},
      {"an upper-case task", "GET", "/v1/tasks/Digest", std::nullopt, 404, "not_found"},
  };
}

catalogue batches() {
  json huge = json::object();
  huge["runs"] = json::array();
  for (int i = 0; i < 10001; ++i) huge["runs"].push_back({{"task", "echo"}});
  json one_bad = {{"runs", json::array()}};
  for (int i = 0; i < 5; ++i) one_bad["runs"].push_back({{"task", "echo"}});
  one_bad["runs"][3]["params"] = "not an object";
  json bad_name = {{"runs", json::array({{{"task", "echo"}}, {{"task", "Echo!"}}})}};
  json with_key = {{"runs", json::array({{{"task", "echo"}, {"idempotency_key", "k"}}})}};
  return {
      {"a batch of 10001 runs", "POST", "/v1/runs/batch", huge.dump(), 400, "validation_failed",
       "runs"},
      {"an empty batch", "POST", "/v1/runs/batch", R"({"runs":[]})", 400, "validation_failed",
       "runs"},
      {"a batch without runs", "POST", "/v1/runs/batch", R"({})", 400, "validation_failed", "runs"},
      {"a batch whose runs is an object", "POST", "/v1/runs/batch", R"({"runs":{}})", 400,
       "validation_failed", "runs"},
      {"a batch with one bad item", "POST", "/v1/runs/batch", one_bad.dump(), 400,
       "validation_failed", "runs[3].params"},
      {"a batch item that is not an object", "POST", "/v1/runs/batch",
       R"({"runs":[{"task":"echo"},7]})", 400, "validation_failed", "runs[1]"},
      {"a batch item with an invalid task name", "POST", "/v1/runs/batch", bad_name.dump(), 400,
       "validation_failed", "runs[1].task"},
      {"a batch item with an idempotency key", "POST", "/v1/runs/batch", with_key.dump(), 400,
       "validation_failed", "runs[0].idempotency_key"},
  };
}

/// Every stateless bad request above.
catalogue everything() {
  catalogue all;
  for (auto part : {malformed_json(), non_objects(), wrong_types(), unknown_fields(),
                    shell_strings(), oversized(), media_types(), schedules(), not_found(),
                    template_references(), numbers(), invalid_utf8(), deep_nesting(), run_ids(),
                    queries(), methods_and_routes(), malformed_paths(), task_names(), batches()}) {
    all.insert(all.end(), part.begin(), part.end());
  }
  return all;
}

/// Runs of `task` (every run when empty); the tests here make far fewer than 500.
std::size_t run_count(const std::string& task = "") {
  auto r = E().c.get("/v1/runs?limit=500" + (task.empty() ? std::string() : "&task=" + task));
  BOOST_REQUIRE_EQUAL(r.status, 200);
  return r.js()["items"].size();
}

std::string submit(const std::string& task, const json& body = json::object()) {
  auto r = E().c.post("/v1/tasks/" + task + "/runs", body);
  BOOST_REQUIRE_MESSAGE(r.status == 201, "submit " << task << ": " << r.status << " " << r.body);
  return r.js()["id"].get<std::string>();
}

}  // namespace

BOOST_TEST_GLOBAL_FIXTURE(stop_env);

BOOST_AUTO_TEST_CASE(malformed_json_is_a_400_bad_request) {
  check(malformed_json());
}

BOOST_AUTO_TEST_CASE(a_body_that_is_not_an_object_is_a_400_bad_request) {
  check(non_objects());
}

BOOST_AUTO_TEST_CASE(wrong_types_are_refused_with_the_path_of_the_field) {
  check(wrong_types());
}

BOOST_AUTO_TEST_CASE(unknown_fields_are_refused_at_every_depth_naming_the_field) {
  check(unknown_fields());
}

BOOST_AUTO_TEST_CASE(unknown_fields_come_with_a_suggestion_when_one_is_close) {
  auto r = E().c.request("PUT", "/v1/tasks/uf",
                         task_with_step({{"name", "a"}, {"exec", {{"comand", {"/bin/true"}}}}}));
  expect_error(r, 400, "validation_failed", "steps[0].exec.comand", "did you mean 'command'");
}

BOOST_AUTO_TEST_CASE(a_shell_string_instead_of_an_argv_array_is_refused) {
  check(shell_strings());
}

BOOST_AUTO_TEST_CASE(an_oversized_body_is_refused_with_413) {
  check(oversized());
}

BOOST_AUTO_TEST_CASE(a_body_that_is_not_json_by_content_type_is_refused_with_415) {
  check(media_types());
}

BOOST_AUTO_TEST_CASE(a_json_content_type_with_parameters_is_accepted) {
  auto r = E().c.request("POST", "/v1/tasks/echo/runs", "{}", "Application/JSON; charset=utf-8");
  BOOST_TEST(r.status == 201);
}

BOOST_AUTO_TEST_CASE(invalid_cron_and_unknown_time_zones_are_refused_naming_the_field) {
  check(schedules());
}

BOOST_AUTO_TEST_CASE(unknown_tasks_are_404_on_submit_and_on_schedule_create) {
  check(not_found());
}

BOOST_AUTO_TEST_CASE(template_references_to_unknown_or_later_steps_are_refused) {
  check(template_references());
}

BOOST_AUTO_TEST_CASE(huge_negative_and_fractional_numbers_are_refused) {
  check(numbers());
}

BOOST_AUTO_TEST_CASE(invalid_utf8_inside_a_json_string_is_refused) {
  check(invalid_utf8());
}

BOOST_AUTO_TEST_CASE(ten_thousand_nested_arrays_are_refused_quickly_and_the_server_stays_up) {
  auto started = std::chrono::steady_clock::now();
  check(deep_nesting());
  auto elapsed = std::chrono::steady_clock::now() - started;
  BOOST_TEST(std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count() < 3000);
  BOOST_TEST(E().c.get("/health").status == 200);
  BOOST_TEST(E().srv.running());
}

BOOST_AUTO_TEST_CASE(invalid_run_ids_in_paths_are_404) {
  check(run_ids());
}

BOOST_AUTO_TEST_CASE(unknown_query_parameters_and_bad_filters_are_refused) {
  check(queries());
}

BOOST_AUTO_TEST_CASE(a_wrong_method_is_405_and_an_unknown_route_is_404) {
  check(methods_and_routes());
}

BOOST_AUTO_TEST_CASE(malformed_percent_encoding_in_a_path_is_a_400_not_a_closed_connection) {
  check(malformed_paths());
}

BOOST_AUTO_TEST_CASE(requests_beyond_the_http_parser_limits_leave_the_server_up) {
  // RESTinio refuses these at the HTTP level (the connection may just close).
  auto long_url = E().c.get("/v1/tasks/" + std::string(9000, 'a'));
  BOOST_TEST((long_url.status < 0 || (long_url.status >= 400 && long_url.status < 500)));
  auto long_header = E().c.request("GET", "/health", std::nullopt, "application/json",
                                   {"X-Big: " + std::string(20000, 'x')});
  BOOST_TEST((long_header.status < 0 || (long_header.status >= 400 && long_header.status < 500)));
  std::vector<std::string> many;
  for (int i = 0; i < 150; ++i) many.push_back("X-H" + std::to_string(i) + ": v");
  auto many_headers = E().c.request("GET", "/health", std::nullopt, "application/json", many);
  BOOST_TEST(
      (many_headers.status < 0 || (many_headers.status >= 400 && many_headers.status < 500)));
  BOOST_TEST(E().c.get("/health").status == 200);
  BOOST_TEST(E().srv.running());
}

BOOST_AUTO_TEST_CASE(invalid_task_names_are_refused) {
  check(task_names());
}

BOOST_AUTO_TEST_CASE(a_bad_batch_is_refused_whole_and_inserts_nothing) {
  E().put_task("batched", exec_task({"/bin/echo", "{{ params.n }}"}));
  const auto before = run_count("batched");
  const auto before_all = run_count();
  check(batches());
  BOOST_TEST(run_count() == before_all);
  // One item whose params miss a referenced param: refused after the task lookup.
  json late_bad = {{"runs", json::array()}};
  for (int i = 0; i < 4; ++i)
    late_bad["runs"].push_back({{"task", "batched"}, {"params", {{"n", i}}}});
  late_bad["runs"].push_back({{"task", "batched"}});
  expect_error(E().c.post("/v1/runs/batch", late_bad), 400, "validation_failed", "runs[4].params");
  // One item naming an unknown task, after valid ones.
  json late_missing = {{"runs", json::array({{{"task", "batched"}, {"params", {{"n", 1}}}},
                                             {{"task", "batched"}, {"params", {{"n", 2}}}},
                                             {{"task", "no-such-task"}}})}};
  expect_error(E().c.post("/v1/runs/batch", late_missing), 404, "not_found", "runs[2].task");
  BOOST_TEST(run_count("batched") == before);
  BOOST_TEST(run_count() == before_all);
  // The same items without the bad one are accepted: the refusals were about that item.
  late_bad["runs"].erase(4);
  auto ok = E().c.post("/v1/runs/batch", late_bad);
  BOOST_REQUIRE_EQUAL(ok.status, 201);
  BOOST_TEST(ok.js()["items"].size() == 4u);
  BOOST_TEST(run_count("batched") == before + 4);
}

BOOST_AUTO_TEST_CASE(creating_a_task_whose_name_exists_is_a_409_conflict) {
  json t = json::parse(task_with_step({{"name", "a"}, {"exec", {{"command", {"/bin/true"}}}}}));
  t["name"] = "dup";
  auto first = E().c.post("/v1/tasks", t);
  BOOST_TEST(first.status == 201);
  expect_error(E().c.post("/v1/tasks", t), 409, "conflict", "name");
  auto head = E().c.get("/v1/tasks/dup");
  BOOST_REQUIRE_EQUAL(head.status, 200);
  BOOST_TEST(head.js()["version"] == 1);
}

BOOST_AUTO_TEST_CASE(cancelling_a_finished_run_is_a_409_conflict) {
  auto id = submit("echo");
  auto run = wait_terminal(E().c, id);
  BOOST_REQUIRE(run["status"] == "succeeded");
  expect_error(E().c.request("POST", "/v1/runs/" + id + "/cancel"), 409, "conflict");
  BOOST_TEST(E().c.get("/v1/runs/" + id).js()["status"] == "succeeded");
}

BOOST_AUTO_TEST_CASE(retrying_an_active_run_is_a_409_conflict) {
  // Far in the future, so it stays pending (active) for the whole test.
  auto id = submit("echo", {{"run_at", "2099-01-01T00:00:00.000Z"}});
  expect_error(E().c.request("POST", "/v1/runs/" + id + "/retry"), 409, "conflict");
  auto cancel = E().c.request("POST", "/v1/runs/" + id + "/cancel");
  BOOST_TEST(cancel.status == 202);
  BOOST_TEST(E().c.get("/v1/runs/" + id).js()["status"] == "cancelled");
}

BOOST_AUTO_TEST_CASE(a_repeated_idempotency_key_returns_the_same_run_with_200) {
  auto first = E().c.post("/v1/tasks/echo/runs", {{"idempotency_key", "bad-input-k1"}});
  BOOST_REQUIRE_EQUAL(first.status, 201);
  auto again = E().c.post("/v1/tasks/echo/runs", {{"idempotency_key", "bad-input-k1"}});
  BOOST_REQUIRE_EQUAL(again.status, 200);
  BOOST_TEST(again.js()["id"] == first.js()["id"]);
  // The key is per task: another task gets its own run.
  auto other = E().c.post("/v1/tasks/sleepy/runs", {{"idempotency_key", "bad-input-k1"},
                                                    {"run_at", "2099-01-01T00:00:00.000Z"}});
  BOOST_REQUIRE_EQUAL(other.status, 201);
  BOOST_TEST(other.js()["id"] != first.js()["id"]);
  E().c.request("POST", "/v1/runs/" + other.js()["id"].get<std::string>() + "/cancel");
}

BOOST_AUTO_TEST_CASE(no_bad_request_disturbs_runs_in_flight) {
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(submit("sleepy"));
  // Wait until they execute, so the barrage below hits runs in flight.
  bool running = eventually(
      [&] {
        for (const auto& id : ids) {
          auto r = E().c.get("/v1/runs/" + id);
          if (r.status != 200 || r.js()["status"] != "running") return false;
        }
        return true;
      },
      10s);
  BOOST_REQUIRE_MESSAGE(running, "the sleeping runs never ran; log:\n" << E().srv.log());
  // Retrying a running run is a conflict too, and changes nothing.
  expect_error(E().c.request("POST", "/v1/runs/" + ids[0] + "/retry"), 409, "conflict");

  const auto all = everything();
  for (const auto& b : all) {
    BOOST_TEST_CONTEXT(b.what) {
      auto r = send(b);
      BOOST_TEST(r.status == b.status);
    }
  }
  BOOST_TEST(E().c.get("/health").status == 200);
  BOOST_TEST_MESSAGE("sent " << all.size() << " bad requests while runs were in flight");

  for (const auto& id : ids) {
    auto run = wait_terminal(E().c, id, 30s);
    BOOST_TEST_CONTEXT("run " << id) {
      BOOST_TEST(run["status"] == "succeeded");
      BOOST_TEST(run["attempt"] == 1);
      BOOST_REQUIRE_EQUAL(run["steps"].size(), 1u);
      BOOST_TEST(run["steps"][0]["output"] == "done\n");
    }
  }
  BOOST_TEST(E().c.get("/health").status == 200);
  BOOST_TEST(E().c.get("/ready").status == 200);
  BOOST_TEST(E().srv.running());
}
