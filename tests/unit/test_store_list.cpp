// The triage list's filters and orders (Store::list_cases) and unassigning
// (Store::assign with no user).
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>

#include "../store_access.hpp"
#include "core/util.hpp"
#include "store/store.hpp"
#include "store_ingest.hpp"
#include "temp_db.hpp"

using namespace cased;

namespace {

std::int64_t open_case(Store& s, const std::string& id) {
  PreparedMessage p;
  p.raw = "Message-ID: <" + id + ">\r\nSubject: a report\r\n\r\nbody\r\n";
  p.sha256 = normalized_sha256(p.raw);
  p.parsed.message_id = id;
  p.parsed.from = "reporter@example.org";
  p.parsed.subject = "a report";
  p.parsed.body = "body";
  p.parsed.to = {"security@example.com"};
  return test::ingest(s, std::move(p)).case_id;
}

void set_times(Store& s, std::int64_t id, std::int64_t created, std::int64_t updated) {
  StoreTestAccess::db(s)
      .prepare("UPDATE cases SET created = ?, updated = ? WHERE id = ?")
      .bind(1, created)
      .bind(2, updated)
      .bind(3, id)
      .run();
}

std::vector<std::int64_t> ids(Result<std::vector<CaseSummary>> v) {
  REQUIRE(v.ok());
  std::vector<std::int64_t> out;
  for (const auto& c : *v) out.push_back(c.id);
  return out;
}

using Ids = std::vector<std::int64_t>;

}  // namespace

TEST_CASE("store: assign with no user unassigns; an empty name is refused", "[store][list]") {
  test::TempDb t;
  auto s = Store::open(t.path(), {});
  REQUIRE(s.ok());
  auto id = open_case(*s, "a@x");
  REQUIRE(s->assign(id, std::string("alice"), "bob").ok());
  CHECK(s->assign(id, std::string(), "bob").error().code == Errc::invalid);
  REQUIRE(s->assign(id, std::nullopt, "bob").ok());
  auto c = s->get_case(id);
  REQUIRE(c.ok());
  CHECK_FALSE(c->summary.assignee);
  std::vector<std::string> details;
  for (const auto& e : c->events)
    if (e.kind == "assign") details.push_back(e.detail + "/" + e.actor);
  CHECK(details == std::vector<std::string>{"alice/bob", "/bob"});
  CaseFilter nobody;
  nobody.unassigned = true;
  CHECK(ids(s->list_cases(nobody)) == Ids{id});
}

TEST_CASE("store: list filters by several states, unassigned, stale open cases; sorts", "[store][list]") {
  test::TempDb t;
  auto s = Store::open(t.path(), {});
  REQUIRE(s.ok());
  std::int64_t now = now_unix();
  Ids c;
  for (int i = 0; i < 4; ++i) c.push_back(open_case(*s, "m" + std::to_string(i) + "@x"));
  REQUIRE(s->set_status(c[1], "resolved", "t").ok());
  REQUIRE(s->set_status(c[2], "waiting", "t").ok());
  REQUIRE(s->assign(c[3], std::string("alice"), "t").ok());
  DisclosureChange later, sooner;
  later.embargo = "2027-03-01";
  sooner.embargo = "2027-01-15";
  sooner.add_cves = {"CVE-2026-1111", "CVE-2026-2222"};
  REQUIRE(s->set_disclosure(c[0], later, "t").ok());
  REQUIRE(s->set_disclosure(c[2], sooner, "t").ok());
  // created: 3 oldest, then 0, 2, 1; updated: 1 oldest, then 2, 0, 3.
  const int created_days[] = {30, 10, 20, 40}, idle_days[] = {5, 20, 10, 1};
  for (int i = 0; i < 4; ++i) set_times(*s, c[i], now - created_days[i] * 86400, now - idle_days[i] * 86400);

  CaseFilter states;
  states.statuses = {"new", "waiting"};
  CHECK(ids(s->list_cases(states)) == Ids{c[3], c[0], c[2]});
  CaseFilter unassigned;
  unassigned.unassigned = true;
  CHECK(ids(s->list_cases(unassigned)) == Ids{c[0], c[2], c[1]});
  CaseFilter embargoed;
  embargoed.embargoed = true;
  CHECK(ids(s->list_cases(embargoed)) == Ids{c[0], c[2]});
  CaseFilter stale;  // c[1] is idle longest but resolved: not stale
  stale.stale_days = 4;
  CHECK(ids(s->list_cases(stale)) == Ids{c[0], c[2]});

  CaseFilter by;
  by.sort = CaseSort::created;
  CHECK(ids(s->list_cases(by)) == Ids{c[1], c[2], c[0], c[3]});
  by.reverse = true;
  CHECK(ids(s->list_cases(by)) == Ids{c[3], c[0], c[2], c[1]});
  by = {};
  by.sort = CaseSort::id;
  CHECK(ids(s->list_cases(by)) == Ids{c[3], c[2], c[1], c[0]});
  by.sort = CaseSort::embargo;  // the soonest first, none last
  CHECK(ids(s->list_cases(by)) == Ids{c[2], c[0], c[1], c[3]});
  by.reverse = true;  // none first
  CHECK(ids(s->list_cases(by)) == Ids{c[3], c[1], c[0], c[2]});
  by.limit = 1;
  CHECK(ids(s->list_cases(by)).size() == 1);

  auto all = s->list_cases({});
  REQUIRE(all.ok());
  for (const auto& one : *all) {
    if (one.id == c[2]) {
      CHECK(one.embargo == std::optional<std::string>("2027-01-15"));
      CHECK(one.cves == std::vector<std::string>{"CVE-2026-1111", "CVE-2026-2222"});
    } else if (one.id == c[1]) {
      CHECK_FALSE(one.embargo);
      CHECK(one.cves.empty());
    }
  }
}

TEST_CASE("schema 10 makes an empty assignee of older databases unassigned", "[store][list][migration]") {
  test::TempDb t;
  {
    auto s = Store::open_at_version(t.path(), {}, 9);
    REQUIRE(s.ok());
    std::int64_t blank = open_case(*s, "blank@x");
    std::int64_t named = open_case(*s, "named@x");
    // As `assign ID ""` stored it before --none existed.
    auto& db = StoreTestAccess::db(*s);
    db.prepare("UPDATE cases SET assignee = '' WHERE id = ?").bind(1, blank).run();
    db.prepare("UPDATE cases SET assignee = 'alice' WHERE id = ?").bind(1, named).run();
  }
  auto s = Store::open(t.path(), {});
  REQUIRE(s.ok());
  auto& q = StoreTestAccess::db(*s).cached("SELECT assignee FROM cases ORDER BY id");
  REQUIRE(q.step());
  CHECK(q.is_null(0));
  REQUIRE(q.step());
  CHECK(q.text(0) == "alice");
  q.reset();
}
