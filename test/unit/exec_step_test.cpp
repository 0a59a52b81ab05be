#define BOOST_TEST_MODULE exec_step
#include "steps/exec_step.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using namespace orch;
using namespace orch::steps;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

/// Collects what a step logs, from any thread.
class log_capture {
 public:
  log_sink sink() {
    return [this](std::string_view stream, std::string_view line) {
      std::lock_guard lock(mutex_);
      lines_.emplace_back(std::string(stream), std::string(line));
    };
  }
  std::vector<std::string> stream(const std::string& name) {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    for (const auto& [s, line] : lines_) {
      if (s == name) out.push_back(line);
    }
    return out;
  }
  std::size_t count_containing(const std::string& name, const std::string& text) {
    auto lines = stream(name);
    return static_cast<std::size_t>(std::count_if(lines.begin(), lines.end(), [&](const auto& l) {
      return l.find(text) != std::string::npos;
    }));
  }

 private:
  std::mutex mutex_;
  std::vector<std::pair<std::string, std::string>> lines_;
};

/// Polls `condition` every few milliseconds until it holds or `limit` passes.
template <class Condition>
bool wait_for(Condition condition, std::chrono::milliseconds limit = 5s) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= until) return condition();
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

/// Whether `pid` no longer runs: gone (ESRCH), or a zombie of a parent that does not
/// reap (PID 1 of some containers), which is dead all the same.
bool process_dead(pid_t pid) {
  if (::kill(pid, 0) != 0) return errno == ESRCH;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  auto paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] == 'Z';
}

bool process_gone(pid_t pid) {
  return ::kill(pid, 0) != 0 && errno == ESRCH;
}

/// A scratch directory removed at the end of the test.
struct temp_dir {
  fs::path path;
  temp_dir() {
    std::string pattern = (fs::temp_directory_path() / "exec_step_test.XXXXXX").string();
    BOOST_REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

pid_t read_pid(const fs::path& file) {
  std::ifstream in(file);
  long pid = 0;
  in >> pid;
  return static_cast<pid_t>(pid);
}

bool file_has_content(const fs::path& file) {
  std::error_code ec;
  return fs::exists(file, ec) && fs::file_size(file, ec) > 0;
}

/// A /bin/sh script that forks a grandchild into the group which ignores SIGTERM,
/// writes the grandchild's pid to `pid_file`, then waits for it.
exec_spec term_ignoring_family(const fs::path& pid_file) {
  const std::string f = pid_file.string();
  const std::string grandchild =
      "/bin/sh -c 'trap \"\" TERM; echo $$ > " + f + "; exec sleep 1000'";
  const std::string wait_for_pid = "while [ ! -s " + f + " ]; do sleep 0.01; done";
  exec_spec spec;
  spec.command = {"/bin/sh", "-c", grandchild + " & " + wait_for_pid + "; echo ready; wait"};
  return spec;
}

/// Makes this process the reaper of orphaned descendants for the test, so a killed
/// grandchild is reaped and kill(pid, 0) can report ESRCH whatever PID 1 does.
struct subreaper {
  subreaper() { BOOST_REQUIRE(::prctl(PR_SET_CHILD_SUBREAPER, 1) == 0); }
  ~subreaper() { ::prctl(PR_SET_CHILD_SUBREAPER, 0); }
};

exec_limits short_limits() {
  exec_limits limits;
  limits.kill_grace = 200ms;
  limits.drain_timeout = 100ms;
  return limits;
}

const std::map<std::string, std::string> no_env;

step_outcome run(const exec_spec& spec, log_capture* logs = nullptr,
                 const exec_limits& limits = short_limits(), millis timeout = 10s) {
  cancel_token stop;
  log_sink sink = logs != nullptr ? logs->sink() : log_sink{};
  return run_exec(spec, no_env, timeout, stop, sink, limits);
}

exec_spec command(std::vector<std::string> argv) {
  exec_spec spec;
  spec.command = std::move(argv);
  return spec;
}

std::chrono::milliseconds since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               start);
}

}  // namespace

