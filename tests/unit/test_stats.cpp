// The analyst's overviews at scale: list order and limit, search ranked and
// cut to N cases, the digest's summary of a long section, `stats`, and the
// schema 9 migration of closing times.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <filesystem>
#include <map>
#include <string>

#include "../store_access.hpp"
#include "core/util.hpp"
#include "report/digest.hpp"
#include "store/store.hpp"
#include "store_ingest.hpp"
#include "temp_db.hpp"

using namespace cased;

namespace {

PreparedMessage message(const std::string& id, const std::string& body, const std::string& subject = "a report") {
  PreparedMessage p;
  p.raw = "Message-ID: <" + id + ">\r\nSubject: " + subject + "\r\n\r\n" + body + "\r\n";
  p.sha256 = normalized_sha256(p.raw);
  p.parsed.message_id = id;
  p.parsed.from = "reporter@example.org";
  p.parsed.subject = subject;
  p.parsed.body = body;
  p.parsed.to = {"security@example.com"};
  return p;
}

// A new case of one message; its id.
std::int64_t open_case(Store& s, const std::string& id, const std::string& body = "nothing in particular") {
  return test::ingest(s, message(id, body)).case_id;
}

void set_times(Store& s, std::int64_t id, std::int64_t created, std::int64_t updated) {
  StoreTestAccess::db(s)
      .prepare("UPDATE cases SET created = ?, updated = ? WHERE id = ?")
      .bind(1, created)
      .bind(2, updated)
      .bind(3, id)
      .run();
}

std::vector<std::int64_t> ids(const std::vector<CaseSummary>& v) {
  std::vector<std::int64_t> out;
  for (const auto& c : v) out.push_back(c.id);
  return out;
}

std::vector<std::int64_t> ids(const std::vector<SearchHit>& v) {
  std::vector<std::int64_t> out;
  for (const auto& h : v) out.push_back(h.summary.id);
  return out;
}

}  // namespace

TEST_CASE("list: the most recently active first, cut at the limit, filters kept", "[stats][list]") {
  test::TempDb t;
  auto s = Store::open(t.path(), {});
  REQUIRE(s.ok());
  std::int64_t now = now_unix();
  std::vector<std::int64_t> cases;
  for (int i = 0; i < 6; ++i) cases.push_back(open_case(*s, "m" + std::to_string(i) + "@x"));
  // Activity out of id order: 3 newest, then 0, 5, 1, 4, 2.
  const int idle_days[] = {2, 4, 9, 1, 5, 3};
  for (int i = 0; i < 6; ++i) set_times(*s, cases[i], now - 30 * 86400, now - idle_days[i] * 86400);
  REQUIRE(s->assign(cases[4], "alice", "test").ok());  // an assignment is activity: make it old again
  set_times(*s, cases[4], now - 30 * 86400, now - 5 * 86400);

  auto all = s->list_cases({});
  REQUIRE(all.ok());
  CHECK(ids(*all) == std::vector<std::int64_t>{cases[3], cases[0], cases[5], cases[1], cases[4], cases[2]});
  CaseFilter two;
  two.limit = 2;
  CHECK(ids(*s->list_cases(two)) == std::vector<std::int64_t>{cases[3], cases[0]});
  CaseFilter stale;
  stale.stale_days = 4;
  stale.limit = 2;
  CHECK(ids(*s->list_cases(stale)) == std::vector<std::int64_t>{cases[1], cases[4]});
  CaseFilter mine;
  mine.assignee = "alice";
  mine.limit = 10;
  CHECK(ids(*s->list_cases(mine)) == std::vector<std::int64_t>{cases[4]});
  CaseFilter fresh;
  fresh.statuses = {"new"};
  fresh.limit = 3;
  CHECK(ids(*s->list_cases(fresh)) == std::vector<std::int64_t>{cases[3], cases[0], cases[5]});
}

TEST_CASE("search: best first by rank, not by id", "[stats][search]") {
  test::TempDb t;
  auto s = Store::open(t.path(), {});
  REQUIRE(s.ok());
  std::string filler;
  for (int i = 0; i < 60; ++i) filler += " lorem ipsum dolor";
  // Older cases mention the word once in a long text; the newest is about it.
  std::int64_t weak1 = open_case(*s, "w1@x", "one overflow among" + filler);
  std::int64_t weak2 = open_case(*s, "w2@x", "an overflow again among" + filler + filler);
  std::int64_t strong = open_case(*s, "s@x", "overflow overflow: the overflow in the parser");
  auto hits = s->search("overflow");
  REQUIRE(hits.ok());
  CHECK(ids(*hits) == std::vector<std::int64_t>{strong, weak1, weak2});
  CHECK(hits->front().snippet.find("[overflow]") != std::string::npos);
  auto one = s->search("overflow", 1);
  REQUIRE(one.ok());
  CHECK(ids(*one) == std::vector<std::int64_t>{strong});
}

