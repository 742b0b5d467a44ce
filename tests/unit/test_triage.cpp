// Triage in the store (store/triage.cpp, store/search_fields.cpp) and its
// pure rules (cases/triage.hpp): resolutions, reopening, tags, field search.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>

#include "../store_access.hpp"
#include "cases/triage.hpp"
#include "core/util.hpp"
#include "store/search_fields.hpp"
#include "store/store.hpp"
#include "store_ingest.hpp"
#include "temp_db.hpp"

using namespace cased;

namespace {

PreparedMessage message(const std::string& id, const std::string& from, const std::string& subject) {
  PreparedMessage p;
  p.raw = "Message-ID: <" + id + ">\r\nFrom: " + from + "\r\nSubject: " + subject + "\r\n\r\nbody of " + id + "\r\n";
  p.sha256 = normalized_sha256(p.raw);
  p.parsed.message_id = id;
  p.parsed.from = from;
  p.parsed.subject = subject;
  p.parsed.body = "body of " + id;
  p.parsed.to = {"security@example.com"};
  return p;
}

CaseSummary summary(Store& s, std::int64_t id) {
  auto d = s.get_case(id);
  REQUIRE(d.ok());
  return d->summary;
}

std::vector<std::string> event_kinds(Store& s, std::int64_t id) {
  std::vector<std::string> out;
  auto d = s.get_case(id);
  REQUIRE(d.ok());
  for (const auto& e : d->events) out.push_back(e.kind);
  return out;
}

std::vector<std::int64_t> hit_ids(Result<std::vector<SearchHit>> r) {
  REQUIRE(r.ok());
  std::vector<std::int64_t> out;
  for (const auto& h : *r) out.push_back(h.summary.id);
  return out;
}

using Ids = std::vector<std::int64_t>;

}  // namespace

TEST_CASE("triage: a resolution goes with a closed state and goes away when the case opens again", "[triage]") {
  test::TempDb t;
  auto s = Store::open(t.path(), {});
  REQUIRE(s.ok());
  auto id = test::ingest(*s, message("a@x", "reporter@example.org", "crash")).case_id;
  REQUIRE_FALSE(s->change_status(id, {"open", std::string("fixed"), std::nullopt}, "alice").ok());
  REQUIRE_FALSE(s->change_status(id, {"resolved", std::string("because"), std::nullopt}, "alice").ok());
  CHECK(summary(*s, id).status == "new");  // nothing changed

  REQUIRE(s->change_status(id, {"resolved", std::string("fixed"), std::string("patched in 1.2")}, "alice").ok());
  auto c = summary(*s, id);
  CHECK(c.status == "resolved");
  CHECK(c.resolution == std::optional<std::string>("fixed"));
  auto d = s->get_case(id);
  REQUIRE(d->comments.size() == 1);
  CHECK(d->comments[0].text == "patched in 1.2");
  auto kinds = event_kinds(*s, id);
  CHECK(std::count(kinds.begin(), kinds.end(), "resolution") == 1);

  // The same state with another reason changes only the reason; without one it keeps it.
  REQUIRE(s->change_status(id, {"resolved", std::string("duplicate"), std::nullopt}, "alice").ok());
  CHECK(summary(*s, id).resolution == std::optional<std::string>("duplicate"));
  REQUIRE(s->set_status(id, "resolved", "alice").ok());
  CHECK(summary(*s, id).resolution == std::optional<std::string>("duplicate"));
  // Another closed state without a reason has none.
  REQUIRE(s->set_status(id, "rejected", "alice").ok());
  CHECK_FALSE(summary(*s, id).resolution);
  REQUIRE(s->change_status(id, {"rejected", std::string("spam"), std::nullopt}, "alice").ok());
  // An analyst reopens: the resolution goes.
  REQUIRE(s->set_status(id, "open", "alice").ok());
  CHECK(summary(*s, id).status == "open");
  CHECK_FALSE(summary(*s, id).resolution);
}