BOOST_AUTO_TEST_CASE(stdout_is_the_output_of_a_successful_program) {
  log_capture logs;
  auto out = run(command({"/bin/echo", "hello", "world"}), &logs);
  BOOST_TEST((out.status == run_status::succeeded));
  BOOST_TEST(out.output == "hello world\n");
  BOOST_REQUIRE(out.exit_code.has_value());
  BOOST_TEST(*out.exit_code == 0);
  BOOST_TEST(out.error_code.empty());
  BOOST_TEST(!out.output_truncated);
  BOOST_TEST(logs.count_containing("system", "exit status 0") == 1u);
}

BOOST_AUTO_TEST_CASE(a_bare_program_name_is_found_in_the_fixed_path) {
  auto out = run(command({"echo", "found"}));
  BOOST_TEST((out.status == run_status::succeeded));
  BOOST_TEST(out.output == "found\n");
}

BOOST_AUTO_TEST_CASE(a_non_zero_exit_fails_with_the_status_and_last_stderr_line) {
  log_capture logs;
  auto out =
      run(command({"/bin/sh", "-c", "echo partial; echo first >&2; echo oops >&2; exit 3"}), &logs);
  BOOST_TEST((out.status == run_status::failed));
  BOOST_TEST(out.error_code == "exit_status");
  BOOST_TEST(out.error_message == "exit status 3: oops");
  BOOST_REQUIRE(out.exit_code.has_value());
  BOOST_TEST(*out.exit_code == 3);
  BOOST_TEST(out.output == "partial\n");
  BOOST_TEST(logs.stream("stderr") == (std::vector<std::string>{"first", "oops"}));
}

BOOST_AUTO_TEST_CASE(a_non_zero_exit_without_stderr_has_a_bare_message) {
  auto out = run(command({"/bin/sh", "-c", "exit 7"}));
  BOOST_TEST(out.error_message == "exit status 7");
  BOOST_TEST(*out.exit_code == 7);
}

BOOST_AUTO_TEST_CASE(stderr_is_split_into_lines_and_a_partial_last_line_is_flushed) {
  log_capture logs;
  auto out = run(command({"/bin/sh", "-c", "printf 'a\\nb\\r\\n\\nc' >&2"}), &logs);
  BOOST_TEST((out.status == run_status::succeeded));
  BOOST_TEST(logs.stream("stderr") == (std::vector<std::string>{"a", "b", "", "c"}));
  BOOST_TEST(out.output.empty());
}

BOOST_AUTO_TEST_CASE(over_long_stderr_lines_are_split_at_the_limit) {
  log_capture logs;
  exec_limits limits = short_limits();
  limits.max_log_line = 10;
  auto out = run(command({"/bin/sh", "-c",
                          "printf '0123456789abcdefghijKLMNO\\nxyz\\n0123456789ABCDEFGHIJ' >&2"}),
                 &logs, limits);
  BOOST_TEST((out.status == run_status::succeeded));
  BOOST_TEST(logs.stream("stderr") ==
             (std::vector<std::string>{"0123456789", "abcdefghij", "KLMNO", "xyz", "0123456789",
                                       "ABCDEFGHIJ"}));
}

