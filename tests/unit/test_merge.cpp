// Merge and split in the store: what moves, what is refused with nothing
// changed, how trust carries over, where later mail goes, and that the
// database stays sound (verify) afterwards.
#include <stdlib.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>

#include "../store_access.hpp"
#include "cli/commands.hpp"
#include "core/util.hpp"
#include "store/backup.hpp"
#include "store/store.hpp"
#include "store_ingest.hpp"

using namespace cased;

namespace {

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char tmpl[] = "/tmp/cased-merge-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string file(const char* name) const { return (path / name).string(); }
};

PreparedMessage mail(const std::string& id, const std::string& from, const std::string& subject,
                     const std::string& body, std::vector<std::string> refs = {},
                     std::vector<std::string> to = {"security@example.com"}) {
  PreparedMessage p;
  p.raw = "Message-ID: <" + id + ">\r\nFrom: " + from + "\r\nSubject: " + subject + "\r\n\r\n" + body + "\r\n";
  p.sha256 = normalized_sha256(p.raw);
  p.parsed.message_id = id;
  p.parsed.in_reply_to = refs.empty() ? std::vector<std::string>{} : std::vector<std::string>{refs.back()};
  p.parsed.references = std::move(refs);
  p.parsed.from = from;
  p.parsed.subject = subject;
  p.parsed.body = body;
  p.parsed.to = std::move(to);
  return p;
}

using test::ingest;

struct Fixture {
  TempDir dir;
  Store s = open();

  Store open() {
    auto opened = Store::open(dir.file("cases.db"), StoreOptions{"security@example.com", "CASE"});
    REQUIRE(opened.ok());
    return std::move(opened.value());
  }
  std::int64_t number(const std::string& sql) {
    auto st = StoreTestAccess::db(s).prepare(sql);
    REQUIRE(st.step());
    return st.int64(0);
  }
  CaseDetail show(std::int64_t id) {
    auto d = s.get_case(id);
    REQUIRE(d.ok());
    return std::move(d.value());
  }
  std::vector<std::int64_t> found(const std::string& query) {
    auto hits = s.search(query);
    REQUIRE(hits.ok());
    std::vector<std::int64_t> out;
    for (const auto& h : *hits) out.push_back(h.summary.id);
    return out;
  }
  void sound() {
    auto r = verify_database(dir.file("cases.db"));
    REQUIRE(r.ok());
    for (const auto& p : r->problems) FAIL_CHECK(p.check << ": " << p.detail);
  }
};

const ParticipantView* participant(const CaseDetail& d, const std::string& address) {
  auto p = std::find_if(d.participants.begin(), d.participants.end(), [&](auto& x) { return x.address == address; });
  return p == d.participants.end() ? nullptr : &*p;
}

bool has_event(const CaseDetail& d, const std::string& kind, const std::string& text) {
  return std::any_of(d.events.begin(), d.events.end(),
                     [&](auto& e) { return e.kind == kind && e.detail.find(text) != std::string::npos; });
}

std::vector<std::int64_t> message_ids(const CaseDetail& d) {
  std::vector<std::int64_t> out;
  for (const auto& m : d.messages) out.push_back(m.id);
  return out;
}

}  // namespace