TEST_CASE("triage: new mail from a person reopens a closed case; stats count resolutions", "[triage]") {
  test::TempDb t;
  auto s = Store::open(t.path(), {});
  REQUIRE(s.ok());
  auto id = test::ingest(*s, message("b@x", "reporter@example.org", "crash")).case_id;
  auto other = test::ingest(*s, message("c@x", "other@example.org", "leak")).case_id;
  REQUIRE(s->change_status(id, {"resolved", std::string("fixed"), std::nullopt}, "alice").ok());
  REQUIRE(s->set_status(other, "rejected", "alice").ok());
  auto st = s->case_stats(0, now_unix() + 10);
  REQUIRE(st.ok());
  auto count = [&](const std::string& reason) {
    for (const auto& [r, n] : st->by_resolution)
      if (r == reason) return n;
    FAIL("no " << reason);
    return std::int64_t{-1};
  };
  CHECK(count("fixed") == 1);
  CHECK(count("none") == 1);
  CHECK(count("spam") == 0);
  CHECK(st->by_resolution.size() == resolutions().size() + 1);

  auto reply = message("d@x", "reporter@example.org", "Re: [CASE#" + std::to_string(id) + "] crash");
  auto r = test::ingest(*s, std::move(reply));
  CHECK(r.case_id == id);
  auto c = summary(*s, id);
  CHECK(c.status == "open");
  CHECK_FALSE(c.resolution);
  auto d = s->get_case(id);
  REQUIRE_FALSE(d->events.empty());
  const auto& last = d->events.back();
  CHECK(last.kind == "reopen");
  CHECK(last.actor == "cased");
  CHECK(last.detail.find("resolved (fixed) -> open") != std::string::npos);
  // Closed again later, stats see it; `closed` was cleared on reopening.
  auto closed = StoreTestAccess::db(*s).prepare("SELECT closed FROM cases WHERE id = ?");
  closed.bind(1, id);
  REQUIRE(closed.step());
  CHECK(closed.is_null(0));
  // A stranger's mail (the tag is a guessable number) is stored and noted
  // but does not reopen it: nobody outside the case keeps it open.
  REQUIRE(s->change_status(id, {"rejected", std::string("out-of-scope"), std::nullopt}, "alice").ok());
  auto stranger = test::ingest(*s, message("k@x", "stranger@example.net", "Re: [CASE#" + std::to_string(id) + "] crash"));
  CHECK(stranger.case_id == id);
  d = s->get_case(id);
  CHECK(d->summary.status == "rejected");
  REQUIRE(d->summary.resolution);
  CHECK(*d->summary.resolution == "out-of-scope");
  CHECK(d->events.back().kind == "message");
  CHECK(d->events.back().detail.find("stays rejected (out-of-scope)") != std::string::npos);
  for (const auto& e : d->events) CHECK_FALSE((e.kind == "reopen" && e.detail.find("stranger") != std::string::npos));
  // The reporter's next mail does reopen it.
  test::ingest(*s, message("l@x", "reporter@example.org", "Re: [CASE#" + std::to_string(id) + "] crash"));
  CHECK(summary(*s, id).status == "open");
}

TEST_CASE("triage: bounces, automatic mail and our own do not reopen", "[triage]") {
  auto msg = message("e@x", "reporter@example.org", "Re: [CASE#1] x");
  RoutingDecision d;
  d.sender = "reporter@example.org";
  CHECK(reopens_closed_case(msg, d, "security@example.com"));
  auto automatic = msg;
  automatic.parsed.auto_submitted = "auto-replied";
  CHECK_FALSE(reopens_closed_case(automatic, d, "security@example.com"));
  auto null_sender = msg;
  null_sender.envelope.mail_from = "";
  CHECK_FALSE(reopens_closed_case(null_sender, d, "security@example.com"));
  RoutingDecision bounce = d;
  bounce.bounce = Bounce{"ours@example.com", {"reporter@example.org"}, {}};
  CHECK_FALSE(reopens_closed_case(msg, bounce, "security@example.com"));
  RoutingDecision self = d;
  self.sender = "security@example.com";
  CHECK_FALSE(reopens_closed_case(msg, self, "security@example.com"));
  RoutingDecision stranger = d;
  stranger.unverified = true;
  CHECK_FALSE(reopens_closed_case(msg, stranger, "security@example.com"));
  RoutingDecision forged = d;
  forged.forged = true;
  CHECK_FALSE(reopens_closed_case(msg, forged, "security@example.com"));
  auto list = msg;
  list.parsed.list_id = "<sec.lists.example.org>";
  CHECK_FALSE(reopens_closed_case(list, d, "security@example.com"));
}

TEST_CASE("triage: tag rules", "[triage]") {
  for (const char* good : {"web", "needs-info", "v1.2", "a_b", "0day", "x"}) CHECK_FALSE(tag_problem(good));
  for (const char* bad : {"", "Web", "-x", ".x", "a b", "a;b", "é", "a\x1b[31m", "\"", "a/b"})
    CHECK(tag_problem(bad));
  CHECK_FALSE(tag_problem(std::string(kMaxTagLength, 'a')));
  CHECK(tag_problem(std::string(kMaxTagLength + 1, 'a')));
  auto shown = tag_problem("a\x1b[31m");
  REQUIRE(shown);
  CHECK(shown->find('\x1b') == std::string::npos);
}