BOOST_AUTO_TEST_CASE(the_environment_is_only_the_step_env_orch_variables_and_defaults) {
  BOOST_REQUIRE(::setenv("ORCH_TEST_SECRET", "do-not-leak", 1) == 0);
  exec_spec spec = command({"/usr/bin/env"});
  spec.env = {{"FOO", "bar baz"}, {"ORCH_RUN_ID", "spoofed"}};
  std::map<std::string, std::string> extra = {{"ORCH_RUN_ID", "run-1"},
                                              {"ORCH_TASK", "nightly"},
                                              {"ORCH_ATTEMPT", "2"},
                                              {"ORCH_IDEMPOTENCY_KEY", "run-1:2"}};
  cancel_token stop;
  auto out = run_exec(spec, extra, 10s, stop, {}, short_limits());
  ::unsetenv("ORCH_TEST_SECRET");
  BOOST_TEST((out.status == run_status::succeeded));
  BOOST_TEST(out.output.find("ORCH_TEST_SECRET") == std::string::npos);
  BOOST_TEST(out.output.find("do-not-leak") == std::string::npos);

  std::map<std::string, std::string> seen;
  std::istringstream lines(out.output);
  for (std::string line; std::getline(lines, line);) {
    auto eq = line.find('=');
    BOOST_REQUIRE(eq != std::string::npos);
    seen[line.substr(0, eq)] = line.substr(eq + 1);
  }
  std::map<std::string, std::string> expected = {
      {"FOO", "bar baz"},
      {"ORCH_RUN_ID", "run-1"},
      {"ORCH_TASK", "nightly"},
      {"ORCH_ATTEMPT", "2"},
      {"ORCH_IDEMPOTENCY_KEY", "run-1:2"},
      {"PATH", "/usr/local/bin:/usr/bin:/bin"},
      {"HOME", "/tmp"},
      {"LANG", "C.UTF-8"},
  };
  BOOST_TEST((seen == expected));
}

BOOST_AUTO_TEST_CASE(a_step_may_set_path_home_and_lang_itself) {
  temp_dir dir;
  fs::path tool = dir.path / "my-tool";
  {
    std::ofstream script(tool);
    script << "#!/bin/sh\necho \"tool $HOME $LANG\"\n";
  }
  fs::permissions(tool, fs::perms::owner_all);
  exec_spec spec = command({"my-tool"});
  spec.env = {
      {"PATH", dir.path.string() + ":/usr/bin:/bin"}, {"HOME", "/home/agent"}, {"LANG", "C"}};
  auto out = run(spec);
  BOOST_TEST((out.status == run_status::succeeded));
  BOOST_TEST(out.output == "tool /home/agent C\n");
}

BOOST_AUTO_TEST_CASE(the_program_runs_in_the_given_directory) {
  temp_dir dir;
  exec_spec spec = command({"/bin/pwd"});
  spec.cwd = dir.path.string();
  auto out = run(spec);
  BOOST_TEST((out.status == run_status::succeeded));
  BOOST_TEST(out.output == fs::canonical(dir.path).string() + "\n");
}

BOOST_AUTO_TEST_CASE(a_missing_directory_is_a_spawn_failure) {
  exec_spec spec = command({"/bin/pwd"});
  spec.cwd = "/nonexistent/dir";
  auto out = run(spec);
  BOOST_TEST((out.status == run_status::failed));
  BOOST_TEST(out.error_code == "spawn_failed");
  BOOST_TEST(out.error_message.find("/nonexistent/dir") != std::string::npos);
  BOOST_TEST(out.error_message.find("No such file or directory") != std::string::npos);
  BOOST_TEST(!out.exit_code.has_value());
}

BOOST_AUTO_TEST_CASE(stdin_data_is_fed_to_the_program) {
  exec_spec spec = command({"/bin/cat"});
  spec.stdin_data = "line one\nline two";
  auto out = run(spec);
  BOOST_TEST((out.status == run_status::succeeded));
  BOOST_TEST(out.output == "line one\nline two");
}

BOOST_AUTO_TEST_CASE(large_stdin_and_stdout_at_once_do_not_deadlock) {
  std::string data;
  for (int i = 0; data.size() < 3u * 1024 * 1024; ++i) data += "row " + std::to_string(i) + "\n";
  exec_spec spec = command({"/bin/cat"});
  spec.stdin_data = data;
  exec_limits limits = short_limits();
  limits.max_output = 8 * 1024 * 1024;
  auto out = run(spec, nullptr, limits);
  BOOST_TEST((out.status == run_status::succeeded));
  BOOST_TEST(out.output.size() == data.size());
  BOOST_TEST((out.output == data));
}