TEST_CASE("search: the limit counts cases, however many matches one case has", "[stats][search]") {
  test::TempDb t;
  auto s = Store::open(t.path(), {});
  REQUIRE(s.ok());
  // One case with 40 short, strong matches; then 5 cases of one weaker match each.
  std::int64_t busy = open_case(*s, "busy0@x", "quokka quokka");
  for (int i = 1; i < 40; ++i) {
    auto m = message("busy" + std::to_string(i) + "@x", "quokka quokka");
    m.parsed.in_reply_to = {"busy0@x"};
    REQUIRE(test::ingest(*s, std::move(m)).case_id == busy);
  }
  std::vector<std::int64_t> others;
  for (int i = 0; i < 5; ++i)
    others.push_back(open_case(*s, "o" + std::to_string(i) + "@x", "a quokka among many other words of a report"));
  auto three = s->search("quokka", 3);
  REQUIRE(three.ok());
  REQUIRE(three->size() == 3);
  CHECK(three->front().summary.id == busy);
  auto all = s->search("quokka", 50);
  REQUIRE(all.ok());
  CHECK(all->size() == 6);  // every case once
  auto some = s->search("quokka");  // the default limit holds them all
  CHECK(some->size() == 6);
  CHECK(s->search("quokka", 0)->empty());
}

TEST_CASE("digest: a section of more than 20 cases is its count and its 20 oldest", "[stats][digest]") {
  test::TempDb t;
  auto s = Store::open(t.path(), {});
  REQUIRE(s.ok());
  std::int64_t now = now_unix();
  std::vector<std::int64_t> cases;
  for (int i = 0; i < 25; ++i) {
    cases.push_back(open_case(*s, "d" + std::to_string(i) + "@x"));
    // Newer ids are older cases: the oldest 20 are the last 20 ids.
    set_times(*s, cases.back(), now - (100 + i) * 3600, now - 3600);
  }
  auto d = build_digest(*s, 7);
  REQUIRE(d.ok());
  const DigestSection* fresh = nullptr;
  for (const auto& sec : d->sections)
    if (sec.name == "new-unassigned") fresh = &sec;
  REQUIRE(fresh);
  CHECK(fresh->total == 25);
  REQUIRE(fresh->cases.size() == 20);
  CHECK(fresh->cases.front().id == cases[24]);  // the oldest first
  CHECK(fresh->cases.back().id == cases[5]);
  std::string text = render_digest(*d, "CASE");
  CHECK(text.find("New and unassigned (25)") != std::string::npos);
  CHECK(text.find("... and 5 more; the oldest 20 are shown") != std::string::npos);
  CHECK(text.find(fmt::format("[CASE#{}]", cases[0])) == std::string::npos);
  auto j = digest_json(*d);
  CHECK(j["totals"]["new-unassigned"] == 25);
  CHECK(j["sections"]["new-unassigned"].size() == 20);
  CHECK(j["totals"]["stale"] == 0);
}

