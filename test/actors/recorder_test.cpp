#define CAF_SUITE recorder
#include <tuple>

#include "actor_fixture.hpp"

using namespace orch;
using namespace orch::actors;
using namespace orch::actor_test;

namespace {

/// What the recorder's store was asked, and how it answers.
struct record_data {
  int fail_completes = 0;                   // the next so many writes of results fail
  int fail_appends = 0;                     // the next so many writes of log lines fail
  std::vector<std::size_t> complete_calls;  // batch size of every attempt
  std::vector<std::vector<persistence::completion>> completed;
  std::vector<std::vector<persistence::new_log_line>> appended;
  std::vector<std::string> calls;  // "logs" / "results", in order of success
  std::vector<std::tuple<std::string, std::string>> released;  // (node, owner)
  std::vector<std::vector<long long>> renewed;
  persistence::run_repo::renew_outcome answer;
};

class scripted_store : public record_store {
 public:
  explicit scripted_store(std::shared_ptr<record_data> d) : d_(std::move(d)) {}

  status append_logs(const std::vector<persistence::new_log_line>& lines) override {
    if (d_->fail_appends > 0) {
      --d_->fail_appends;
      return error_info{errc::unavailable, "connection lost", ""};
    }
    d_->appended.push_back(lines);
    d_->calls.emplace_back("logs");
    return ok_status();
  }
  result<std::vector<long long>> complete(
      const std::vector<persistence::completion>& done) override {
    d_->complete_calls.push_back(done.size());
    if (d_->fail_completes > 0) {
      --d_->fail_completes;
      return error_info{errc::unavailable, "connection lost", ""};
    }
    d_->completed.push_back(done);
    d_->calls.emplace_back("results");
    std::vector<long long> ids;
    for (const auto& c : done) ids.push_back(c.id);
    return ids;
  }
  result<long long> release_dead_incarnations(const std::string& node, const std::string& owner,
                                              int) override {
    d_->released.emplace_back(node, owner);
    return 0LL;
  }
  result<persistence::run_repo::renew_outcome> renew(const std::string&,
                                                     const std::vector<long long>& ids,
                                                     millis) override {
    d_->renewed.push_back(ids);
    return d_->answer;
  }

 private:
  std::shared_ptr<record_data> d_;
};

struct fixture : engine_fixture {
  std::shared_ptr<record_data> data = std::make_shared<record_data>();
  recorder_actor recorder;

  fixture() {
    cfg.completion_flush = millis(10);
    cfg.completion_batch = 3;
    recorder = keep(spawn_recorder(
        sys, cfg, node, [d = data] { return std::make_unique<scripted_store>(d); },
        spawn_mode::scheduled));
    deliver();
  }

  void finish(long long id, const std::string& owner = "n1/inc.p0") {
    run_result r;
    r.run_id = id;
    r.attempt = 1;
    r.owner = owner;
    r.task = "t";
    r.status = "succeeded";
    caf::anon_send(recorder, std::move(r));
  }

  /// Renews `ids` for `owner` and returns the answer (flagged, lost).
  std::tuple<std::vector<long long>, std::vector<long long>> renew(const std::string& owner,
                                                                   std::vector<long long> ids) {
    auto h = self->request(recorder, caf::infinite, renew_msg{owner, std::move(ids)});
    deliver();
    std::tuple<std::vector<long long>, std::vector<long long>> out;
    h.receive(
        [&](std::vector<long long>& f, std::vector<long long>& l) {
          out = {f, l};
        },
        [&](caf::error& e) { CAF_FAIL("renew failed: " << caf::to_string(e)); });
    return out;
  }
};

}  // namespace

CAF_TEST_FIXTURE_SCOPE(recorder_protocol, fixture)

CAF_TEST(results_wait_for_the_flush_interval_and_are_written_in_one_statement) {
  finish(1);
  finish(2);
  deliver();
  CAF_CHECK(data->complete_calls.empty());
  CAF_CHECK_EQUAL(node->unrecorded.load(), 2);
  advance(cfg.completion_flush);
  CAF_REQUIRE_EQUAL(data->completed.size(), 1u);
  CAF_CHECK_EQUAL(data->completed[0].size(), 2u);
  CAF_CHECK_EQUAL(data->completed[0][0].id, 1);
  CAF_CHECK_EQUAL(data->completed[0][0].status, "succeeded");
  CAF_CHECK_EQUAL(node->unrecorded.load(), 0);
}

