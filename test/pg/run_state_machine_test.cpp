#define BOOST_TEST_MODULE pg_run_state_machine
// Every (status, event) pair of the run state machine (domain/run.hpp), done
// by the repository's SQL against real PostgreSQL, with counters that reach
// every branch: the SQL and the domain must agree on each one.

#include <boost/test/unit_test.hpp>
#include <functional>
#include <sstream>

#include "domain/run.hpp"
#include "persistence/run_repo.hpp"
#include "pg/pg_fixture.hpp"
#include "steps/pipeline.hpp"

using namespace orch;
using namespace orch::test;
namespace p = orch::persistence;
using namespace std::chrono_literals;

namespace orch {
// For Boost.Test's messages.
inline std::ostream& operator<<(std::ostream& os, run_status s) {
  return os << to_string(s);
}
}  // namespace orch

namespace {

constexpr int cap = 3;  // lost leases per run
const std::string owner = "node-a/inc1.1";

/// A run as the state machine sees it, read back from the database.
struct row_state {
  run_status status = run_status::pending;
  int attempt = 0;
  int lost_leases = 0;
  bool cancel_requested = false;
  bool finished = false;
  std::string error_code;
};

std::ostream& operator<<(std::ostream& os, const row_state& r) {
  return os << to_string(r.status) << " attempt=" << r.attempt << " lost=" << r.lost_leases
            << " cancel=" << r.cancel_requested << " finished=" << r.finished
            << " error=" << r.error_code;
}

/// How each event reaches the database: the API, the worker's recorded
/// outcome, or one of the three ways a lease is lost.
enum class path {
  claim,
  cancel,
  succeed,
  fail,
  stop,
  release,
  expiry,
  dead_incarnation,
  peer_down
};

run_event event_of(path p) {
  switch (p) {
    case path::claim:
      return run_event::claim;
    case path::cancel:
      return run_event::cancel;
    case path::succeed:
      return run_event::succeed;
    case path::fail:
      return run_event::fail;
    case path::stop:
      return run_event::stop;
    case path::release:
      return run_event::release;
    case path::expiry:
    case path::dead_incarnation:
    case path::peer_down:
      return run_event::lease_lost;
  }
  return run_event::fail;
}

const char* name_of(path p) {
  static const char* names[] = {"claim",   "cancel", "succeed",          "fail",     "stop",
                                "release", "expiry", "dead_incarnation", "peer_down"};
  return names[static_cast<int>(p)];
}

struct machine_db : pg_db {
  long long arrange(run_status s, const run_counters& c) {
    sql("DELETE FROM runs");
    p::new_run r;
    r.task = "fetch";
    r.task_version = 1;
    r.max_attempts = c.max_attempts;
    auto id = must(p::run_repo::submit(db, r)).run.id;
    bool running = s == run_status::running;
    std::ostringstream q;
    q << std::boolalpha << "UPDATE runs SET status = '" << to_string(s)
      << "', attempt = " << c.attempt << ", lost_leases = " << c.lost_leases
      << ", cancel_requested = " << c.cancel_requested
      << ", node = 'node-a', error_code = NULL, finished_at = "
      << (is_terminal(s) ? "now()" : "NULL")
      << ", lease_owner = " << (running ? "'" + owner + "'" : "NULL")
      << ", lease_expires_at = " << (running ? "now() + interval '1 hour'" : "NULL")
      << " WHERE id = " << id;
    sql(q.str());
    return id;
  }

  row_state read(long long id) {
    auto r =
        sql("SELECT status, attempt, lost_leases, cancel_requested, finished_at IS NOT NULL, "
            "coalesce(error_code, '') FROM runs WHERE id = " +
            std::to_string(id))[0];
    return {*parse_run_status(r[0].as<std::string>()),
            r[1].as<int>(),
            r[2].as<int>(),
            r[3].as<bool>(),
            r[4].as<bool>(),
            r[5].as<std::string>()};
  }

  // What the worker records for an attempt that ended with `outcome`: the
  // real decision of steps/, which knows no cancel requested after its start.
  void record(long long id, const run_counters& c, steps::pipeline_outcome outcome) {
    outcome.error_code = outcome.status == run_status::failed ? "boom" : "";
    auto d = steps::decide(outcome, c, retry_policy{}, now_ms(), 7);
    p::completion x;
    x.id = id;
    x.attempt = c.attempt;
    x.owner = owner;
    x.status = d.status;
    x.release = d.release;
    x.available_at = d.available_at;
    if (!outcome.error_code.empty()) x.error_code = outcome.error_code;
    must(p::run_repo::complete(db, {x}));
  }

