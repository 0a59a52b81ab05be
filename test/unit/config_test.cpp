#define BOOST_TEST_MODULE config
#include "runtime/config.hpp"

#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <fstream>
#include <map>
#include <set>
#include <string>

using namespace orch;
using namespace orch::runtime;
using namespace std::chrono_literals;

namespace {

using vars = std::map<std::string, std::string>;

/// load_config over a fixed environment.
result<config> load(const vars& env) {
  return load_config([&env](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
}

config load_ok(const vars& env) {
  auto c = load(env);
  BOOST_REQUIRE_MESSAGE(c.ok(), "configuration refused: " << (c.ok() ? "" : c.error().message));
  return *c;
}

/// Asserts that `name=value` is refused with a message naming the variable.
void expect_refused(const std::string& name, const std::string& value,
                    const std::string& message_has = "") {
  BOOST_TEST_CONTEXT(name << "='" << value << "'") {
    auto c = load({{name, value}});
    BOOST_REQUIRE(!c.ok());
    BOOST_TEST((c.error().code == errc::validation_failed));
    const auto& msg = c.error().message;
    BOOST_CHECK_MESSAGE(msg.find(name) != std::string::npos, msg);
    if (!message_has.empty()) {
      BOOST_CHECK_MESSAGE(msg.find(message_has) != std::string::npos,
                          "'" << msg << "' lacks '" << message_has << "'");
    }
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(defaults_apply_when_nothing_is_set) {
  auto c = load_ok({});
  BOOST_TEST(c.database_url.empty());
  BOOST_TEST(c.orch_home == "./.orchestrator");
  BOOST_TEST(c.http_host == "127.0.0.1");
  BOOST_TEST(c.http_port == 8080);
  BOOST_TEST(c.api_workers == 4);
  BOOST_TEST(c.max_body_bytes == std::size_t{1} << 20);
  BOOST_TEST((c.level == log_level::info));
  BOOST_TEST(!c.log_json);
  BOOST_TEST(c.enable_metrics);
  BOOST_TEST(c.shutdown_grace.count() == 25000);
  BOOST_TEST((c.roles == std::vector<std::string>{"api", "scheduler", "dispatcher", "worker"}));
  BOOST_TEST(!c.fault_injection);
  BOOST_TEST(c.redis_url.empty());
  const auto& e = c.engine;
  BOOST_TEST(e.worker_concurrency == 10);
  BOOST_TEST(e.prefetch == 0);
  BOOST_TEST(e.effective_prefetch() == 64);
  BOOST_TEST(e.queues.empty());
  BOOST_TEST(e.scheduler_interval.count() == 5000);
  BOOST_TEST(e.poll_interval.count() == 1000);
  BOOST_TEST(e.misfire_grace.count() == 5);
  BOOST_TEST(e.lease_timeout.count() == 15000);
  BOOST_TEST(e.kill_grace.count() == 5000);
  BOOST_TEST(e.run_retention.count() == 30LL * 24 * 3600 * 1000);
  BOOST_TEST(!e.node_name.empty());
  BOOST_TEST(e.node_name.size() <= 63u);
  for (const char* role : {"api", "scheduler", "dispatcher", "worker"})
    BOOST_TEST(c.has_role(role));
  BOOST_TEST(!c.has_role("chef"));
}

BOOST_AUTO_TEST_CASE(valid_values_of_every_variable_are_taken) {
  auto c = load_ok({{"DATABASE_URL", "postgresql://u@db:5432/orch"},
                    {"ORCH_HOME", "/var/lib/orch"},
                    {"HTTP_HOST", "0.0.0.0"},
                    {"HTTP_PORT", "9090"},
                    {"API_WORKERS", "8"},
                    {"MAX_BODY_BYTES", "2097152"},
                    {"LOG_LEVEL", "WARNING"},
                    {"LOG_FORMAT", "json"},
                    {"ENABLE_METRICS", "false"},
                    {"WORKER_CONCURRENCY", "50"},
                    {"WORKER_PREFETCH", "100"},
                    {"WORKER_QUEUES", "default, batch,llm"},
                    {"SCHEDULER_INTERVAL", "2s"},
                    {"POLL_INTERVAL", "250ms"},
                    {"MISFIRE_GRACE", "1m"},
                    {"LEASE_TIMEOUT", "30s"},
                    {"SHUTDOWN_GRACE", "0s"},
                    {"KILL_GRACE", "2s"},
                    {"RUN_RETENTION", "7d"},
                    {"NODE_NAME", "node-a.eu_1"},
                    {"NODE_ROLES", "api, worker"},
                    {"REDIS_URL", "redis://cache:6379"},
                    {"ORCH_FAULT_INJECTION", "1"}});
  BOOST_TEST(c.database_url == "postgresql://u@db:5432/orch");
  BOOST_TEST(c.orch_home == "/var/lib/orch");
  BOOST_TEST(c.http_host == "0.0.0.0");
  BOOST_TEST(c.http_port == 9090);
  BOOST_TEST(c.api_workers == 8);
  BOOST_TEST(c.max_body_bytes == 2097152u);
  BOOST_TEST((c.level == log_level::warning));
  BOOST_TEST(c.log_json);
  BOOST_TEST(!c.enable_metrics);
  BOOST_TEST(c.shutdown_grace.count() == 0);
  BOOST_TEST((c.roles == std::vector<std::string>{"api", "worker"}));
  BOOST_TEST(c.has_role("worker"));
  BOOST_TEST(!c.has_role("scheduler"));
  BOOST_TEST(c.redis_url == "redis://cache:6379");
  BOOST_TEST(c.fault_injection);
  const auto& e = c.engine;
  BOOST_TEST(e.worker_concurrency == 50);
  BOOST_TEST(e.prefetch == 100);
  BOOST_TEST((e.queues == std::vector<std::string>{"default", "batch", "llm"}));
  BOOST_TEST(e.scheduler_interval.count() == 2000);
  BOOST_TEST(e.poll_interval.count() == 250);
  BOOST_TEST(e.misfire_grace.count() == 60);
  BOOST_TEST(e.lease_timeout.count() == 30000);
  BOOST_TEST(e.kill_grace.count() == 2000);
  BOOST_TEST(e.run_retention.count() == 7LL * 24 * 3600 * 1000);
  BOOST_TEST(e.node_name == "node-a.eu_1");
}

BOOST_AUTO_TEST_CASE(the_bounds_of_each_range_are_accepted) {
  BOOST_TEST(load_ok({{"HTTP_PORT", "0"}}).http_port == 0);
  BOOST_TEST(load_ok({{"HTTP_PORT", "65535"}}).http_port == 65535);
  BOOST_TEST(load_ok({{"API_WORKERS", "1"}}).api_workers == 1);
  BOOST_TEST(load_ok({{"API_WORKERS", "64"}}).api_workers == 64);
  BOOST_TEST(load_ok({{"MAX_BODY_BYTES", "1024"}}).max_body_bytes == 1024u);
  BOOST_TEST(load_ok({{"MAX_BODY_BYTES", "67108864"}}).max_body_bytes == 67108864u);
  BOOST_TEST(load_ok({{"WORKER_CONCURRENCY", "1"}}).engine.worker_concurrency == 1);
  BOOST_TEST(load_ok({{"WORKER_PREFETCH", "0"}}).engine.prefetch == 0);
  BOOST_TEST(load_ok({{"WORKER_PREFETCH", "10000"}}).engine.prefetch == 10000);
  BOOST_TEST(load_ok({{"SCHEDULER_INTERVAL", "100ms"}}).engine.scheduler_interval.count() == 100);
  BOOST_TEST(load_ok({{"SCHEDULER_INTERVAL", "1h"}}).engine.scheduler_interval.count() == 3600000);
  BOOST_TEST(load_ok({{"POLL_INTERVAL", "10ms"}}).engine.poll_interval.count() == 10);
  BOOST_TEST(load_ok({{"POLL_INTERVAL", "1m"}}).engine.poll_interval.count() == 60000);
  BOOST_TEST(load_ok({{"MISFIRE_GRACE", "1s"}}).engine.misfire_grace.count() == 1);
  BOOST_TEST(load_ok({{"MISFIRE_GRACE", "24h"}}).engine.misfire_grace.count() == 86400);
  BOOST_TEST(load_ok({{"LEASE_TIMEOUT", "3s"}}).engine.lease_timeout.count() == 3000);
  BOOST_TEST(load_ok({{"LEASE_TIMEOUT", "1h"}}).engine.lease_timeout.count() == 3600000);
  BOOST_TEST(load_ok({}).engine.max_lost_leases == 3);
  BOOST_TEST(load_ok({{"MAX_LOST_LEASES", "1"}}).engine.max_lost_leases == 1);
  BOOST_TEST(load_ok({{"MAX_LOST_LEASES", "100"}}).engine.max_lost_leases == 100);
  BOOST_TEST(load_ok({{"SHUTDOWN_GRACE", "1h"}}).shutdown_grace.count() == 3600000);
  BOOST_TEST(load_ok({{"KILL_GRACE", "0s"}}).engine.kill_grace.count() == 0);
  BOOST_TEST(load_ok({{"KILL_GRACE", "10m"}}).engine.kill_grace.count() == 600000);
  BOOST_TEST(load_ok({{"RUN_RETENTION", "1h"}}).engine.run_retention.count() == 3600000);
  BOOST_TEST(load_ok({{"RUN_RETENTION", "3650d"}}).engine.run_retention.count() ==
             3650LL * 24 * 3600 * 1000);
}

BOOST_AUTO_TEST_CASE(log_levels_are_the_four_named_ones_in_any_case) {
  BOOST_TEST((load_ok({{"LOG_LEVEL", "DEBUG"}}).level == log_level::debug));
  BOOST_TEST((load_ok({{"LOG_LEVEL", "INFO"}}).level == log_level::info));
  BOOST_TEST((load_ok({{"LOG_LEVEL", "WARNING"}}).level == log_level::warning));
  BOOST_TEST((load_ok({{"LOG_LEVEL", "ERROR"}}).level == log_level::error));
  BOOST_TEST((load_ok({{"LOG_LEVEL", "debug"}}).level == log_level::debug));
  for (const char* bad : {"LOUD", "", "WARN", "TRACE", "CRITICAL", "INFO ", "1"}) {
    expect_refused("LOG_LEVEL", bad, "DEBUG INFO WARNING ERROR");
  }
}

BOOST_AUTO_TEST_CASE(log_format_is_text_or_json) {
  BOOST_TEST(!load_ok({{"LOG_FORMAT", "text"}}).log_json);
  BOOST_TEST(load_ok({{"LOG_FORMAT", "json"}}).log_json);
  for (const char* bad : {"xml", "", "logfmt"}) expect_refused("LOG_FORMAT", bad, "json");
}

BOOST_AUTO_TEST_CASE(booleans_accept_the_usual_spellings_and_nothing_else) {
  for (const char* yes : {"1", "true", "TRUE", "yes", "on"}) {
    BOOST_TEST_CONTEXT(yes) {
      BOOST_TEST(load_ok({{"ORCH_FAULT_INJECTION", yes}}).fault_injection);
    }
  }
  for (const char* no : {"0", "false", "False", "no", "off"}) {
    BOOST_TEST_CONTEXT(no) {
      BOOST_TEST(!load_ok({{"ENABLE_METRICS", no}}).enable_metrics);
    }
  }
  for (const char* bad : {"maybe", "", "2", "enabled"}) {
    expect_refused("ENABLE_METRICS", bad, "true or false");
    expect_refused("ORCH_FAULT_INJECTION", bad, "true or false");
  }
}

BOOST_AUTO_TEST_CASE(integers_out_of_range_or_malformed_are_refused) {
  expect_refused("WORKER_CONCURRENCY", "0", "1 to 50");
  expect_refused("WORKER_CONCURRENCY", "51", "1 to 50");
  expect_refused("WORKER_CONCURRENCY", "-3", "1 to 50");
  expect_refused("WORKER_CONCURRENCY", "ten", "not an integer");
  expect_refused("WORKER_CONCURRENCY", "", "not an integer");
  expect_refused("WORKER_CONCURRENCY", "5.0", "not an integer");
  expect_refused("WORKER_CONCURRENCY", " 5", "not an integer");
  expect_refused("WORKER_CONCURRENCY", "5 ", "not an integer");
  expect_refused("HTTP_PORT", "70000", "0 to 65535");
  expect_refused("HTTP_PORT", "-1", "0 to 65535");
  expect_refused("HTTP_PORT", "80a");
  expect_refused("HTTP_PORT", "99999999999999999999999");
  expect_refused("API_WORKERS", "0", "1 to 64");
  expect_refused("API_WORKERS", "65", "1 to 64");
  expect_refused("MAX_BODY_BYTES", "1023");
  expect_refused("MAX_BODY_BYTES", "67108865");
  expect_refused("MAX_BODY_BYTES", "1MiB");
  expect_refused("WORKER_PREFETCH", "-1");
  expect_refused("WORKER_PREFETCH", "10001");
  expect_refused("MAX_LOST_LEASES", "0", "1 to 100");
  expect_refused("MAX_LOST_LEASES", "101", "1 to 100");
  expect_refused("MAX_LOST_LEASES", "three", "not an integer");
}

BOOST_AUTO_TEST_CASE(durations_accept_units_and_bare_seconds_for_scheduler_interval) {
  BOOST_TEST(load_ok({{"SCHEDULER_INTERVAL", "15s"}}).engine.scheduler_interval.count() == 15000);
  BOOST_TEST(load_ok({{"SCHEDULER_INTERVAL", "5"}}).engine.scheduler_interval.count() == 5000);
  BOOST_TEST(load_ok({{"SCHEDULER_INTERVAL", "250ms"}}).engine.scheduler_interval.count() == 250);
  BOOST_TEST(load_ok({{"SCHEDULER_INTERVAL", "1m30s"}}).engine.scheduler_interval.count() == 90000);
  BOOST_TEST(load_ok({{"LEASE_TIMEOUT", "15"}}).engine.lease_timeout.count() == 15000);
  BOOST_TEST(load_ok({{"SHUTDOWN_GRACE", "0"}}).shutdown_grace.count() == 0);
  BOOST_TEST(load_ok({{"RUN_RETENTION", "2h"}}).engine.run_retention.count() == 7200000);
}

BOOST_AUTO_TEST_CASE(malformed_or_out_of_range_durations_are_refused) {
  expect_refused("LEASE_TIMEOUT", "abc", "not a duration");
  expect_refused("LEASE_TIMEOUT", "", "not a duration");
  expect_refused("LEASE_TIMEOUT", "-5s", "not a duration");
  expect_refused("LEASE_TIMEOUT", "1.5s", "not a duration");
  expect_refused("LEASE_TIMEOUT", "15 s", "not a duration");
  expect_refused("LEASE_TIMEOUT", "15S", "not a duration");
  expect_refused("LEASE_TIMEOUT", "2s", "out of range");
  expect_refused("LEASE_TIMEOUT", "2h", "out of range");
  expect_refused("SCHEDULER_INTERVAL", "0", "out of range");
  expect_refused("SCHEDULER_INTERVAL", "99ms", "out of range");
  expect_refused("SCHEDULER_INTERVAL", "61m", "out of range");
  expect_refused("SCHEDULER_INTERVAL", "999999999999", "not a duration");
  expect_refused("POLL_INTERVAL", "5ms", "out of range");
  expect_refused("POLL_INTERVAL", "2m", "out of range");
  expect_refused("MISFIRE_GRACE", "500ms", "out of range");
  expect_refused("MISFIRE_GRACE", "25h", "out of range");
  expect_refused("SHUTDOWN_GRACE", "2h", "out of range");
  expect_refused("KILL_GRACE", "11m", "out of range");
  expect_refused("RUN_RETENTION", "30m", "out of range");
  expect_refused("RUN_RETENTION", "3651d", "out of range");
}

BOOST_AUTO_TEST_CASE(node_names_are_letters_digits_dashes_underscores_and_dots) {
  for (const char* good : {"a", "node-a", "worker_2", "eu.west.1", "N1"}) {
    BOOST_TEST_CONTEXT(good) {
      BOOST_TEST(load_ok({{"NODE_NAME", good}}).engine.node_name == good);
    }
  }
  BOOST_TEST(load_ok({{"NODE_NAME", std::string(63, 'n')}}).engine.node_name.size() == 63u);
  for (const std::string& bad :
       {std::string(), std::string("has space"), std::string(64, 'n'), std::string("a/b"),
        std::string("n\xc3\xbc"), std::string("a:b"), std::string("tab\there")}) {
    expect_refused("NODE_NAME", bad, "1 to 63");
  }
}

BOOST_AUTO_TEST_CASE(the_default_node_name_is_the_host_name_with_a_stable_instance_suffix) {
  auto a = load_ok({{"HTTP_PORT", "8080"}}).engine.node_name;
  auto again = load_ok({{"HTTP_PORT", "8080"}}).engine.node_name;
  auto b = load_ok({{"HTTP_PORT", "8081"}}).engine.node_name;
  BOOST_TEST(a == again);  // a restarted node finds its own old leases
  BOOST_TEST(a != b);      // two nodes on one host do not share a name
  BOOST_TEST(a.size() <= 63u);
  BOOST_TEST(a[a.size() - 5] == '-');
}

BOOST_AUTO_TEST_CASE(a_cluster_port_needs_a_secret_of_at_least_16_characters) {
  expect_refused("CLUSTER_PORT", "7000", "CLUSTER_SECRET");
  auto bad = load({{"CLUSTER_PORT", "7000"}, {"CLUSTER_SECRET", "short"}});
  BOOST_REQUIRE(!bad.ok());
  BOOST_TEST(bad.error().message.find("16 to 1024") != std::string::npos);
  auto huge = load({{"CLUSTER_PORT", "7000"}, {"CLUSTER_SECRET", std::string(1025, 's')}});
  BOOST_TEST(!huge.ok());
  auto c = load_ok({{"CLUSTER_PORT", "7000"}, {"CLUSTER_SECRET", "0123456789abcdef"}});
  BOOST_TEST(c.cluster.enabled());
  BOOST_TEST(c.cluster.advertise.size() > 5u);
  BOOST_TEST(c.cluster.advertise.substr(c.cluster.advertise.size() - 5) == ":7000");
  BOOST_TEST(!load_ok({}).cluster.enabled());
  expect_refused("CLUSTER_PORT", "65536", "65536");
  expect_refused("CLUSTER_PORT", "-1", "-1");
}

BOOST_AUTO_TEST_CASE(cluster_endpoints_are_host_and_port) {
  auto with = [](std::map<std::string, std::string> env) {
    env["CLUSTER_PORT"] = "7000";
    env["CLUSTER_SECRET"] = "0123456789abcdef";
    return env;
  };
  auto c = load_ok(with(
      {{"CLUSTER_ADVERTISE", "10.0.0.5:7000"}, {"CLUSTER_SEEDS", "a.internal:7000, [::1]:7001"}}));
  BOOST_TEST(c.cluster.advertise == "10.0.0.5:7000");
  BOOST_TEST((c.cluster.seeds == std::vector<std::string>{"a.internal:7000", "[::1]:7001"}));
  for (const std::string& bad :
       {std::string("nohost"), std::string(":7000"), std::string("h:0"), std::string("h:99999"),
        std::string("h:7x"), std::string("::1:7000"), std::string("h\n:1")}) {
    BOOST_TEST_CONTEXT(bad) {
      auto r = load(with({{"CLUSTER_ADVERTISE", bad}}));
      BOOST_TEST(!r.ok());
      if (!r.ok()) BOOST_TEST(r.error().message.find("CLUSTER_ADVERTISE") != std::string::npos);
      BOOST_TEST(!load(with({{"CLUSTER_SEEDS", "ok:1," + bad}})).ok());
    }
  }
  expect_refused("CLUSTER_SEEDS", "a:7000", "needs CLUSTER_PORT");
  auto t = load(with({{"CLUSTER_HEARTBEAT", "2s"}, {"CLUSTER_TIMEOUT", "1s"}}));
  BOOST_REQUIRE(!t.ok());
  BOOST_TEST(t.error().message.find("longer than CLUSTER_HEARTBEAT") != std::string::npos);
  expect_refused("NODE_TIMEOUT", "1s", "out of range");
  expect_refused("CLUSTER_TIMEOUT", "100ms", "out of range");
}

BOOST_AUTO_TEST_CASE(node_roles_are_a_nonempty_list_of_known_roles) {
  BOOST_TEST((load_ok({{"NODE_ROLES", "api"}}).roles == std::vector<std::string>{"api"}));
  BOOST_TEST((load_ok({{"NODE_ROLES", "scheduler,dispatcher"}}).roles ==
              std::vector<std::string>{"scheduler", "dispatcher"}));
  expect_refused("NODE_ROLES", "api,chef", "chef");
  expect_refused("NODE_ROLES", "API", "API");
  expect_refused("NODE_ROLES", "", "at least one role");
  expect_refused("NODE_ROLES", " , ", "at least one role");
}

BOOST_AUTO_TEST_CASE(worker_queues_must_name_valid_queues) {
  BOOST_TEST((load_ok({{"WORKER_QUEUES", "default"}}).engine.queues ==
              std::vector<std::string>{"default"}));
  // A queue no task could have would leave the node idle without a word.
  expect_refused("WORKER_QUEUES", "Default", "Default");
  expect_refused("WORKER_QUEUES", "default,high prio!", "prio");
  expect_refused("WORKER_QUEUES", "", "at least one queue");
  expect_refused("WORKER_QUEUES", ",", "at least one queue");
}

BOOST_AUTO_TEST_CASE(empty_host_and_home_are_refused) {
  expect_refused("HTTP_HOST", "", "must not be empty");
  expect_refused("ORCH_HOME", "", "must not be empty");
  BOOST_TEST(load_ok({{"DATABASE_URL", ""}}).database_url.empty());
}

BOOST_AUTO_TEST_CASE(every_problem_is_reported_at_once) {
  auto c = load({{"LOG_LEVEL", "LOUD"},
                 {"WORKER_CONCURRENCY", "0"},
                 {"HTTP_PORT", "70000"},
                 {"LEASE_TIMEOUT", "abc"},
                 {"NODE_ROLES", "api,chef"},
                 {"NODE_NAME", "bad name"},
                 {"ENABLE_METRICS", "perhaps"}});
  BOOST_REQUIRE(!c.ok());
  const auto& msg = c.error().message;
  for (const char* name : {"LOG_LEVEL", "WORKER_CONCURRENCY", "HTTP_PORT", "LEASE_TIMEOUT",
                           "NODE_ROLES", "NODE_NAME", "ENABLE_METRICS"}) {
    BOOST_CHECK_MESSAGE(msg.find(name) != std::string::npos, name << " missing from: " << msg);
  }
  // Each problem names its value, so the message says what to fix.
  for (const char* value : {"LOUD", "70000", "abc", "chef", "bad name", "perhaps"}) {
    BOOST_CHECK_MESSAGE(msg.find(value) != std::string::npos, value << " missing from: " << msg);
  }
}

BOOST_AUTO_TEST_CASE(every_documented_variable_is_read) {
  std::set<std::string> asked;
  auto c = load_config([&asked](const char* name) -> const char* {
    asked.insert(name);
    return nullptr;
  });
  BOOST_REQUIRE(c.ok());
  for (const auto& v : config_vars()) {
    BOOST_CHECK_MESSAGE(asked.count(v.name) == 1, v.name << " is documented but never read");
    BOOST_TEST(std::string(v.meaning).size() > 0u);
  }
}

namespace {

std::string secret_file(const std::string& content) {
  static int n = 0;
  auto path = "/tmp/orch-config-secret-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
  std::ofstream(path) << content;
  return path;
}

}  // namespace

BOOST_AUTO_TEST_CASE(secret_settings_come_from_files_too) {
  auto c = load_ok({{"CLUSTER_PORT", "7000"},
                    {"CLUSTER_SECRET_FILE", secret_file("a-secret-of-twenty-chars\n")},
                    {"DATABASE_URL_FILE", secret_file("postgresql://orch@db:5432/orch\n")},
                    {"DATABASE_PASSWORD_FILE", secret_file("pw\n")},
                    {"REDIS_URL_FILE", secret_file("redis://:pw@cache:6379/0")}});
  BOOST_TEST(c.cluster.secret == "a-secret-of-twenty-chars");
  BOOST_TEST(c.database_url == "postgresql://orch@db:5432/orch?password=pw");
  BOOST_TEST(c.redis_url == "redis://:pw@cache:6379/0");
}

BOOST_AUTO_TEST_CASE(secret_files_that_cannot_serve_are_refused_by_name) {
  auto both = load({{"CLUSTER_SECRET", "x"}, {"CLUSTER_SECRET_FILE", secret_file("y")}});
  BOOST_REQUIRE(!both.ok());
  BOOST_TEST(both.error().message.find("CLUSTER_SECRET and CLUSTER_SECRET_FILE are both set") !=
             std::string::npos);
  auto missing = load({{"DATABASE_URL_FILE", "/run/secrets/nope"}});
  BOOST_REQUIRE(!missing.ok());
  BOOST_TEST(missing.error().message.find("DATABASE_URL_FILE='/run/secrets/nope'") !=
             std::string::npos);
  auto no_url = load({{"DATABASE_PASSWORD", "pw"}});
  BOOST_REQUIRE(!no_url.ok());
  BOOST_TEST(no_url.error().message.find("DATABASE_PASSWORD") != std::string::npos);
  auto check = check_config([](const char* n) -> const char* {
    return std::string(n) == "HTTP_PORT" ? "x" : std::string(n) == "LOG_LEVEL" ? "LOUD" : nullptr;
  });
  BOOST_TEST(!check.cfg.has_value());
  BOOST_TEST(check.problems.size() == 2u);  // each problem on its own
}

BOOST_AUTO_TEST_CASE(the_names_config_check_knows) {
  BOOST_TEST(is_config_var("HTTP_PORT"));
  BOOST_TEST(is_config_var("CLUSTER_SECRET_FILE"));
  BOOST_TEST(is_config_var("DATABASE_PASSWORD_FILE"));
  BOOST_TEST(!is_config_var("HTTP_PORT_FILE"));
  BOOST_TEST(!is_config_var("WORKER_CONCURENCY"));
}