TEST_CASE("triage: tags are added, removed, listed and filtered; a bad one changes nothing", "[triage]") {
  test::TempDb t;
  auto s = Store::open(t.path(), {});
  REQUIRE(s.ok());
  auto a = test::ingest(*s, message("f@x", "reporter@example.org", "one")).case_id;
  auto b = test::ingest(*s, message("g@x", "reporter@example.org", "two")).case_id;
  using E = Store::TagEdit;
  auto changed = s->edit_tags(a, {E{true, "web"}, E{true, "crash"}, E{true, "web"}}, "alice");
  REQUIRE(changed.ok());
  CHECK(*changed == std::vector<std::string>{"+web", "+crash"});
  CHECK(summary(*s, a).tags == std::vector<std::string>{"crash", "web"});
  // A no-op is no error and no event.
  auto events = s->get_case(a)->events.size();
  auto none = s->edit_tags(a, {E{false, "absent"}, E{true, "web"}}, "alice");
  REQUIRE(none.ok());
  CHECK(none->empty());
  CHECK(s->get_case(a)->events.size() == events);
  // One bad tag: refused, the good ones before it not applied.
  auto bad = s->edit_tags(a, {E{false, "web"}, E{true, "Bad Tag"}}, "alice");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == Errc::invalid);
  CHECK(summary(*s, a).tags == std::vector<std::string>{"crash", "web"});
  REQUIRE(s->edit_tags(b, {E{true, "web"}}, "alice").ok());

  CaseFilter web;
  web.tags = {"web"};
  auto listed = s->list_cases(web);
  REQUIRE(listed.ok());
  CHECK(listed->size() == 2);
  CaseFilter both;
  both.tags = {"web", "crash"};
  listed = s->list_cases(both);
  REQUIRE(listed.ok());
  REQUIRE(listed->size() == 1);
  CHECK(listed->front().id == a);
  REQUIRE(s->edit_tags(a, {E{false, "crash"}}, "alice").ok());
  CHECK(s->list_cases(both)->empty());
  CHECK(event_kinds(*s, a).back() == "tag");
  CHECK(s->get_case(a)->events.back().detail == "-crash");
}

TEST_CASE("triage: the rarest tag finds the cases, a common one is looked up", "[triage]") {
  test::TempDb t;
  auto s = Store::open(t.path(), {});
  REQUIRE(s.ok());
  auto& db = StoreTestAccess::db(*s);
  db.exec("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000) "
          "INSERT INTO cases(id, subject, status, created, updated) SELECT i, 'c', 'open', i, i FROM n");
  db.exec("INSERT INTO tags(case_id, tag) SELECT id, 'common' FROM cases");
  db.exec("INSERT INTO tags(case_id, tag) SELECT id, 'rare' FROM cases WHERE id % 100 = 0");
  CHECK(detail::tag_terms(db, {"common", "rare"}, 5) ==
        " AND +id IN (SELECT case_id FROM tags WHERE tag = ?5) AND id IN (SELECT case_id FROM tags WHERE tag = ?6)");
  CHECK(detail::tag_terms(db, {"common"}, 1) == " AND +id IN (SELECT case_id FROM tags WHERE tag = ?1)");
  // The rare tag's cases come from its index.
  auto plan = db.prepare("EXPLAIN QUERY PLAN SELECT id FROM cases WHERE merged_into IS NULL" +
                         detail::tag_terms(db, {"rare"}, 1) + " ORDER BY updated DESC, id DESC LIMIT 50");
  plan.bind(1, "rare");
  std::string all;
  while (plan.step()) all += plan.text(3) + "\n";
  INFO(all);
  CHECK(all.find("COVERING INDEX tags_tag") != std::string::npos);
  CaseFilter both;
  both.tags = {"rare", "common"};
  both.limit = 5;
  auto listed = s->list_cases(both);
  REQUIRE(listed.ok());
  REQUIRE(listed->size() == 5);
  CHECK(listed->front().id == 3000);
  CHECK(listed->back().id == 2600);
}