TEST_CASE("merge: everything of the case moves into the other, which keeps its own fields", "[store][merge]") {
  Fixture f;
  auto a = ingest(f.s, mail("a1@x", "rita@example.org", "overflow in parser", "xylophonic overflow"));
  auto b = ingest(f.s, mail("b1@x", "carl@example.net", "parser crash", "quokka crash"));
  REQUIRE(f.s.add_comment(a.case_id, "triaged as zebrafish", "alice").ok());
  REQUIRE(f.s.add_participant(a.case_id, "vendor@example.com", "vendor", "alice").ok());
  REQUIRE(f.s.add_participant(b.case_id, "vendor@example.com", "coordinator", "alice").ok());
  DisclosureChange ca, cb;
  ca.add_cves = {"CVE-2026-1111", "CVE-2026-2222"};
  ca.embargo = "2027-01-15";
  ca.product = "Widget";
  cb.add_cves = {"CVE-2026-2222"};
  cb.product = "Gadget";
  REQUIRE(f.s.set_disclosure(a.case_id, ca, "alice").ok());
  REQUIRE(f.s.set_disclosure(b.case_id, cb, "alice").ok());
  REQUIRE(f.s.assign(a.case_id, std::string("alice"), "alice").ok());

  auto into = f.s.merge_case(a.case_id, b.case_id, "bob");
  REQUIRE(into.ok());
  CHECK(*into == b.case_id);
  CaseDetail d = f.show(b.case_id);
  CHECK(message_ids(d) == std::vector<std::int64_t>{a.message, b.message});
  REQUIRE(d.comments.size() == 1);
  CHECK(d.comments[0].text == "triaged as zebrafish");
  CHECK(d.disclosure.cves == std::vector<std::string>{"CVE-2026-2222", "CVE-2026-1111"});
  CHECK(d.disclosure.embargo == std::optional<std::string>("2027-01-15"));  // b had none
  CHECK(d.disclosure.product == std::optional<std::string>("Gadget"));      // b's own is kept
  CHECK(d.summary.assignee == std::optional<std::string>("alice"));         // b had nobody
  REQUIRE(participant(d, "rita@example.org"));
  CHECK(participant(d, "rita@example.org")->verified);
  CHECK(participant(d, "vendor@example.com")->role == "coordinator");  // b's role
  CHECK(f.number("SELECT count(*) FROM participants WHERE case_id = " + std::to_string(a.case_id)) == 0);
  CHECK(has_event(d, "merge", "[CASE#" + std::to_string(a.case_id) + "] merged into this case"));
  CHECK(has_event(d, "merge", "rita@example.org"));
  CHECK(has_event(d, "merge", "its product 'Widget' not kept"));
  CHECK_FALSE(d.merged_into);

  CaseDetail old = f.show(a.case_id);
  CHECK(old.merged_into == std::optional<std::int64_t>(b.case_id));
  CHECK(old.summary.status == "merged");
  CHECK(old.messages.empty());
  CHECK(old.disclosure.cves.empty());
  CHECK_FALSE(old.disclosure.embargo);
  CHECK(has_event(old, "merge", "merged into [CASE#" + std::to_string(b.case_id) + "]"));
  CHECK(has_event(old, "created", ""));  // its own history stays with it

  auto listed = f.s.list_cases({});
  REQUIRE(listed.ok());
  REQUIRE(listed->size() == 1);
  CHECK(listed->at(0).id == b.case_id);
  for (const char* word : {"xylophonic", "zebrafish", "CVE-2026-1111"}) CHECK(f.found(word) == std::vector{b.case_id});
  CHECK(f.number("SELECT count(*) FROM note_index WHERE kind = 'cve' AND case_id = " + std::to_string(b.case_id)) == 2);
  CHECK(f.number("SELECT count(*) FROM note_index WHERE case_id = " + std::to_string(a.case_id)) == 0);
  f.sound();
}

TEST_CASE("merge: a merged case's tag and plus-address reach the case it went into", "[store][merge]") {
  Fixture f;
  auto a = ingest(f.s, mail("a1@x", "rita@example.org", "one", "one"));
  auto b = ingest(f.s, mail("b1@x", "carl@example.net", "two", "two"));
  auto c = ingest(f.s, mail("c1@x", "dora@example.com", "three", "three"));
  REQUIRE(f.s.merge_case(a.case_id, b.case_id, "bob").ok());
  auto tagged =
      ingest(f.s, mail("t1@x", "rita@example.org", "Re: [CASE#" + std::to_string(a.case_id) + "] one", "more"));
  CHECK(tagged.case_id == b.case_id);
  auto plus = ingest(f.s, mail("p1@x", "rita@example.org", "no tag", "more", {},
                               {"security+" + std::to_string(a.case_id) + "@example.com"}));
  CHECK(plus.case_id == b.case_id);
  CHECK_FALSE(f.show(b.case_id).messages.back().unverified);  // rita was verified in the case she opened
  // A chain: b into c; a's tag and a's record now lead to c.
  REQUIRE(f.s.merge_case(b.case_id, c.case_id, "bob").ok());
  CHECK(*f.s.find_case(a.case_id) == c.case_id);
  CHECK(f.show(a.case_id).merged_into == std::optional<std::int64_t>(c.case_id));
  auto later = ingest(f.s, mail("t2@x", "rita@example.org", "[CASE#" + std::to_string(a.case_id) + "]", "again"));
  CHECK(later.case_id == c.case_id);
  CHECK(f.show(c.case_id).messages.size() == 6);
  // Changing a merged case is refused, naming where it went.
  auto refused = f.s.set_status(a.case_id, "open", "bob");
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message.find("merged into [CASE#" + std::to_string(c.case_id) + "]") != std::string::npos);
  CHECK_FALSE(f.s.assign(b.case_id, std::string("x"), "bob").ok());
  CHECK_FALSE(f.s.add_comment(a.case_id, "x", "bob").ok());
  CHECK_FALSE(f.s.add_participant(a.case_id, "x@example.org", "reporter", "bob").ok());
  f.sound();
}

