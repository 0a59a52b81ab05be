// The command line: verbs, help, exit codes (0 success, 1 failed operation,
// 2 usage or configuration error), migrate, and apply -f with YAML and JSON.
#define BOOST_TEST_MODULE cli
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <regex>

#include "support/harness.hpp"

using namespace orch::test;
namespace fs = std::filesystem;

namespace {

/// The outcome of one invocation of the binary.
struct outcome {
  int code = -1;
  std::string out;  // stdout and stderr
};

outcome run_orch(const std::vector<std::string>& args,
                 const std::map<std::string, std::string>& env = {}) {
  // A bound on every invocation: a verb that wrongly starts serving fails the test
  // instead of hanging it.
  std::vector<std::string> argv = {"/usr/bin/timeout", "-k", "5", "60", binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  outcome o;
  o.code = run_command(argv, env, &o.out);
  return o;
}

bool has(const std::string& text, const std::string& piece) {
  return text.find(piece) != std::string::npos;
}

/// A scratch directory, removed at the end of the test.
struct temp_dir {
  fs::path path;
  temp_dir() {
    std::string tmpl = (fs::temp_directory_path() / "orch-cli-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path = tmpl;
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string write(const std::string& name, const std::string& text) const {
    auto p = path / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
    return p.string();
  }
  std::string str() const { return path.string(); }
};

/// One API-only server for the apply cases: no scheduler or workers, so stored
/// next fire times move only when apply moves them.
struct env {
  server srv;
  client c;
  env() : srv({{"DATABASE_URL", fresh_database()}, {"NODE_ROLES", "api"}}), c(srv.url()) {
    srv.start_ready();
  }
  std::map<std::string, std::string> client_env() const {
    return {{"ORCH_URL", srv.url()}, {"ORCH_TOKEN", ""}};
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

/// A database for configuration checks: valid settings would migrate it quickly.
const std::string& config_db() {
  static const std::string db = fresh_database();
  return db;
}

json get_ok(const std::string& path) {
  auto r = E().c.get(path);
  BOOST_REQUIRE_MESSAGE(r.status == 200, "GET " << path << ": " << r.status << " " << r.body);
  return r.js();
}

const char* digest_yaml = R"(# tasks and a schedule, as a user would write them
tasks:
  - name: cli-digest
    description: Morning digest
    params:
      topic: rust
    steps:
      - name: fetch
        exec:
          command: [/usr/bin/printf, "%s", "{{ params.topic }}"]
        timeout: 30s
      - name: prompt
        template:
          value:
            text: "Summarize {{ steps.fetch.output }}"
    retry:
      max_attempts: 3
      initial_delay: 1s
    priority: 5
schedules:
  - id: cli-digest-morning
    task: cli-digest
    cron: "0 7 * * 1-5"
    timezone: Europe/Berlin
    misfire: skip
---
tasks:
  - name: cli-second-doc
    steps:
      - name: only
        exec:
          command: ["/bin/echo", "second document"]
)";

const char* digest_json = R"({
  "tasks": [
    {"name": "cli-json", "steps": [{"name": "a", "exec": {"command": ["/bin/echo", "json"]}}],
     "queue": "batch", "concurrency": 2}
  ],
  "schedules": [
    {"id": "cli-json-yearly", "task": "cli-json", "cron": "0 0 1 1 *", "params": {"k": 1}}
  ]
})";

}  // namespace

BOOST_TEST_GLOBAL_FIXTURE(stop_env);

BOOST_AUTO_TEST_CASE(version_prints_the_version_and_exits_0) {
  auto o = run_orch({"version"});
  BOOST_TEST(o.code == 0);
  BOOST_CHECK_MESSAGE(std::regex_search(o.out, std::regex(R"(^orchestrator \d+\.\d+\.\d+)")),
                      o.out);
}

BOOST_AUTO_TEST_CASE(every_verb_has_help_that_exits_0) {
  const std::vector<std::vector<std::string>> helps = {{"--help"},
                                                       {"-h"},
                                                       {"serve", "--help"},
                                                       {"migrate", "--help"},
                                                       {"apply", "--help"},
                                                       {"token", "--help"},
                                                       {"token", "create", "--help"},
                                                       {"version", "--help"}};
  for (const auto& args : helps) {
    std::string joined;
    for (const auto& a : args) joined += a + " ";
    BOOST_TEST_CONTEXT(joined) {
      // DATABASE_URL points nowhere: help must not touch a database or start anything.
      auto o = run_orch(args, {{"DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none"}});
      BOOST_TEST(o.code == 0);
      BOOST_CHECK_MESSAGE(has(o.out, "Usage") || has(o.out, "usage"), o.out);
    }
  }
  auto top = run_orch({"--help"});
  for (const char* verb : {"serve", "migrate", "apply", "token", "version"}) {
    BOOST_CHECK_MESSAGE(has(top.out, verb), "top-level help lacks " << verb);
  }
  BOOST_TEST(has(run_orch({"apply", "--help"}).out, "--file"));
  BOOST_TEST(has(run_orch({"token", "create", "--help"}).out, "--name"));
}

BOOST_AUTO_TEST_CASE(an_unknown_verb_or_option_is_a_usage_error_with_exit_2) {
  const std::vector<std::vector<std::string>> bad = {
      {},
      {"frobnicate"},
      {"--bogus"},
      {"version", "--bogus"},
      {"serve", "--port", "8080"},
      {"migrate", "extra"},
      {"apply"},
      {"apply", "-f"},
      {"token"},
      {"token", "delete"},
  };
  for (const auto& args : bad) {
    std::string joined;
    for (const auto& a : args) joined += a + " ";
    BOOST_TEST_CONTEXT("orchestrator " << joined) {
      auto o = run_orch(args, {{"DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none"}});
      BOOST_TEST(o.code == 2);
      BOOST_TEST(!o.out.empty());
    }
  }
}

BOOST_AUTO_TEST_CASE(configuration_errors_exit_2_with_a_clear_message) {
  struct bad_setting {
    std::string name, value, expect;
  };
  const std::vector<bad_setting> cases = {
      {"LOG_LEVEL", "LOUD", "DEBUG INFO WARNING ERROR"},
      {"WORKER_CONCURRENCY", "0", "1 to 50"},
      {"WORKER_CONCURRENCY", "51", "1 to 50"},
      {"WORKER_CONCURRENCY", "ten", "not an integer"},
      {"HTTP_PORT", "70000", "0 to 65535"},
      {"LEASE_TIMEOUT", "abc", "not a duration"},
      {"NODE_ROLES", "api,chef", "chef"},
      {"LOG_FORMAT", "xml", "text or json"},
      {"NODE_NAME", "has space", "NODE_NAME"},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT(c.name << "=" << c.value) {
      for (const char* verb : {"migrate", "serve"}) {
        BOOST_TEST_CONTEXT(verb) {
          auto o = run_orch({verb}, {{"DATABASE_URL", config_db()}, {c.name, c.value}});
          BOOST_TEST(o.code == 2);
          BOOST_CHECK_MESSAGE(has(o.out, "configuration error"), o.out);
          BOOST_CHECK_MESSAGE(has(o.out, c.name), o.out);
          BOOST_CHECK_MESSAGE(has(o.out, c.expect), o.out);
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(every_configuration_problem_is_reported_at_once) {
  auto o = run_orch({"migrate"}, {{"DATABASE_URL", config_db()},
                                  {"LOG_LEVEL", "LOUD"},
                                  {"WORKER_CONCURRENCY", "51"},
                                  {"HTTP_PORT", "70000"}});
  BOOST_TEST(o.code == 2);
  for (const char* name : {"LOG_LEVEL", "WORKER_CONCURRENCY", "HTTP_PORT"}) {
    BOOST_CHECK_MESSAGE(has(o.out, name), o.out);
  }
}

BOOST_AUTO_TEST_CASE(migrate_applies_the_migrations_and_a_second_run_applies_none) {
  auto db = fresh_database();
  auto first = run_orch({"migrate"}, {{"DATABASE_URL", db}});
  BOOST_CHECK_MESSAGE(first.code == 0, first.out);
  std::smatch m;
  BOOST_REQUIRE_MESSAGE(std::regex_search(first.out, m, std::regex(R"(applied (\d+) migration)")),
                        first.out);
  BOOST_TEST(std::stoi(m[1]) >= 1);
  auto second = run_orch({"migrate"}, {{"DATABASE_URL", db}});
  BOOST_TEST(second.code == 0);
  BOOST_CHECK_MESSAGE(has(second.out, "applied 0 migration"), second.out);

  pqxx::connection c{db};
  pqxx::work tx{c};
  BOOST_TEST(tx.exec("SELECT count(*) FROM schema_migrations")[0][0].as<int>() == std::stoi(m[1]));
}

BOOST_AUTO_TEST_CASE(migrate_refuses_an_edited_applied_migration) {
  auto db = fresh_database();
  BOOST_REQUIRE_EQUAL(run_orch({"migrate"}, {{"DATABASE_URL", db}}).code, 0);
  {
    pqxx::connection c{db};
    pqxx::work tx{c};
    tx.exec("UPDATE schema_migrations SET checksum = 'x'");
    tx.commit();
  }
  auto o = run_orch({"migrate"}, {{"DATABASE_URL", db}});
  BOOST_TEST(o.code != 0);
  BOOST_TEST(o.code == 1);
  BOOST_CHECK_MESSAGE(has(o.out, "checksum"), o.out);
}

BOOST_AUTO_TEST_CASE(apply_creates_tasks_and_schedules_and_a_second_apply_changes_nothing) {
  temp_dir dir;
  auto yaml = dir.write("digest.yaml", digest_yaml);
  auto jsonf = dir.write("more.json", digest_json);
  auto o = run_orch({"apply", "-f", yaml, "--file", jsonf}, E().client_env());
  BOOST_REQUIRE_MESSAGE(o.code == 0, o.out << "\nserver log:\n" << E().srv.log());
  BOOST_CHECK_MESSAGE(has(o.out, "task cli-digest: created"), o.out);
  BOOST_CHECK_MESSAGE(has(o.out, "schedule cli-digest-morning: created"), o.out);

  auto digest = get_ok("/v1/tasks/cli-digest");
  BOOST_TEST(digest["version"] == 1);
  BOOST_TEST(digest["description"] == "Morning digest");
  BOOST_TEST(digest["priority"] == 5);
  BOOST_TEST(digest["params"]["topic"] == "rust");
  BOOST_TEST(digest["retry"]["max_attempts"] == 3);
  BOOST_TEST(digest["steps"][0]["exec"]["command"][1] == "%s");
  BOOST_TEST(digest["steps"][0]["timeout"] == "30s");
  BOOST_TEST(get_ok("/v1/tasks/cli-second-doc")["version"] == 1);
  auto js = get_ok("/v1/tasks/cli-json");
  BOOST_TEST(js["queue"] == "batch");
  BOOST_TEST(js["concurrency"] == 2);

  auto morning = get_ok("/v1/schedules/cli-digest-morning");
  BOOST_TEST(morning["timezone"] == "Europe/Berlin");
  BOOST_TEST(morning["misfire"] == "skip");
  BOOST_TEST(morning["next_fire_at"].is_string());
  auto yearly = get_ok("/v1/schedules/cli-json-yearly");
  BOOST_TEST(yearly["params"]["k"] == 1);
  BOOST_TEST(yearly["next_fire_at"].is_string());

  // Again: nothing changes.
  auto again = run_orch({"apply", "-f", yaml, "-f", jsonf}, E().client_env());
  BOOST_REQUIRE_MESSAGE(again.code == 0, again.out);
  BOOST_CHECK_MESSAGE(!has(again.out, "created"), again.out);
  for (const char* t : {"cli-digest", "cli-second-doc", "cli-json"}) {
    BOOST_TEST_CONTEXT(t) {
      BOOST_TEST(get_ok(std::string("/v1/tasks/") + t)["version"] == 1);
    }
  }
  BOOST_TEST(get_ok("/v1/schedules/cli-digest-morning")["next_fire_at"] == morning["next_fire_at"]);
  BOOST_TEST(get_ok("/v1/schedules/cli-json-yearly")["next_fire_at"] == yearly["next_fire_at"]);
}

BOOST_AUTO_TEST_CASE(apply_takes_a_directory_of_yaml_and_json_files) {
  temp_dir dir;
  dir.write("a.yaml",
            "tasks:\n  - name: cli-dir-a\n    steps:\n      - name: s\n"
            "        exec: {command: [/bin/true]}\n");
  dir.write("b.yml",
            "schedules:\n  - id: cli-dir-b\n    task: cli-dir-a\n"
            "    cron: '@yearly'\n");
  dir.write("c.json", R"({"tasks":[{"name":"cli-dir-c","steps":[{"name":"s",)"
                      R"("template":{"value":"x"}}]}]})");
  dir.write("notes.txt", "not: [a task file");  // ignored: not .yaml/.yml/.json
  auto o = run_orch({"apply", "-f", dir.str()}, E().client_env());
  BOOST_REQUIRE_MESSAGE(o.code == 0, o.out);
  BOOST_TEST(get_ok("/v1/tasks/cli-dir-a")["version"] == 1);
  BOOST_TEST(get_ok("/v1/tasks/cli-dir-c")["version"] == 1);
  BOOST_TEST(get_ok("/v1/schedules/cli-dir-b")["task"] == "cli-dir-a");
}

BOOST_AUTO_TEST_CASE(a_changed_task_becomes_version_2) {
  temp_dir dir;
  auto v1 =
      "tasks:\n  - name: cli-change\n    steps:\n      - name: s\n"
      "        exec: {command: [/bin/echo, one]}\n";
  auto f = dir.write("t.yaml", v1);
  BOOST_REQUIRE_EQUAL(run_orch({"apply", "-f", f}, E().client_env()).code, 0);
  BOOST_TEST(get_ok("/v1/tasks/cli-change")["version"] == 1);
  dir.write("t.yaml",
            "tasks:\n  - name: cli-change\n    steps:\n      - name: s\n"
            "        exec: {command: [/bin/echo, two]}\n");
  auto o = run_orch({"apply", "-f", f}, E().client_env());
  BOOST_CHECK_MESSAGE(o.code == 0, o.out);
  BOOST_CHECK_MESSAGE(has(o.out, "version 2"), o.out);
  auto t = get_ok("/v1/tasks/cli-change");
  BOOST_TEST(t["version"] == 2);
  BOOST_TEST(t["steps"][0]["exec"]["command"][1] == "two");
}

BOOST_AUTO_TEST_CASE(malformed_yaml_exits_1_naming_the_file_and_the_line) {
  temp_dir dir;
  auto f = dir.write("broken.yaml",
                     "tasks:\n"
                     "  - name: cli-broken\n"
                     "    steps: [unclosed\n"
                     "    description: x\n");
  auto o = run_orch({"apply", "-f", f}, E().client_env());
  BOOST_TEST(o.code == 1);
  BOOST_CHECK_MESSAGE(has(o.out, "broken.yaml"), o.out);
  BOOST_CHECK_MESSAGE(std::regex_search(o.out, std::regex(R"(line [34]\b)")), o.out);
  BOOST_TEST(E().c.get("/v1/tasks/cli-broken").status == 404);

  auto tab = dir.write("tab.yaml", "tasks:\n  - name: x\n\t- bad indentation\n");
  auto t = run_orch({"apply", "-f", tab}, E().client_env());
  BOOST_TEST(t.code == 1);
  BOOST_CHECK_MESSAGE(has(t.out, "tab.yaml") && has(t.out, "line "), t.out);

  auto bad_json = dir.write("broken.json", "{\"tasks\": [}");
  auto j = run_orch({"apply", "-f", bad_json}, E().client_env());
  BOOST_TEST(j.code == 1);
  BOOST_CHECK_MESSAGE(has(j.out, "broken.json"), j.out);
}

BOOST_AUTO_TEST_CASE(an_unknown_top_level_key_exits_1) {
  temp_dir dir;
  auto f = dir.write("typo.yaml", "taks:\n  - name: cli-typo\n");
  auto o = run_orch({"apply", "-f", f}, E().client_env());
  BOOST_TEST(o.code == 1);
  BOOST_CHECK_MESSAGE(has(o.out, "typo.yaml") && has(o.out, "taks"), o.out);
  auto list = run_orch({"apply", "-f", dir.write("list.yaml", "- name: x\n")}, E().client_env());
  BOOST_TEST(list.code == 1);
  auto no_name = run_orch({"apply", "-f", dir.write("noname.yaml", "tasks:\n  - steps: []\n")},
                          E().client_env());
  BOOST_TEST(no_name.code == 1);
  BOOST_CHECK_MESSAGE(has(no_name.out, "name"), no_name.out);
  BOOST_TEST(E().c.get("/v1/tasks/cli-typo").status == 404);
}

BOOST_AUTO_TEST_CASE(a_task_the_server_rejects_exits_1_and_prints_the_server_message) {
  temp_dir dir;
  auto f = dir.write("shell.yaml",
                     "tasks:\n  - name: cli-shell\n    steps:\n"
                     "      - name: s\n        exec:\n"
                     "          command: echo hi && rm -rf /\n"
                     "  - name: cli-fine\n    steps:\n"
                     "      - name: s\n        exec: {command: [/bin/true]}\n");
  auto o = run_orch({"apply", "-f", f}, E().client_env());
  BOOST_TEST(o.code == 1);
  BOOST_CHECK_MESSAGE(has(o.out, "cli-shell"), o.out);
  BOOST_CHECK_MESSAGE(has(o.out, "steps[0].exec.command"), o.out);
  BOOST_CHECK_MESSAGE(has(o.out, "shell string is not accepted"), o.out);
  BOOST_TEST(E().c.get("/v1/tasks/cli-shell").status == 404);

  auto sched = dir.write("sched.yaml",
                         "schedules:\n  - id: cli-bad-cron\n    task: cli-fine\n"
                         "    cron: not a cron\n");
  auto s = run_orch({"apply", "-f", sched}, E().client_env());
  BOOST_TEST(s.code == 1);
  BOOST_CHECK_MESSAGE(has(s.out, "cli-bad-cron") && has(s.out, "cron"), s.out);
}

BOOST_AUTO_TEST_CASE(a_missing_file_exits_2) {
  temp_dir dir;
  auto missing = (dir.path / "nope.yaml").string();
  auto o = run_orch({"apply", "-f", missing}, E().client_env());
  BOOST_TEST(o.code == 2);
  BOOST_CHECK_MESSAGE(has(o.out, "nope.yaml"), o.out);
}

BOOST_AUTO_TEST_CASE(an_unreachable_server_exits_1) {
  temp_dir dir;
  auto f = dir.write("t.yaml",
                     "tasks:\n  - name: cli-unreachable\n    steps:\n"
                     "      - name: s\n        exec: {command: [/bin/true]}\n");
  auto url = "http://127.0.0.1:" + std::to_string(free_port());
  auto o = run_orch({"apply", "-f", f}, {{"ORCH_URL", url}, {"ORCH_TOKEN", ""}});
  BOOST_TEST(o.code == 1);
  BOOST_CHECK_MESSAGE(has(o.out, "cli-unreachable"), o.out);
  BOOST_CHECK_MESSAGE(has(o.out, url), o.out);
}

BOOST_AUTO_TEST_CASE(the_examples_directory_applies_cleanly) {
  fs::path examples = fs::path(ORCH_SOURCE_DIR) / "examples";
  bool any = false;
  std::error_code ec;
  if (fs::is_directory(examples, ec)) {
    for (const auto& e : fs::directory_iterator(examples, ec)) {
      auto ext = e.path().extension().string();
      any = any || ext == ".yaml" || ext == ".yml" || ext == ".json";
    }
  }
  if (!any) {
    BOOST_TEST_MESSAGE("examples/ holds no task files yet: skipped");
    return;
  }
  auto o = run_orch({"apply", "-f", examples.string()}, E().client_env());
  BOOST_CHECK_MESSAGE(o.code == 0, o.out);
  BOOST_CHECK_MESSAGE(has(o.out, ": created"), o.out);
  auto again = run_orch({"apply", "-f", examples.string()}, E().client_env());
  BOOST_CHECK_MESSAGE(again.code == 0, again.out);
  BOOST_CHECK_MESSAGE(!has(again.out, "created") && !has(again.out, "version 2"), again.out);
}
