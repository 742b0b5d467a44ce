// casectl's command table and exit-code table (cli/commands.cpp,
// cli/exit_codes.cpp): which rows write, how options parse, which status
// each kind of error gets.
#include <algorithm>
#include <catch2/catch.hpp>
#include <set>
#include <stdexcept>
#include <string>

#include "cli/commands.hpp"

using namespace cased;
using namespace cased::cli;

namespace {

const Command& row(std::string_view name) {
  for (const auto& c : commands())
    if (c.name == name) return c;
  FAIL("no row " << name);
  throw std::logic_error("unreachable");
}

// Parses `argv` as casectl would for one row; returns the Args.
Args parse(std::string_view name, std::vector<std::string> argv) {
  CLI::App app;
  Args a;
  CLI::App* sub = app.add_subcommand(std::string(name));
  row(name).options(*sub, a);
  argv.insert(argv.begin(), std::string(name));
  std::reverse(argv.begin(), argv.end());
  app.parse(argv);
  return a;
}

}  // namespace

TEST_CASE("each command is one row with a unique name", "[cli]") {
  std::set<std::string_view> names;
  for (const auto& c : commands()) {
    CHECK(names.insert(c.name).second);
    CHECK_FALSE(c.help.empty());
  }
  CHECK(names.size() == 31);  // 20 + attachments, save, raw, tag, merge, split, vendor, advisory, notify,
                              // vendor-status, outreach
}

TEST_CASE("commands that only read open the database read-only", "[cli]") {
  Args none;
  for (auto name : {"list", "export", "show", "digest", "stats", "outbox", "keys"})
    CHECK(row(name).access(none) == Access::read);
  CHECK(row("search").access(none) == Access::index);
  CHECK(row("securitytxt").access(none) == Access::none);
  // backup and verify open the database themselves, never migrating it.
  CHECK(row("backup").access(none) == Access::none);
  CHECK(row("verify").access(none) == Access::none);
  for (auto name : {"init", "ingest", "assign", "take", "comment", "status", "tag", "set", "reply", "participant"})
    CHECK(row(name).access(none) == Access::write);
  CHECK(row("outbox").access(parse("outbox", {"retry", "3"})) == Access::write);
  CHECK(row("digest").access(parse("digest", {"--send"})) == Access::write);
  CHECK(row("keys").access(parse("keys", {"pin", "a@example.org", "AAAA"})) == Access::write);
  CHECK(row("keys").access(parse("keys", {"export"})) == Access::none);
  CHECK(row("keys").access(parse("keys", {"list"})) == Access::read);
}

TEST_CASE("set: 'none' clears a field, an absent option leaves it", "[cli]") {
  Args a = parse("set", {"7", "--embargo", "none", "--product", "frob", "--cve", "CVE-2026-1234"});
  CHECK(a.case_id == "7");
  CHECK(a.disclosure.embargo == std::optional<std::string>(""));
  CHECK(a.disclosure.product == std::optional<std::string>("frob"));
  CHECK_FALSE(a.disclosure.versions);
  CHECK_FALSE(a.disclosure.cvss);
  CHECK(a.disclosure.add_cves == std::vector<std::string>{"CVE-2026-1234"});
}

TEST_CASE("list and search take --limit; stats its period", "[cli]") {
  CHECK(parse("list", {"--limit", "50"}).limit == 50);
  CHECK(parse("list", {}).limit == -1);
  CHECK(parse("search", {"word", "--limit", "3"}).limit == 3);
  Args st = parse("stats", {"--since", "2026-11-01", "--until", "2026-11-30"});
  CHECK(st.since == "2026-11-01");
  CHECK(st.until == "2026-11-30");
}

TEST_CASE("ingest: FILE and --mbox together are a usage error", "[cli]") {
  try {
    parse("ingest", {"a.eml", "--mbox", "b.mbox"});
    FAIL("parsed");
  } catch (const Exit& e) {
    CHECK(e.code == ExitCode::usage);
  }
}

TEST_CASE("one exit status per kind of error", "[cli]") {
  CHECK(exit_for(Errc::not_found) == ExitCode::not_found);
  CHECK(exit_for(Errc::refused) == ExitCode::refused);
  CHECK(exit_for(Errc::temporary) == ExitCode::temporary);
  CHECK(exit_for(Errc::full) == ExitCode::temporary);
  CHECK(exit_for(Errc::busy) == ExitCode::temporary);
  CHECK(exit_for(Errc::unavailable) == ExitCode::temporary);
  CHECK(exit_for(Errc::invalid) == ExitCode::failure);
  CHECK(exit_for(Errc::internal) == ExitCode::failure);
  std::set<int> codes;
  for (const auto& r : exit_table()) CHECK(codes.insert(static_cast<int>(r.code)).second);
  CHECK(codes == std::set<int>{0, 1, 2, 3, 4, 75});
  CHECK_THAT(exit_help(), Catch::Contains(" 75  temporary"));
}

namespace {

// The exit status a parse ends with: 0 when it parses, 2 for CLI11's own
// errors and for fail(ExitCode::usage); the message in `why`.
int parse_status(std::string_view name, std::vector<std::string> argv, std::string* why = nullptr) {
  try {
    parse(name, std::move(argv));
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

TEST_CASE("assign: a USER or --none, never an empty name", "[cli]") {
  Args named = parse("assign", {"7", "alice"});
  CHECK(named.arg2 == "alice");
  CHECK_FALSE(named.assign_none);
  Args none = parse("assign", {"7", "--none"});
  CHECK(none.assign_none);
  CHECK(none.arg2.empty());
  std::string why;
  CHECK(parse_status("assign", {"7", ""}, &why) == 2);
  CHECK_THAT(why, Catch::Contains("--none"));
  CHECK(parse_status("assign", {"7"}) == 2);
  CHECK(parse_status("assign", {"7", "alice", "--none"}) == 2);
  CHECK(parse("take", {"7"}).case_id == "7");
}

TEST_CASE("list: repeated --status, filters, sort; bad counts name the option", "[cli]") {
  Args a = parse("list", {"--status", "new", "--status", "waiting", "--unassigned", "--sort", "embargo", "--reverse"});
  CHECK(a.list_status == std::vector<std::string>{"new", "waiting"});
  CHECK(a.unassigned);
  CHECK(a.sort == "embargo");
  CHECK(a.reverse);
  CHECK(parse("list", {}).sort == "updated");
  CHECK(parse("list", {"--mine"}).mine);
  CHECK(parse("list", {"--embargoed"}).embargoed);
  CHECK(parse("list", {"--all"}).list_all);
  CHECK(parse("list", {"--stale", "0"}).list_stale == 0);
  CHECK(parse_status("list", {"--all", "--status", "new"}) == 2);
  CHECK(parse_status("list", {"--mine", "--assignee", "bob"}) == 2);
  CHECK(parse_status("list", {"--sort", "subject"}) == 2);
  for (std::string bad : {"abc", "-1", "99999999999999999999", "3.5", ""}) {
    std::string why;
    CHECK(parse_status("list", {"--stale", bad}, &why) == 2);
    CHECK_THAT(why, Catch::Contains("--stale: wants a whole number from 0 to 100000"));
    CHECK(why.size() < 200);
  }
  std::string why;
  CHECK(parse_status("list", {"--limit", "0"}, &why) == 2);
  CHECK_THAT(why, Catch::Contains("--limit: wants a whole number from 1"));
  CHECK(parse_status("search", {"w", "--limit", "x"}) == 2);
}