TEST_CASE("merge: itself, a cycle, an unknown case and open into closed are refused, nothing changed",
          "[store][merge]") {
  Fixture f;
  auto a = ingest(f.s, mail("a1@x", "rita@example.org", "one", "one"));
  auto b = ingest(f.s, mail("b1@x", "carl@example.net", "two", "two"));
  auto c = ingest(f.s, mail("c1@x", "dora@example.com", "three", "three"));
  auto state = [&] {
    return f.number("SELECT sum(id * 7 + coalesce(merged_into, 0)) FROM cases") * 1000 +
           f.number("SELECT sum(case_id) FROM messages") * 10 + f.number("SELECT count(*) FROM events");
  };
  auto before = state();
  auto self = f.s.merge_case(a.case_id, a.case_id, "bob");
  REQUIRE_FALSE(self.ok());
  CHECK(self.error().message.find("into itself") != std::string::npos);
  auto unknown = f.s.merge_case(a.case_id, 999, "bob");
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().code == Errc::not_found);
  CHECK(f.s.merge_case(999, a.case_id, "bob").error().code == Errc::not_found);
  REQUIRE(f.s.set_status(c.case_id, "resolved", "bob").ok());
  before = state();
  auto closed = f.s.merge_case(a.case_id, c.case_id, "bob");
  REQUIRE_FALSE(closed.ok());
  CHECK(closed.error().message.find("reopen it first") != std::string::npos);
  CHECK(state() == before);
  // A closed case into an open one, and into a closed one, is fine.
  REQUIRE(f.s.merge_case(c.case_id, b.case_id, "bob").ok());
  REQUIRE(f.s.merge_case(a.case_id, b.case_id, "bob").ok());
  before = state();
  // b holds a now: merging b into a would be a cycle; a itself cannot move again.
  auto cycle = f.s.merge_case(b.case_id, a.case_id, "bob");
  REQUIRE_FALSE(cycle.ok());
  CHECK(cycle.error().message.find("cycle") != std::string::npos);
  auto again = f.s.merge_case(a.case_id, c.case_id, "bob");
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().message.find("was merged into") != std::string::npos);
  CHECK(state() == before);
  f.sound();
}

TEST_CASE("merge: trust carries over without upgrading anyone", "[store][merge][trust]") {
  Fixture f;
  auto a = ingest(f.s, mail("a1@x", "rita@example.org", "one", "one"));
  auto b = ingest(f.s, mail("b1@x", "carl@example.net", "two", "two"));
  std::string tag_a = "[CASE#" + std::to_string(a.case_id) + "]", tag_b = "[CASE#" + std::to_string(b.case_id) + "]";
  // mallory joins a by its tag (unverified); eve joins both, unverified in
  // a, and an analyst vouches for her in b.
  ingest(f.s, mail("m1@x", "mallory@evil.example", tag_a, "hi"));
  ingest(f.s, mail("e1@x", "eve@example.org", tag_a, "hi"));
  ingest(f.s, mail("e2@x", "eve@example.org", tag_b, "hi"));
  REQUIRE(f.s.add_participant(b.case_id, "eve@example.org", "reporter", "alice").ok());
  REQUIRE_FALSE(participant(f.show(a.case_id), "mallory@evil.example")->verified);
  REQUIRE(f.s.merge_case(a.case_id, b.case_id, "bob").ok());
  CaseDetail d = f.show(b.case_id);
  CHECK_FALSE(participant(d, "mallory@evil.example")->verified);
  CHECK(participant(d, "eve@example.org")->verified);
  CHECK(participant(d, "rita@example.org")->verified);
  CHECK(participant(d, "carl@example.net")->verified);
  auto merge = std::find_if(d.events.begin(), d.events.end(), [](auto& e) { return e.kind == "merge"; });
  REQUIRE(merge != d.events.end());
  CHECK(merge->detail.find("rita@example.org") != std::string::npos);
  CHECK(merge->detail.find("mallory") == std::string::npos);
  // Mail from mallory to the merged case is still unverified.
  auto later = ingest(f.s, mail("m2@x", "mallory@evil.example", tag_a, "again"));
  CHECK(later.case_id == b.case_id);
  CHECK(f.show(b.case_id).messages.back().unverified);
}

