// casectl's triage options (cli/cmd_triage.cpp): status --reason and -m,
// tag's +TAG/-TAG words, list --tag.
#include <algorithm>
#include <catch2/catch.hpp>
#include <stdexcept>
#include <string>

#include "cli/commands.hpp"

using namespace cased;
using namespace cased::cli;

namespace {

// Parses casectl's words (after the program name) as casectl.cpp does.
Args parse_words(std::vector<std::string> words) {
  CLI::App app;
  bool json = false;
  app.add_flag("--json", json);
  app.require_subcommand(1);
  app.fallthrough();
  Args a;
  for (const auto& c : commands()) c.options(*app.add_subcommand(std::string(c.name)), a);
  words = positional_tag_changes(words);
  std::reverse(words.begin(), words.end());
  app.parse(words);
  return a;
}

// 0 when it parses, else the exit status casectl gives; the message in `why`.
int status_of(std::vector<std::string> words, std::string* why = nullptr) {
  try {
    parse_words(std::move(words));
    return 0;
  } catch (const Exit& e) {
    if (why) *why = e.message;
    return static_cast<int>(e.code);
  } catch (const CLI::ParseError& e) {
    if (why) *why = e.what();
    return static_cast<int>(ExitCode::usage);
  }
}

}  // namespace

TEST_CASE("status: --reason only with a closed state, from the list of reasons", "[cli][triage]") {
  Args a = parse_words({"status", "7", "resolved", "--reason", "fixed", "-m", "in 1.2"});
  CHECK(a.arg2 == "resolved");
  CHECK(a.reason == "fixed");
  CHECK(a.text == "in 1.2");
  CHECK(parse_words({"status", "7", "rejected", "--reason", "not-a-vulnerability"}).reason == "not-a-vulnerability");
  std::string why;
  CHECK(status_of({"status", "7", "open", "--reason", "fixed"}, &why) == 2);
  CHECK_THAT(why, Catch::Contains("--reason") && Catch::Contains("resolved or rejected"));
  CHECK(status_of({"status", "7", "resolved", "--reason", "whatever"}) == 2);
  CHECK(status_of({"status", "7", "resolved"}) == 0);
}

TEST_CASE("tag: +TAG and -TAG words in order, options where casectl has them", "[cli][triage]") {
  Args a = parse_words({"tag", "7", "-old", "+new", "-h2", "+v1.2"});
  CHECK(a.case_id == "7");
  CHECK(a.tag_changes == std::vector<std::string>{"-old", "+new", "-h2", "+v1.2"});
  auto moved = positional_tag_changes({"--config", "c.toml", "tag", "7", "-x", "--json", "+y"});
  CHECK(moved == std::vector<std::string>{"--config", "c.toml", "tag", "--json", "--", "7", "-x", "+y"});
  CHECK(positional_tag_changes({"list", "-x"}) == std::vector<std::string>{"list", "-x"});
  CHECK(status_of({"tag", "7"}) == 2);
  CHECK(status_of({"tag"}) == 2);
}

TEST_CASE("list --tag: repeatable, any case, checked", "[cli][triage]") {
  CHECK(parse_words({"list", "--tag", "web", "--tag", "Crash"}).list_tags == std::vector<std::string>{"web", "crash"});
  std::string why;
  CHECK(status_of({"list", "--tag", "a;b"}, &why) == 2);
  CHECK_THAT(why, Catch::Contains("not a tag"));
}