TEST_CASE("triage: search fields narrow the cases; fields alone order by activity", "[triage][search]") {
  test::TempDb t;
  auto s = Store::open(t.path(), {});
  REQUIRE(s.ok());
  auto m1 = message("h@x", "Reporter@Example.org", "heap overflow in parser");
  m1.parsed.attachments.push_back(Attachment{"PoC_1.c", "text/x-c", 10, std::string(64, 'a'), false, false});
  auto a = test::ingest(*s, std::move(m1)).case_id;
  auto b = test::ingest(*s, message("i@x", "someone@other.example", "heap spray")).case_id;
  REQUIRE(s->edit_tags(b, {Store::TagEdit{true, "web"}}, "alice").ok());
  DisclosureChange cve;
  cve.add_cves = {"CVE-2026-1234"};
  REQUIRE(s->set_disclosure(a, cve, "alice").ok());

  CHECK(hit_ids(s->search("heap")).size() == 2);
  CHECK(hit_ids(s->search("heap tag:web")) == Ids{b});
  CHECK(hit_ids(s->search("tag:web")) == Ids{b});
  CHECK(hit_ids(s->search("from:reporter@example.org")) == Ids{a});
  CHECK(hit_ids(s->search("from:@other.example")) == Ids{b});
  CHECK(hit_ids(s->search("from:@example.org")) == Ids{a});
  CHECK(hit_ids(s->search("from:%")).empty());
  CHECK(hit_ids(s->search("subject:parser")) == Ids{a});
  CHECK(hit_ids(s->search("subject:pars*")) == Ids{a});
  CHECK(hit_ids(s->search("subject:spray heap")) == Ids{b});
  CHECK(hit_ids(s->search("cve:cve-2026-1234")) == Ids{a});
  CHECK(hit_ids(s->search("attachment:poc_")) == Ids{a});
  CHECK(hit_ids(s->search("attachment:%")).empty());
  CHECK(hit_ids(s->search("attachment:_")).size() == 1);
  CHECK(hit_ids(s->search("tag:web cve:CVE-2026-1234")).empty());
  // Newest activity first when only fields are given.
  REQUIRE(s->edit_tags(a, {Store::TagEdit{true, "web"}}, "alice").ok());
  StoreTestAccess::db(*s).prepare("UPDATE cases SET updated = updated + 100 WHERE id = ?").bind(1, a).run();
  CHECK(hit_ids(s->search("tag:web")) == Ids{a, b});
  // Hostile input: results or nothing, never an SQL or FTS5 error.
  for (const char* q : {"\"", "from:\"", "subject:\"", "subject:*", "subject:\"\"\"", "NEAR(", "*", "-", ":",
                        "(", "a OR", "subject:NEAR(", "tag:'; DROP TABLE cases; --", "attachment:\\", "ünïcode ☃",
                        "subject:ünï", "cve:\"CVE-1\" OR 1=1"}) {
    INFO(q);
    CHECK(s->search(q).ok());
  }
  // Thousands of terms: a clear refusal, never an SQL or FTS5 error.
  for (const char* term : {"tag:web ", "heap ", "subject:heap ", "attachment:p ", "from:a@b.c "}) {
    std::string many;
    for (int i = 0; i < 2000; ++i) many += term;
    INFO(term);
    auto r = s->search(many);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Errc::invalid);
    CHECK(r.error().message.find("at most 100") != std::string::npos);
  }
  std::string hundred;
  for (int i = 0; i < 100; ++i) hundred += "tag:web ";
  CHECK(hit_ids(s->search(hundred)) == Ids{a, b});
}

TEST_CASE("triage: tags go with a thread that joins another case", "[triage]") {
  test::TempDb t;
  auto s = Store::open(t.path(), {});
  REQUIRE(s.ok());
  auto first = test::ingest(*s, message("j1@x", "reporter@example.org", "one")).case_id;
  auto second = test::ingest(*s, message("j2@x", "reporter@example.org", "two")).case_id;
  REQUIRE(s->edit_tags(second, {Store::TagEdit{true, "web"}}, "alice").ok());
  REQUIRE(s->edit_tags(first, {Store::TagEdit{true, "crash"}}, "alice").ok());
  auto both = message("j3@x", "reporter@example.org", "Re: one");
  both.parsed.references = {"j1@x", "j2@x"};
  auto r = test::ingest(*s, std::move(both));
  auto target = r.case_id;
  auto other = target == first ? second : first;
  REQUIRE(s->find_case(other).ok());
  REQUIRE(*s->find_case(other) == std::optional<std::int64_t>(target));  // the thread joined
  CHECK(summary(*s, target).tags == std::vector<std::string>{"crash", "web"});
  CaseFilter web;
  web.tags = {"web"};
  auto listed = s->list_cases(web);
  REQUIRE(listed.ok());
  REQUIRE(listed->size() == 1);
  CHECK(listed->front().id == target);
}
