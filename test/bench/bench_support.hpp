#pragma once
/// \file bench_support.hpp What both benchmark programs share: the command
/// line, JSON output and its verdict, percentiles and CPU accounting from /proc.

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace orch::bench {

/// Set by `--quick`: every figure is printed with it.
inline bool quick = false;

/// Seconds on the steady clock since `t`.
inline double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

/// What went wrong so far: failed submissions or runs, missing figures. Any
/// makes the program exit 1.
inline std::vector<std::string> problems;

/// Records (and prints) one problem.
inline void problem(const std::string& what) {
  std::fprintf(stderr, "problem: %s\n", what.c_str());
  problems.push_back(what);
}

/// Names of the figures printed so far.
inline std::vector<std::string> printed;

/// Prints one figure as a JSON line. Each of `positive` must be a number
/// above zero in it, else that is a problem (a figure that measured nothing).
inline void emit(nlohmann::json j, const std::vector<std::string>& positive = {}) {
  j["quick"] = quick;
  std::printf("%s\n", j.dump().c_str());
  std::fflush(stdout);
  auto name = j.value("benchmark", std::string("?"));
  printed.push_back(name);
  for (const auto& field : positive) {
    if (!j.contains(field) || !j[field].is_number() || !(j[field].get<double>() > 0)) {
      problem(name + ": figure " + field + " is " +
              (j.contains(field) ? j[field].dump() : "missing"));
    }
  }
}

/// Records a problem when `ok` is false.
inline void check(bool ok, const std::string& what) {
  if (!ok) problem(what);
}

/// The command line of a benchmark program (`--quick`, `--only NAME`) and the
/// verdict over what it printed.
class bench_main {
 public:
  /// Parses the command line; `names` lists what `--only` takes (for the usage).
  /// Exits 2 on anything else.
  bench_main(int argc, char** argv, const std::string& names) {
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      if (a == "--quick") {
        quick = true;
      } else if (a == "--only" && i + 1 < argc) {
        only_ = argv[++i];
      } else {
        std::fprintf(stderr, "usage: %s [--quick] [--only %s]\n", argv[0], names.c_str());
        std::exit(2);
      }
    }
  }

  /// Runs `fn` unless `--only` names another benchmark; it must print figure
  /// `figure`. An exception is a problem; the next benchmark still runs.
  void run(const std::string& name, const std::string& figure, const std::function<void()>& fn) {
    if (!only_.empty() && only_ != name) return;
    expected_.push_back(figure);
    try {
      fn();
    } catch (const std::exception& e) {
      problem(name + " failed: " + e.what());
    }
  }

  /// 0 when every expected figure was printed and nothing went wrong, else 1
  /// (with the problems listed on stderr).
  int verdict() const {
    for (const auto& f : expected_) {
      if (std::find(printed.begin(), printed.end(), f) == printed.end()) {
        problem("no figure " + f + " was printed");
      }
    }
    if (expected_.empty()) problem("no benchmark is called " + only_);
    if (problems.empty()) return 0;
    std::fprintf(stderr, "%zu problem(s):\n", problems.size());
    for (const auto& p : problems) std::fprintf(stderr, "  %s\n", p.c_str());
    return 1;
  }

 private:
  std::string only_;
  std::vector<std::string> expected_;
};

/// The `p` quantile (0 to 1) of `v`, nearest rank; 0 when empty.
inline double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  auto idx = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(idx, v.size() - 1)];
}

/// CPU seconds (user + system) of one process; with `children`, of its
/// waited-for children instead (a node's step processes).
inline double cpu_seconds(pid_t pid, bool children = false) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto close = text.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(text.substr(close + 2));
  std::string f;
  double ticks = 0;
  for (int i = 3; i <= 17 && fields >> f; ++i) {
    if (children ? (i == 16 || i == 17) : (i == 14 || i == 15)) ticks += std::stod(f);
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

/// CPU seconds of the PostgreSQL backends serving database `db` (their process
/// title names it), so other databases on the same server do not count.
inline double backend_cpu_seconds(const std::string& db) {
  double total = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    auto name = e.path().filename().string();
    if (!std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    std::ifstream c(e.path() / "cmdline");
    std::string cmd((std::istreambuf_iterator<char>(c)), std::istreambuf_iterator<char>());
    if (cmd.rfind("postgres: ", 0) == 0 && cmd.find(" " + db + " ") != std::string::npos) {
      total += cpu_seconds(std::stoi(name));
    }
  }
  return total;
}

/// The database name of a PostgreSQL URL.
inline std::string database_name(const std::string& url) {
  auto base = url.substr(0, url.find('?'));
  return base.substr(base.rfind('/') + 1);
}

}  // namespace orch::bench
