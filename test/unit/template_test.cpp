#define BOOST_TEST_MODULE template
#include "domain/template.hpp"

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

using namespace orch;
using json = nlohmann::json;

namespace {

/// A context over owned data, so tests can fill it in freely.
struct fixture {
  json params = json::object();
  std::map<std::string, std::string> outputs;
  std::map<std::string, std::string> secrets;
  bool with_secrets = false;

  template_context ctx() const {
    template_context c;
    c.params = &params;
    c.outputs = &outputs;
    c.run_id = "run-42";
    c.task = "digest";
    c.attempt = 3;
    c.secrets = with_secrets ? &secrets : nullptr;
    return c;
  }
  std::string render(std::string_view text) const {
    auto r = render_string(text, ctx());
    if (!r.ok()) BOOST_FAIL("render failed: " << r.error().message);
    return *r;
  }
  error_info fail(std::string_view text) const {
    auto r = render_string(text, ctx());
    if (r.ok()) BOOST_FAIL("rendered unexpectedly: " << *r);
    return r.error();
  }
  json render_value(const json& v) const {
    auto r = render_json(v, ctx());
    if (!r.ok()) BOOST_FAIL("render failed: " << r.error().message);
    return *r;
  }
};

bool contains(const std::string& s, std::string_view part) {
  return s.find(part) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_CASE(text_without_templates_is_returned_unchanged) {
  fixture f;
  BOOST_TEST(f.render("") == "");
  BOOST_TEST(f.render("plain { text } with }} and {single") ==
             "plain { text } with }} and {single");
}

BOOST_AUTO_TEST_CASE(a_string_param_is_inserted_raw) {
  fixture f;
  f.params = {{"topic", "rust \"lang\""}};
  BOOST_TEST(f.render("about {{ params.topic }}!") == "about rust \"lang\"!");
}

BOOST_AUTO_TEST_CASE(spaces_inside_the_braces_are_optional) {
  fixture f;
  f.params = {{"x", "v"}};
  BOOST_TEST(f.render("{{params.x}}|{{ params.x }}|{{   params.x\t}}") == "v|v|v");
}

BOOST_AUTO_TEST_CASE(non_string_values_are_inserted_as_compact_json) {
  fixture f;
  f.params = {{"n", 5}, {"b", true}, {"o", {{"a", 1}}}, {"l", {1, 2}}, {"z", nullptr}};
  BOOST_TEST(
      f.render("{{ params.n }} {{ params.b }} {{ params.o }} {{ params.l }} {{ params.z }}") ==
      "5 true {\"a\":1} [1,2] null");
}

BOOST_AUTO_TEST_CASE(paths_index_objects_by_key_and_arrays_by_position) {
  fixture f;
  f.params = {{"user", {{"names", {"ann", "bob"}}}}};
  BOOST_TEST(f.render("{{ params.user.names.1 }}") == "bob");
}

BOOST_AUTO_TEST_CASE(a_step_output_is_inserted_as_its_raw_text) {
  fixture f;
  f.outputs["fetch"] = "  {\"items\": [1, 2]}\n";
  f.outputs["echo"] = "hello\n";
  BOOST_TEST(f.render("got {{ steps.echo.output }}") == "got hello\n");
  BOOST_TEST(f.render("{{ steps.fetch.output }}") == "  {\"items\": [1, 2]}\n");
}

BOOST_AUTO_TEST_CASE(a_path_below_a_json_output_reads_the_parsed_value) {
  fixture f;
  f.outputs["fetch"] = R"({"items": [{"title": "first"}, {"title": "second"}], "n": 2})";
  BOOST_TEST(f.render("{{ steps.fetch.output.items.1.title }}") == "second");
  BOOST_TEST(f.render("{{ steps.fetch.output.items.0 }}") == "{\"title\":\"first\"}");
  BOOST_TEST(f.render("{{ steps.fetch.output.n }}") == "2");
}

BOOST_AUTO_TEST_CASE(a_path_below_an_output_that_is_not_json_is_an_error) {
  fixture f;
  f.outputs["echo"] = "hello";
  const auto err = f.fail("{{ steps.echo.output.x }}");
  BOOST_TEST(static_cast<int>(err.code) == static_cast<int>(errc::unprocessable));
  BOOST_TEST(contains(err.message, "steps.echo.output.x"));
  BOOST_TEST(contains(err.message, "not JSON"));
}

BOOST_AUTO_TEST_CASE(a_missing_param_is_an_error_naming_it_never_an_empty_string) {
  fixture f;
  f.params = {{"a", {{"b", 1}}}};
  const auto err = f.fail("x{{ params.topic }}y");
  BOOST_TEST(static_cast<int>(err.code) == static_cast<int>(errc::unprocessable));
  BOOST_TEST(err.message == "template references unknown param 'topic'");
  BOOST_TEST(f.fail("{{ params.a.c }}").message == "template references unknown param 'a.c'");
  BOOST_TEST(contains(f.fail("{{ params.a.b.c }}").message, "'a.b.c'"));
}

BOOST_AUTO_TEST_CASE(out_of_range_and_non_numeric_array_indexes_are_errors) {
  fixture f;
  f.params = {{"l", {1, 2}}};
  f.fail("{{ params.l.2 }}");
  f.fail("{{ params.l.x }}");
  f.fail("{{ params.l.-1 }}");
  f.fail("{{ params.l.99999999999999999999 }}");
}

BOOST_AUTO_TEST_CASE(a_missing_step_output_is_an_error) {
  fixture f;
  const auto err = f.fail("{{ steps.fetch.output }}");
  BOOST_TEST(contains(err.message, "'fetch'"));
  f.outputs["fetch"] = "{}";
  BOOST_TEST(contains(f.fail("{{ steps.fetch.output.items }}").message, "items"));
  BOOST_TEST(contains(f.fail("{{ steps.fetch }}").message, "steps.<name>.output"));
  BOOST_TEST(contains(f.fail("{{ steps.fetch.stdout }}").message, "steps.<name>.output"));
}

BOOST_AUTO_TEST_CASE(run_fields_are_available) {
  fixture f;
  BOOST_TEST(f.render("{{ run.id }}/{{ run.task }}/{{ run.attempt }}") == "run-42/digest/3");
  BOOST_TEST(contains(f.fail("{{ run.node }}").message, "run.node"));
  f.fail("{{ run }}");
  f.fail("{{ run.id.x }}");
}

BOOST_AUTO_TEST_CASE(secrets_resolve_only_when_configured) {
  fixture f;
  BOOST_TEST(contains(f.fail("{{ secrets.TOKEN }}").message, "no secrets are configured"));
  f.with_secrets = true;
  f.secrets["TOKEN"] = "s3cr3t";
  BOOST_TEST(f.render("Bearer {{ secrets.TOKEN }}") == "Bearer s3cr3t");
  BOOST_TEST(contains(f.fail("{{ secrets.OTHER }}").message, "'OTHER'"));
  f.fail("{{ secrets }}");
}

BOOST_AUTO_TEST_CASE(an_unknown_root_is_an_error) {
  fixture f;
  BOOST_TEST(contains(f.fail("{{ env.HOME }}").message, "unknown root 'env'"));
}

BOOST_AUTO_TEST_CASE(malformed_templates_are_errors) {
  fixture f;
  f.params = {{"x", 1}};
  BOOST_TEST(contains(f.fail("abc {{ params.x").message, "unterminated"));
  BOOST_TEST(contains(f.fail("{{ params.x }} {{").message, "unterminated"));
  BOOST_TEST(contains(f.fail("{{ }}").message, "empty"));
  BOOST_TEST(contains(f.fail("{{ params..x }}").message, "malformed"));
  BOOST_TEST(contains(f.fail("{{ params. x }}").message, "malformed"));
  BOOST_TEST(contains(f.fail("{{ .x }}").message, "malformed"));
  f.fail("{{{ params.x }}}");
}

BOOST_AUTO_TEST_CASE(references_are_listed_trimmed_and_in_order) {
  auto refs = template_references("a {{ params.x }} b {{steps.s.output}}{{run.id }}");
  BOOST_REQUIRE(refs.ok());
  BOOST_TEST((*refs == std::vector<std::string>{"params.x", "steps.s.output", "run.id"}));
  BOOST_TEST(template_references("no refs").value().empty());
  BOOST_TEST(!template_references("{{ open").ok());
}

BOOST_AUTO_TEST_CASE(an_expression_splits_into_root_and_path) {
  auto ref = parse_template_ref("steps.fetch.output.items.0");
  BOOST_REQUIRE(ref.ok());
  BOOST_TEST(ref->root == "steps");
  BOOST_TEST((ref->path == std::vector<std::string>{"fetch", "output", "items", "0"}));
  BOOST_TEST(parse_template_ref("params").value().path.empty());
  BOOST_TEST(!parse_template_ref("").ok());
  BOOST_TEST(!parse_template_ref("a.").ok());
}

BOOST_AUTO_TEST_CASE(render_json_keeps_keys_and_renders_every_string) {
  fixture f;
  f.params = {{"who", "ann"}};
  const json in = {{"{{ params.who }}", "hi {{ params.who }}"},
                   {"list", {"a {{ params.who }}", 1, true, nullptr}}};
  const json out = f.render_value(in);
  BOOST_TEST(out["{{ params.who }}"] == "hi ann");
  BOOST_TEST(out["list"] == json({"a ann", 1, true, nullptr}));
}

BOOST_AUTO_TEST_CASE(a_string_that_is_exactly_one_reference_becomes_the_value_itself) {
  fixture f;
  f.params = {{"n", 5}, {"o", {{"a", {1, 2}}}}};
  f.outputs["fetch"] = R"({"items": [10, 20]})";
  f.outputs["echo"] = "plain text";
  const json out = f.render_value({{"n", "{{ params.n }}"},
                                   {"o", "  {{ params.o }}\n"},
                                   {"f", "{{ steps.fetch.output }}"},
                                   {"i", "{{ steps.fetch.output.items.1 }}"},
                                   {"e", "{{ steps.echo.output }}"},
                                   {"a", "{{ run.attempt }}"},
                                   {"two", "{{ params.n }}{{ params.n }}"}});
  BOOST_TEST(out["n"] == json(5));
  BOOST_TEST(out["o"] == json({{"a", {1, 2}}}));
  BOOST_TEST(out["f"] == json({{"items", {10, 20}}}));
  BOOST_TEST(out["i"] == json(20));
  BOOST_TEST(out["e"] == json("plain text"));
  BOOST_TEST(out["a"] == json(3));
  BOOST_TEST(out["two"] == json("55"));
}

BOOST_AUTO_TEST_CASE(a_top_level_string_value_is_rendered_too) {
  fixture f;
  f.outputs["prompt"] = R"({"text": "hi"})";
  BOOST_TEST(f.render_value("{{ steps.prompt.output }}") == json({{"text", "hi"}}));
  BOOST_TEST(f.render_value(json(7)) == json(7));
}

BOOST_AUTO_TEST_CASE(render_json_fails_on_the_first_missing_reference) {
  fixture f;
  auto r = render_json({{"a", {"ok", "{{ params.nope }}"}}}, f.ctx());
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(r.error().message == "template references unknown param 'nope'");
}

BOOST_AUTO_TEST_CASE(a_null_context_has_no_params_and_no_outputs) {
  template_context ctx;
  BOOST_TEST(!render_string("{{ params.x }}", ctx).ok());
  BOOST_TEST(!render_string("{{ steps.a.output }}", ctx).ok());
  BOOST_TEST(render_string("{{ run.attempt }}", ctx).value() == "0");
}

BOOST_AUTO_TEST_CASE(invalid_utf8_inside_a_value_is_replaced_not_thrown) {
  fixture f;
  f.params = {{"o", {{"k", std::string("bad \xff\xfe byte")}}}};
  auto r = render_string("{{ params.o }}", f.ctx());
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(contains(*r, "\xEF\xBF\xBD"));
  BOOST_CHECK_NO_THROW(json(*r).dump());
}

BOOST_AUTO_TEST_CASE(error_messages_stay_valid_utf8_for_hostile_references) {
  fixture f;
  auto r = render_string("{{ params.\xc3\x28 }}", f.ctx());
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(valid_utf8(r.error().message));
  BOOST_CHECK_NO_THROW(json(r.error().message).dump());
}

BOOST_AUTO_TEST_CASE(a_deeply_nested_output_is_treated_as_plain_text) {
  fixture f;
  f.outputs["deep"] = std::string(100000, '[') + std::string(100000, ']');
  BOOST_TEST(f.render("{{ steps.deep.output }}").size() == 200000u);
  BOOST_TEST(f.render_value("{{ steps.deep.output }}").is_string());
  f.fail("{{ steps.deep.output.0 }}");
}

BOOST_AUTO_TEST_CASE(a_deeply_nested_value_is_refused_without_crashing) {
  fixture f;
  const json deep = json::parse(std::string(5000, '[') + std::string(5000, ']'));
  auto r = render_json(deep, f.ctx());
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(contains(r.error().message, "deeper"));
}

BOOST_AUTO_TEST_CASE(many_references_render_in_linear_time) {
  fixture f;
  f.params = {{"x", "ab"}};
  std::string text;
  for (int i = 0; i < 200000; ++i) text += "{{ params.x }}-";
  const auto start = std::chrono::steady_clock::now();
  const auto out = f.render(text);
  const auto took = std::chrono::steady_clock::now() - start;
  BOOST_TEST(out.size() == 600000u);
  BOOST_TEST(std::chrono::duration_cast<std::chrono::seconds>(took).count() < 10);
}

BOOST_AUTO_TEST_CASE(a_large_output_is_parsed_once_however_often_it_is_referenced) {
  fixture f;
  std::string big = "[";
  for (int i = 0; i < 100000; ++i) big += std::to_string(i) + ",";
  big += "0]";
  f.outputs["big"] = big;
  std::string text;
  for (int i = 0; i < 2000; ++i) text += "{{ steps.big.output.5 }}";
  const auto start = std::chrono::steady_clock::now();
  BOOST_TEST(f.render(text).size() == 2000u);
  const auto took = std::chrono::steady_clock::now() - start;
  BOOST_TEST(std::chrono::duration_cast<std::chrono::seconds>(took).count() < 10);
}

BOOST_AUTO_TEST_CASE(rendering_that_would_exceed_the_size_limit_fails) {
  fixture f;
  f.outputs["big"] = std::string(1 << 20, 'x');
  std::string text;
  for (int i = 0; i < 20; ++i) text += "{{ steps.big.output }}";
  BOOST_TEST(contains(f.fail(text).message, "exceeds"));
  json many = json::array();
  for (int i = 0; i < 20; ++i) many.push_back("{{ steps.big.output }}");
  BOOST_TEST(!render_json(many, f.ctx()).ok());
}

BOOST_AUTO_TEST_CASE(utf8_validation_rejects_malformed_sequences) {
  BOOST_TEST(valid_utf8("plain"));
  BOOST_TEST(valid_utf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
  BOOST_TEST(!valid_utf8("\xff"));
  BOOST_TEST(!valid_utf8("\xc3"));              // truncated
  BOOST_TEST(!valid_utf8("\xc0\xaf"));          // overlong
  BOOST_TEST(!valid_utf8("\xed\xa0\x80"));      // surrogate
  BOOST_TEST(!valid_utf8("\xf4\x90\x80\x80"));  // beyond U+10FFFF
}

BOOST_AUTO_TEST_CASE(printable_repairs_and_shortens_text) {
  BOOST_TEST(printable("ok") == "ok");
  BOOST_TEST(printable("a\xff"
                       "b") ==
             "a\xEF\xBF\xBD"
             "b");
  BOOST_TEST(printable(std::string(500, 'x'), 10) == std::string(10, 'x') + "...");
  BOOST_TEST(valid_utf8(printable("\xe2\x82\xac\xe2\x82\xac\xe2\x82", 4)));
}