  void apply(path e, long long id, const run_counters& c) {
    steps::pipeline_outcome out;
    switch (e) {
      case path::claim: {
        p::claim_request req;
        req.owner = "node-b/inc1.1";
        req.node = "node-b";
        req.limit = 10;
        must(p::run_repo::claim(db, req));
        return;
      }
      case path::cancel:
        (void)p::run_repo::cancel(db, id);  // a finished run answers conflict
        return;
      case path::succeed:
        out.status = run_status::succeeded;
        return record(id, c, out);
      case path::fail:
        out.status = run_status::failed;
        return record(id, c, out);
      case path::stop:
        out.status = run_status::cancelled;
        return record(id, c, out);
      case path::release:
        out.status = run_status::cancelled;
        out.released = true;
        return record(id, c, out);
      case path::expiry:
        sql("UPDATE runs SET lease_expires_at = now() - interval '1 second' WHERE id = " +
            std::to_string(id) + " AND lease_expires_at IS NOT NULL");
        must(p::run_repo::requeue_expired(db, 100, cap));
        return;
      case path::dead_incarnation:
        must(p::run_repo::release_dead_incarnations(db, "node-a", "node-a/inc2", cap));
        return;
      case path::peer_down:
        must(p::run_repo::release_owner_prefix(db, "node-a/inc1.", cap));
        return;
    }
  }
};

}  // namespace

BOOST_FIXTURE_TEST_CASE(the_sql_makes_every_transition_of_the_domain_state_machine, machine_db) {
  const path paths[] = {path::claim,    path::cancel,  path::succeed, path::fail,
                        path::stop,     path::release, path::expiry,  path::dead_incarnation,
                        path::peer_down};
  int checked = 0, moved = 0;
  for (auto s : all_run_statuses) {
    for (auto e : paths) {
      for (int attempt : {1, 2}) {
        for (int lost : {0, 1, cap - 1}) {
          if (lost >= attempt + 1) continue;  // lost leases are earlier executions
          for (bool cancel : {false, true}) {
            // A pending run's cancel ends it at once: no pending run carries the flag.
            if (s == run_status::pending && cancel) continue;
            run_counters c{s == run_status::pending ? attempt - 1 : attempt, 2, lost, cancel, cap};
            BOOST_TEST_CONTEXT(to_string(s) << " + " << name_of(e) << " attempt=" << c.attempt
                                            << " lost=" << lost << " cancel=" << cancel) {
              auto id = arrange(s, c);
              auto before = read(id);
              apply(e, id, c);
              auto after = read(id);
              ++checked;
              auto t = next_state(s, event_of(e), c);
              if (!t) {
                BOOST_TEST(after.status == before.status);
                BOOST_TEST(after.attempt == before.attempt);
                BOOST_TEST(after.lost_leases == before.lost_leases);
                BOOST_TEST(after.cancel_requested == before.cancel_requested);
                BOOST_TEST(after.finished == before.finished);
                BOOST_TEST(after.error_code == before.error_code);
                continue;
              }
              ++moved;
              BOOST_TEST(after.status == t->next, "got " << after);
              BOOST_TEST(after.attempt == c.attempt + t->attempt_delta, "got " << after);
              BOOST_TEST(after.lost_leases == c.lost_leases + t->lost_lease_delta, "got " << after);
              BOOST_TEST(after.finished == t->finished, "got " << after);
              // The flag matters while a run can still be stopped.
              if (!is_terminal(t->next)) {
                BOOST_TEST(after.cancel_requested == t->cancel_requested, "got " << after);
              }
              if (!t->error_code.empty()) {
                BOOST_TEST(after.error_code == std::string(t->error_code), "got " << after);
              } else if (e == path::fail && t->finished) {
                BOOST_TEST(after.error_code == "boom", "the attempt's own error: " << after);
              }
            }
          }
        }
      }
    }
  }
  BOOST_TEST_MESSAGE(checked << " cases, " << moved << " transitions");
  BOOST_TEST(moved > 40);
}