CAF_TEST(a_backlog_is_written_in_batches_one_after_another) {
  for (long long id = 1; id <= 5; ++id) finish(id);
  deliver();
  advance(cfg.completion_flush);  // one interval: both batches, no wait between them
  CAF_REQUIRE_EQUAL(data->completed.size(), 2u);
  CAF_CHECK_EQUAL(data->completed[0].size(), 3u);  // completion_batch
  CAF_CHECK_EQUAL(data->completed[1].size(), 2u);
  CAF_CHECK_EQUAL(data->completed[1][1].id, 5);
  CAF_CHECK_EQUAL(node->unrecorded.load(), 0);
}

CAF_TEST(a_failed_write_keeps_the_results_and_retries_with_growing_delays) {
  data->fail_completes = 2;
  finish(1);
  finish(2);
  deliver();
  advance(cfg.completion_flush);
  CAF_CHECK_EQUAL(data->complete_calls.size(), 1u);
  advance(millis(50));  // first retry
  CAF_CHECK_EQUAL(data->complete_calls.size(), 2u);
  advance(millis(50));  // the delay doubled: not yet
  CAF_CHECK_EQUAL(data->complete_calls.size(), 2u);
  CAF_CHECK_EQUAL(node->unrecorded.load(), 2);
  advance(millis(50));
  CAF_REQUIRE_EQUAL(data->completed.size(), 1u);
  CAF_CHECK_EQUAL(data->completed[0].size(), 2u);  // nothing lost
  CAF_CHECK_EQUAL(node->unrecorded.load(), 0);
}

CAF_TEST(log_lines_go_first_and_are_kept_when_their_write_fails) {
  data->fail_appends = 1;
  log_batch b;
  b.lines.push_back({1, 1, 0, "stdout", "s", "one"});
  b.lines.push_back({1, 1, 0, "stdout", "s", "two"});
  caf::anon_send(recorder, std::move(b));
  finish(1);
  deliver();
  advance(cfg.completion_flush);
  CAF_CHECK(data->complete_calls.empty());  // results wait behind their log lines
  advance(millis(50));
  CAF_REQUIRE_EQUAL(data->appended.size(), 1u);
  CAF_REQUIRE_EQUAL(data->appended[0].size(), 2u);
  CAF_CHECK_EQUAL(data->appended[0][1].line, "two");
  CAF_CHECK_EQUAL(data->calls, (std::vector<std::string>{"logs", "results"}));
}

CAF_TEST(the_first_renewal_of_a_new_pool_releases_the_runs_of_its_predecessors) {
  renew("n1/inc.a", {});
  renew("n1/inc.a", {});
  renew("n1/inc.b", {});
  using pair = std::tuple<std::string, std::string>;
  CAF_REQUIRE_EQUAL(data->released.size(), 2u);
  CAF_CHECK(data->released[0] == pair("n1", "n1/inc.a"));
  CAF_CHECK(data->released[1] == pair("n1", "n1/inc.b"));
}

CAF_TEST(results_not_written_yet_are_renewed_and_the_answer_is_passed_on) {
  finish(9, "n1/inc.a");
  finish(8, "n1/inc.other");
  data->answer.flagged = {1};
  data->answer.lost = {2};
  auto [flagged, lost] = renew("n1/inc.a", {1, 2});
  CAF_REQUIRE_EQUAL(data->renewed.size(), 1u);
  CAF_CHECK_EQUAL(data->renewed[0], (std::vector<long long>{1, 2, 9}));
  CAF_CHECK_EQUAL(flagged, (std::vector<long long>{1}));
  CAF_CHECK_EQUAL(lost, (std::vector<long long>{2}));
}

CAF_TEST(a_probe_is_answered_after_the_messages_sent_before_it) {
  finish(1);
  auto h = self->request(recorder, caf::infinite, probe_atom::value);
  deliver();
  bool answered = false;
  h.receive([&](bool ok) { answered = ok; }, [&](caf::error&) {});
  CAF_CHECK(answered);
  CAF_CHECK_EQUAL(node->unrecorded.load(), 1);  // taken in, not written yet
}

CAF_TEST_FIXTURE_SCOPE_END()