TEST_CASE("split: chosen messages go to a new case with their senders; replies follow them", "[store][split]") {
  Fixture f;
  auto m1 = ingest(f.s, mail("m1@x", "rita@example.org", "overflow in parser", "first report"));
  auto m2 = ingest(f.s, mail("m2@x", "rita@example.org", "Re: overflow in parser", "more detail", {"m1@x"}));
  std::string tag = "[CASE#" + std::to_string(m1.case_id) + "]";
  auto c1 = ingest(f.s, mail("c1@x", "carl@example.net", "Re: " + tag + " another bug", "a lemming bug", {"m1@x"}));
  auto c2 = ingest(f.s, mail("c2@x", "carl@example.net", "Re: another bug", "lemming details", {"m1@x", "c1@x"}));
  REQUIRE(c2.case_id == m1.case_id);
  REQUIRE(f.s.add_comment(m1.case_id, "note", "alice").ok());

  auto opened = f.s.split_case(m1.case_id, {c2.message, c1.message}, "bob");
  REQUIRE(opened.ok());
  CaseDetail n = f.show(*opened);
  CHECK(n.summary.subject == "Re: another bug");  // the earliest received, without the old tag
  CHECK(n.summary.status == "new");
  CHECK_FALSE(n.summary.assignee);
  CHECK(n.split_from == std::optional<std::int64_t>(m1.case_id));
  CHECK(message_ids(n) == std::vector<std::int64_t>{c1.message, c2.message});
  REQUIRE(participant(n, "carl@example.net"));
  CHECK_FALSE(participant(n, "carl@example.net")->verified);  // as he was in the old case
  CHECK(n.comments.empty());
  CHECK(has_event(n, "split", "split from " + tag));
  CaseDetail old = f.show(m1.case_id);
  CHECK(message_ids(old) == std::vector<std::int64_t>{m1.message, m2.message});
  CHECK_FALSE(participant(old, "carl@example.net"));  // no message of his is left there
  CHECK(participant(old, "rita@example.org"));
  CHECK(has_event(old, "split", "split into [CASE#" + std::to_string(*opened) + "]"));
  CHECK(f.found("lemming") == std::vector{*opened});
  CHECK(f.found("detail") == std::vector{m1.case_id});

  // A reply to a moved message, naming the old thread too, goes to the new case.
  auto reply = ingest(f.s, mail("c3@x", "carl@example.net", "Re: another bug", "thanks", {"m1@x", "c1@x", "c2@x"}));
  CHECK(reply.case_id == *opened);
  // A reply in the old part stays there; neither case is joined into the other.
  auto stay = ingest(f.s, mail("m3@x", "rita@example.org", "Re: overflow", "still here", {"m1@x"}));
  CHECK(stay.case_id == m1.case_id);
  CHECK(*f.s.find_case(*opened) == *opened);
  CHECK(*f.s.find_case(m1.case_id) == m1.case_id);
  CHECK(f.show(*opened).messages.size() == 3);
  f.sound();
}