BOOST_AUTO_TEST_CASE(stdin_is_empty_when_the_step_sets_none) {
  auto out = run(command({"/bin/cat"}));
  BOOST_TEST((out.status == run_status::succeeded));
  BOOST_TEST(out.output.empty());
}

BOOST_AUTO_TEST_CASE(a_program_that_does_not_read_its_stdin_does_not_hurt_the_server) {
  exec_spec spec = command({"/bin/true"});
  spec.stdin_data = std::string(4 * 1024 * 1024, 'x');
  auto out = run(spec);
  BOOST_TEST((out.status == run_status::succeeded));
  sigset_t pending;
  ::sigpending(&pending);
  BOOST_TEST(::sigismember(&pending, SIGPIPE) == 0);
}

BOOST_AUTO_TEST_CASE(output_is_bounded_and_the_rest_is_drained) {
  log_capture logs;
  exec_limits limits = short_limits();
  limits.max_output = 1 << 20;
  auto out = run(command({"/usr/bin/head", "-c", "5242880", "/dev/zero"}), &logs, limits);
  BOOST_TEST((out.status == run_status::succeeded));
  BOOST_TEST(out.output.size() == limits.max_output);
  BOOST_TEST(out.output_truncated);
  BOOST_TEST(logs.count_containing("system", "truncated") == 1u);
}

BOOST_AUTO_TEST_CASE(output_of_exactly_the_limit_is_not_truncated) {
  exec_limits limits = short_limits();
  limits.max_output = 1000;
  auto out = run(command({"/usr/bin/head", "-c", "1000", "/dev/zero"}), nullptr, limits);
  BOOST_TEST(out.output.size() == 1000u);
  BOOST_TEST(!out.output_truncated);
}

BOOST_AUTO_TEST_CASE(a_timeout_kills_the_whole_group_including_a_term_ignoring_grandchild) {
  subreaper reaper;
  temp_dir dir;
  fs::path pid_file = dir.path / "grandchild.pid";
  log_capture logs;
  cancel_token stop;
  auto start = std::chrono::steady_clock::now();
  auto out =
      run_exec(term_ignoring_family(pid_file), no_env, 700ms, stop, logs.sink(), short_limits());
  auto took = since(start);
  BOOST_TEST((out.status == run_status::failed));
  BOOST_TEST(out.error_code == "timeout");
  BOOST_TEST(!out.exit_code.has_value());
  BOOST_TEST(out.output == "ready\n");
  BOOST_TEST(took < 4000ms);
  BOOST_TEST(logs.count_containing("system", "SIGKILL") == 1u);

  BOOST_REQUIRE(file_has_content(pid_file));
  pid_t grandchild = read_pid(pid_file);
  BOOST_REQUIRE(grandchild > 0);
  BOOST_TEST(wait_for([&] { return process_gone(grandchild); }, 2s));
  BOOST_TEST(::kill(grandchild, 0) == -1);
  BOOST_TEST(errno == ESRCH);
}

BOOST_AUTO_TEST_CASE(a_cancel_from_another_thread_kills_the_group_and_reports_cancelled) {
  // No subreaper here: the orphaned grandchild's zombie may linger under PID 1.
  temp_dir dir;
  fs::path pid_file = dir.path / "grandchild.pid";
  cancel_token stop;
  std::atomic<bool> saw_pid{false};
  std::thread canceller([&] {
    saw_pid = wait_for([&] { return file_has_content(pid_file); }, 10s);
    stop.request(stop_reason::cancel);
  });
  auto start = std::chrono::steady_clock::now();
  auto out = run_exec(term_ignoring_family(pid_file), no_env, 30s, stop, {}, short_limits());
  auto took = since(start);
  canceller.join();
  BOOST_REQUIRE(saw_pid.load());
  BOOST_TEST((out.status == run_status::cancelled));
  BOOST_TEST(out.error_code == "cancelled");
  BOOST_TEST(took < 5000ms);

  pid_t grandchild = read_pid(pid_file);
  BOOST_REQUIRE(grandchild > 0);
  BOOST_TEST(wait_for([&] { return process_dead(grandchild); }, 2s));
}