TEST_CASE("stats: counts, periods, first response and resolution times", "[stats]") {
  test::TempDb t;
  auto s = Store::open(t.path(), {});
  REQUIRE(s.ok());
  auto& db = StoreTestAccess::db(*s);
  std::int64_t now = now_unix();
  constexpr std::int64_t day = 86400;
  // Ten cases opened in the period, answered after 1..10 hours; two more
  // opened before it. An acknowledgement, however early, is no response.
  std::vector<std::int64_t> in_period;
  for (int i = 0; i < 10; ++i) {
    std::int64_t id = open_case(*s, "p" + std::to_string(i) + "@x");
    in_period.push_back(id);
    std::int64_t created = now - (20 - i) * day;
    set_times(*s, id, created, created);
    std::int64_t ack = s->store_outbound(id, "ack" + std::to_string(i) + "@a", {"r@example.org"}, "ack", "ack", "ack",
                                         false, "", {}, created + 60);
    db.prepare("INSERT INTO outbox(case_id, kind, recipients, subject, message_id, message, next_attempt, created) "
               "VALUES (?, 'ack', '[]', 'ack', 'x', ?, 0, 0)")
        .bind(1, id)
        .bind(2, ack)
        .run();
    s->store_outbound(id, "re" + std::to_string(i) + "@a", {"r@example.org"}, "re", "re", "re", false, "", {},
                      created + (i + 1) * 3600);
  }
  std::int64_t old1 = open_case(*s, "old1@x");
  std::int64_t old2 = open_case(*s, "old2@x");
  set_times(*s, old1, now - 200 * day, now - 200 * day);
  set_times(*s, old2, now - 45 * day, now - 45 * day);
  // Closed: two of the period's cases and old1; old1 is then reopened.
  REQUIRE(s->set_status(in_period[0], "resolved", "t").ok());
  REQUIRE(s->set_status(in_period[1], "rejected", "t").ok());
  REQUIRE(s->set_status(old1, "resolved", "t").ok());
  REQUIRE(s->set_status(old1, "open", "t").ok());
  REQUIRE(s->set_status(in_period[2], "waiting", "t").ok());
  REQUIRE(s->assign(in_period[3], "bob", "t").ok());
  REQUIRE(s->assign(in_period[4], "bob", "t").ok());
  REQUIRE(s->assign(old2, "alice", "t").ok());

  auto st = s->case_stats(now - 30 * day, now + 3600);
  REQUIRE(st.ok());
  std::map<std::string, std::int64_t> by_status(st->by_status.begin(), st->by_status.end());
  CHECK(by_status == std::map<std::string, std::int64_t>{
                         {"new", 8}, {"open", 1}, {"waiting", 1}, {"resolved", 1}, {"rejected", 1}});
  CHECK(st->opened == 10);
  CHECK(st->closed == 2);
  CHECK(st->first_response.cases == 10);
  CHECK(st->first_response.median == 5 * 3600);
  CHECK(st->first_response.p90 == 9 * 3600);
  CHECK(st->time_to_resolution.cases == 2);
  // Closed now, opened 20 and 19 days ago.
  CHECK(st->time_to_resolution.median.value() >= 19 * day);
  CHECK(st->time_to_resolution.p90.value() >= 20 * day);
  std::map<std::string, std::int64_t> ages(st->open_by_age.begin(), st->open_by_age.end());
  CHECK(ages == std::map<std::string, std::int64_t>{{"<7d", 0}, {"7-30d", 8}, {"30-90d", 1}, {">90d", 1}});
  REQUIRE(st->open_by_assignee.size() == 3);
  CHECK(st->open_by_assignee[0].first.value_or("") == "");  // unassigned: 7
  CHECK(!st->open_by_assignee[0].first);
  CHECK(st->open_by_assignee[0].second == 7);
  CHECK(st->open_by_assignee[1] == std::pair<std::optional<std::string>, std::int64_t>{"bob", 2});
  CHECK(st->open_by_assignee[2] == std::pair<std::optional<std::string>, std::int64_t>{"alice", 1});

  // A period with nothing in it.
  auto empty = s->case_stats(now - 400 * day, now - 300 * day);
  REQUIRE(empty.ok());
  CHECK(empty->opened == 0);
  CHECK(empty->closed == 0);
  CHECK(!empty->first_response.median);
  CHECK(!empty->time_to_resolution.p90);
}

TEST_CASE("schema 9 dates the closing of cases closed before it", "[stats][migration]") {
  test::TempDb t;
  {
    auto s = Store::open_at_version(t.path(), {}, 8);
    REQUIRE(s.ok());
    std::int64_t id = open_case(*s, "c@x");
    std::int64_t other = open_case(*s, "o@x");
    // As set_status did before schema 9.
    auto& db = StoreTestAccess::db(*s);
    db.prepare("UPDATE cases SET status = 'resolved', updated = 2000 WHERE id = ?").bind(1, id).run();
    db.prepare("INSERT INTO events(case_id, kind, actor, created, detail) VALUES (?, 'status', 't', 1000, "
               "'new -> resolved')")
        .bind(1, id)
        .run();
    REQUIRE(id == 1);
    REQUIRE(other == 2);
  }
  auto s = Store::open(t.path(), {});
  REQUIRE(s.ok());
  auto& q = StoreTestAccess::db(*s).cached("SELECT id, closed FROM cases ORDER BY id");
  REQUIRE(q.step());
  CHECK(q.int64(1) == 1000);
  REQUIRE(q.step());
  CHECK(q.is_null(1));
  q.reset();
}