TEST_CASE("split: all messages, another case's, an unknown one or only outbound mail are refused", "[store][split]") {
  Fixture f;
  auto m1 = ingest(f.s, mail("m1@x", "rita@example.org", "one", "one"));
  auto m2 = ingest(f.s, mail("m2@x", "rita@example.org", "Re: one", "two", {"m1@x"}));
  auto other = ingest(f.s, mail("o1@x", "carl@example.net", "other", "other"));
  std::int64_t out = f.s.store_outbound(m1.case_id, "r1@example.com", {"rita@example.org"}, "Re: one", "reply", "raw",
                                        false, "m1@x", {"m1@x"}, now_unix());
  auto cases = [&] { return f.number("SELECT count(*) FROM cases"); };
  auto before = cases();
  auto all = f.s.split_case(m1.case_id, {m1.message, m2.message, out}, "bob");
  REQUIRE_FALSE(all.ok());
  CHECK(all.error().message.find("all the messages") != std::string::npos);
  auto theirs = f.s.split_case(m1.case_id, {m2.message, other.message}, "bob");
  REQUIRE_FALSE(theirs.ok());
  CHECK(theirs.error().message.find("is in [CASE#" + std::to_string(other.case_id) + "]") != std::string::npos);
  CHECK(f.s.split_case(m1.case_id, {999}, "bob").error().code == Errc::not_found);
  auto outbound = f.s.split_case(m1.case_id, {out}, "bob");
  REQUIRE_FALSE(outbound.ok());
  CHECK(outbound.error().message.find("none of those messages was received") != std::string::npos);
  CHECK_FALSE(f.s.split_case(m1.case_id, {}, "bob").ok());
  CHECK(cases() == before);
  CHECK(f.show(m1.case_id).messages.size() == 3);
  // A merged case cannot be split; its messages are elsewhere.
  REQUIRE(f.s.merge_case(other.case_id, m1.case_id, "bob").ok());
  CHECK_FALSE(f.s.split_case(other.case_id, {other.message}, "bob").ok());
  // Splitting the merged-in message out again works from the case that holds it.
  auto back = f.s.split_case(m1.case_id, {other.message}, "bob");
  REQUIRE(back.ok());
  CHECK(f.show(*back).summary.subject == "other");
  f.sound();
}

TEST_CASE("verify: merges that go round in a cycle are a problem", "[store][merge][verify]") {
  Fixture f;
  auto a = ingest(f.s, mail("a1@x", "rita@example.org", "one", "one"));
  auto b = ingest(f.s, mail("b1@x", "carl@example.net", "two", "two"));
  REQUIRE(f.s.merge_case(a.case_id, b.case_id, "bob").ok());
  f.sound();
  // Only by hand: b into a closes a loop (and leaves b's messages in a merged case).
  StoreTestAccess::db(f.s)
      .prepare("UPDATE cases SET merged_into = ?1 WHERE id = ?2")
      .bind(1, a.case_id)
      .bind(2, b.case_id)
      .run();
  auto r = verify_database(f.dir.file("cases.db"));
  REQUIRE(r.ok());
  std::vector<std::string> details;
  for (const auto& p : r->problems) details.push_back(p.check + ": " + p.detail);
  CHECK(std::any_of(details.begin(), details.end(), [](auto& d) { return d.find("cycle") != std::string::npos; }));
  CHECK(std::any_of(details.begin(), details.end(),
                    [](auto& d) { return d.find("still hold messages") != std::string::npos; }));
  CHECK_FALSE(f.s.find_case(a.case_id)->has_value());
}

TEST_CASE("casectl merge and split: the rows write, ids parse, a bad message id is a usage error", "[cli][merge]") {
  auto parse = [](std::string_view name, std::vector<std::string> argv) {
    const auto& rows = cli::commands();
    auto row = std::find_if(rows.begin(), rows.end(), [&](auto& c) { return c.name == name; });
    REQUIRE(row != rows.end());
    CLI::App app;
    cli::Args a;
    row->options(*app.add_subcommand(std::string(name)), a);
    argv.insert(argv.begin(), std::string(name));
    std::reverse(argv.begin(), argv.end());
    app.parse(argv);
    CHECK(row->access(a) == cli::Access::write);
    return a;
  };
  cli::Args m = parse("merge", {"[CASE#5]", "7"});
  CHECK(m.case_id == "[CASE#5]");
  CHECK(m.arg2 == "7");
  cli::Args s = parse("split", {"5", "3", "4"});
  CHECK(s.split_messages == std::vector<std::int64_t>{3, 4});
  for (const char* bad : {"x7", "0", "-3", "99999999999999999999999"})
    CHECK_THROWS_AS(parse("split", {"5", bad}), CLI::ValidationError);
  CHECK_THROWS(parse("split", {"5"}));
  CHECK_THROWS(parse("merge", {"5"}));
}