BOOST_AUTO_TEST_CASE(a_release_stops_the_program_and_reports_cancelled) {
  cancel_token stop;
  std::thread releaser([&] {
    std::this_thread::sleep_for(50ms);
    stop.request(stop_reason::release);
  });
  auto out = run_exec(command({"/bin/sleep", "1000"}), no_env, 30s, stop, {}, short_limits());
  releaser.join();
  BOOST_TEST((out.status == run_status::cancelled));
  BOOST_TEST(out.error_code == "cancelled");
}

BOOST_AUTO_TEST_CASE(a_program_killed_by_a_signal_fails_with_the_signal) {
  auto out = run(command({"/bin/sh", "-c", "kill -9 $$"}));
  BOOST_TEST((out.status == run_status::failed));
  BOOST_TEST(out.error_code == "exit_status");
  BOOST_TEST(out.error_message == "killed by signal 9");
  BOOST_TEST(!out.exit_code.has_value());
}

BOOST_AUTO_TEST_CASE(a_missing_program_is_a_spawn_failure) {
  for (std::string program : {"/nonexistent/program", "no-such-program-anywhere"}) {
    log_capture logs;
    auto out = run(command({program, "arg"}), &logs);
    BOOST_TEST((out.status == run_status::failed));
    BOOST_TEST(out.error_code == "spawn_failed");
    BOOST_TEST(out.error_message.find(program) != std::string::npos);
    BOOST_TEST(out.error_message.find("No such file or directory") != std::string::npos);
    BOOST_TEST(!out.exit_code.has_value());
    BOOST_TEST(logs.stream("system").size() == 1u);
  }
}

BOOST_AUTO_TEST_CASE(a_file_that_is_not_executable_is_a_spawn_failure) {
  temp_dir dir;
  fs::path file = dir.path / "data.txt";
  std::ofstream(file) << "not a program\n";
  auto out = run(command({file.string()}));
  BOOST_TEST(out.error_code == "spawn_failed");
  BOOST_TEST(out.error_message.find("Permission denied") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(an_empty_command_is_a_spawn_failure) {
  auto out = run(command({}));
  BOOST_TEST(out.error_code == "spawn_failed");
}

BOOST_AUTO_TEST_CASE(a_background_process_holding_the_pipes_does_not_block_completion) {
  subreaper reaper;
  temp_dir dir;
  fs::path pid_file = dir.path / "bg.pid";
  log_capture logs;
  auto start = std::chrono::steady_clock::now();
  auto out =
      run(command({"/bin/sh", "-c", "sleep 1000 & echo $! > " + pid_file.string() + "; echo done"}),
          &logs);
  BOOST_TEST((out.status == run_status::succeeded));
  BOOST_TEST(out.output == "done\n");
  BOOST_TEST(since(start) < 3000ms);
  BOOST_TEST(logs.count_containing("system", "left") == 1u);
  pid_t background = read_pid(pid_file);
  BOOST_REQUIRE(background > 0);
  BOOST_TEST(wait_for([&] { return process_gone(background); }, 2s));
}

BOOST_AUTO_TEST_CASE(a_detached_background_process_is_stopped_after_the_program_exits) {
  subreaper reaper;
  temp_dir dir;
  fs::path pid_file = dir.path / "bg.pid";
  auto out = run(command(
      {"/bin/sh", "-c", "sleep 1000 </dev/null >/dev/null 2>&1 & echo $! > " + pid_file.string()}));
  BOOST_TEST((out.status == run_status::succeeded));
  pid_t background = read_pid(pid_file);
  BOOST_REQUIRE(background > 0);
  BOOST_TEST(wait_for([&] { return process_gone(background); }, 2s));
}

BOOST_AUTO_TEST_CASE(the_servers_descriptors_are_not_inherited) {
  int file = ::open("/dev/null", O_RDONLY);  // deliberately without O_CLOEXEC
  int sock = ::socket(AF_INET, SOCK_STREAM, 0);
  BOOST_REQUIRE(file > 2);
  BOOST_REQUIRE(sock > 2);
  std::string check = "for fd in " + std::to_string(file) + " " + std::to_string(sock) +
                      "; do [ -e /proc/$$/fd/$fd ] && echo leaked $fd; done; ls /proc/$$/fd";
  auto out = run(command({"/bin/sh", "-c", check}));
  ::close(file);
  ::close(sock);
  BOOST_TEST((out.status == run_status::succeeded));
  BOOST_TEST(out.output.find("leaked") == std::string::npos);
  std::set<std::string> fds;
  std::istringstream lines(out.output);
  for (std::string line; std::getline(lines, line);) fds.insert(line);
  BOOST_TEST(fds.count("0") == 1u);
  BOOST_TEST(fds.count("1") == 1u);
  BOOST_TEST(fds.count("2") == 1u);
}

BOOST_AUTO_TEST_CASE(signal_dispositions_and_mask_are_reset_in_the_child) {
  // Ignore SIGINT and block SIGUSR1 here; the child must see neither.
  struct sigaction ignore {};
  struct sigaction old_action {};
  ignore.sa_handler = SIG_IGN;
  ::sigaction(SIGINT, &ignore, &old_action);
  sigset_t block;
  sigset_t old_mask;
  ::sigemptyset(&block);
  ::sigaddset(&block, SIGUSR1);
  ::pthread_sigmask(SIG_BLOCK, &block, &old_mask);
  auto out = run(command({"/bin/grep", "-E", "^(SigBlk|SigIgn)", "/proc/self/status"}));
  ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  ::sigaction(SIGINT, &old_action, nullptr);
  BOOST_TEST((out.status == run_status::succeeded));
  BOOST_TEST(out.output.find("SigBlk:\t0000000000000000") != std::string::npos);
  // SIGINT is signal 2, bit 0x2 of the mask.
  auto ign = out.output.find("SigIgn:\t");
  BOOST_REQUIRE(ign != std::string::npos);
  unsigned long long mask = std::stoull(out.output.substr(ign + 8, 16), nullptr, 16);
  BOOST_TEST((mask & 0x2ULL) == 0u);
}

BOOST_AUTO_TEST_CASE(many_threads_can_run_steps_at_once) {
  constexpr int threads = 24;
  std::vector<step_outcome> outcomes(threads);
  std::vector<std::thread> workers;
  for (int i = 0; i < threads; ++i) {
    workers.emplace_back([i, &outcomes] {
      exec_spec spec = command({"/bin/sh", "-c", "cat; echo \" $0\" >&2", "w" + std::to_string(i)});
      spec.stdin_data = "worker " + std::to_string(i);
      log_capture logs;
      cancel_token stop;
      outcomes[i] = run_exec(spec, no_env, 20s, stop, logs.sink(), short_limits());
      if (logs.stream("stderr") != std::vector<std::string>{" w" + std::to_string(i)}) {
        outcomes[i].error_code = "wrong stderr";
      }
    });
  }
  for (auto& w : workers) w.join();
  for (int i = 0; i < threads; ++i) {
    BOOST_TEST((outcomes[i].status == run_status::succeeded));
    BOOST_TEST(outcomes[i].output == "worker " + std::to_string(i));
    BOOST_TEST(outcomes[i].error_code.empty());
  }
}
