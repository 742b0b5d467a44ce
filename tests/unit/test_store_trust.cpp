// Trust in a case: who is a verified participant, what a References hit may
// do, which keys from mail are pinned, and acknowledgements per address.
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>

#include "store/store.hpp"
#include "../store_access.hpp"
#include "store_ingest.hpp"
#include "core/util.hpp"

using namespace cased;

namespace {

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char tmpl[] = "/tmp/cased-trust-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string file(const char* name) const { return (path / name).string(); }
};

PreparedMessage mail(const std::string& id, const std::string& from, std::vector<std::string> refs = {},
                     const std::string& subject = "a report") {
  PreparedMessage p;
  p.raw = "Message-ID: <" + id + ">\r\nFrom: " + from + "\r\nSubject: " + subject + "\r\n\r\nbody of " + id + "\r\n";
  p.sha256 = normalized_sha256(p.raw);
  p.parsed.message_id = id;
  p.parsed.references = std::move(refs);
  p.parsed.from = from;
  p.parsed.subject = subject;
  p.parsed.body = "body of " + id;
  p.parsed.to = {"security@example.com"};
  return p;
}

using test::ingest;

Store open(const TempDir& dir, bool acknowledge = false, int per_day = 10) {
  StoreOptions o{"security@example.com", "CASE", acknowledge};
  o.ack_per_day = per_day;
  auto s = Store::open(dir.file("cases.db"), o);
  REQUIRE(s.ok());
  return std::move(s.value());
}

std::int64_t number(Store& s, const std::string& sql) {
  auto st = StoreTestAccess::db(s).prepare(sql);
  REQUIRE(st.step());
  return st.int64(0);
}

const ParticipantView* participant(const CaseDetail& d, const std::string& address) {
  auto p = std::find_if(d.participants.begin(), d.participants.end(), [&](auto& x) { return x.address == address; });
  return p == d.participants.end() ? nullptr : &*p;
}

bool has_event(const CaseDetail& d, const std::string& kind, const std::string& text) {
  return std::any_of(d.events.begin(), d.events.end(),
                     [&](auto& e) { return e.kind == kind && e.detail.find(text) != std::string::npos; });
}

ImportedKey key(const std::string& fpr, std::vector<std::string> addresses) {
  ImportedKey k;
  k.key.fingerprint = fpr;
  k.key.addresses = std::move(addresses);
  k.key.can_encrypt = true;
  k.source = "attachment";
  return k;
}

}  // namespace

TEST_CASE("trust: a stranger joins by plus-address or References, unverified", "[store][trust]") {
  TempDir dir;
  Store s = open(dir);
  auto opened = ingest(s, mail("r1@x", "rita@example.org"));
  std::string plus = "security+" + std::to_string(opened.case_id) + "@example.com";

  SECTION("plus-address") {
    auto m = mail("m1@x", "mallory@evil.example");
    m.envelope.source = MessageSource::lmtp;
    m.envelope.recipients = {plus};
    CHECK(ingest(s, std::move(m)).case_id == opened.case_id);
  }
  SECTION("References") {
    CHECK(ingest(s, mail("m1@x", "mallory@evil.example", {"r1@x"})).case_id == opened.case_id);
  }
  SECTION("a sibling's ancestor") {
    ingest(s, mail("r2@x", "rita@example.org", {"r1@x", "ancestor@x"}));
    CHECK(ingest(s, mail("m1@x", "mallory@evil.example", {"ancestor@x"})).case_id == opened.case_id);
  }
  auto c = s.get_case(opened.case_id);
  REQUIRE(c.ok());
  CHECK(c->messages.back().unverified);
  CHECK(has_event(*c, "unverified", "mallory@evil.example"));
  auto* p = participant(*c, "mallory@evil.example");
  REQUIRE(p);
  CHECK_FALSE(p->verified);
  CHECK(participant(*c, "rita@example.org")->verified);
}

TEST_CASE("trust: the opener's follow-ups by any route are verified", "[store][trust]") {
  TempDir dir;
  Store s = open(dir);
  auto opened = ingest(s, mail("r1@x", "rita@example.org"));
  auto m = mail("r2@x", "Rita@Example.ORG");
  m.parsed.to = {"security+" + std::to_string(opened.case_id) + "@example.com"};
  CHECK(ingest(s, std::move(m)).case_id == opened.case_id);
  CHECK(ingest(s, mail("r3@x", "rita@example.org", {"r1@x"})).case_id == opened.case_id);
  auto c = s.get_case(opened.case_id);
  REQUIRE(c.ok());
  for (const auto& msg : c->messages) CHECK_FALSE(msg.unverified);
  CHECK_FALSE(std::any_of(c->events.begin(), c->events.end(), [](auto& e) { return e.kind == "unverified"; }));
}

TEST_CASE("trust: References naming two cases go to one, and nothing is merged", "[store][trust]") {
  TempDir dir;
  Store s = open(dir);
  auto victim = ingest(s, mail("victim@x", "rita@example.org", {}, "victim report"));
  auto attacker = ingest(s, mail("own@x", "mallory@evil.example", {}, "attacker report"));
  REQUIRE(victim.case_id != attacker.case_id);

  SECTION("from a throwaway address") {
    auto r = ingest(s, mail("t1@x", "throwaway@evil.example", {"own@x", "victim@x"}));
    CHECK((r.case_id == victim.case_id || r.case_id == attacker.case_id));
    // Deterministic: the same whatever order the References list them in.
    auto r2 = ingest(s, mail("t2@x", "throwaway2@evil.example", {"victim@x", "own@x"}));
    CHECK(r2.case_id == r.case_id);
  }
  SECTION("from the attacker's verified address: her own case") {
    auto r = ingest(s, mail("t1@x", "mallory@evil.example", {"victim@x", "own@x"}));
    CHECK(r.case_id == attacker.case_id);
  }
  CHECK(*s.find_case(victim.case_id) == victim.case_id);
  CHECK(*s.find_case(attacker.case_id) == attacker.case_id);
  auto v = s.get_case(victim.case_id);
  auto a = s.get_case(attacker.case_id);
  REQUIRE(v.ok());
  REQUIRE(a.ok());
  CHECK(v->summary.participants.front() == "rita@example.org");
  auto* mallory = participant(*v, "mallory@evil.example");
  CHECK((mallory == nullptr || !mallory->verified));
  CHECK(participant(*a, "rita@example.org") == nullptr);
  CHECK((has_event(*v, "message", "not merged") || has_event(*a, "message", "not merged")));
}

TEST_CASE("trust: a late parent from one sender does not merge another sender's case", "[store][trust]") {
  TempDir dir;
  Store s = open(dir);
  auto alice = ingest(s, mail("a1@x", "alice@example.org"));
  // Bob's reply to a message not stored yet opens his own case.
  auto bob = ingest(s, mail("b1@x", "bob@example.net", {"late@x"}));
  REQUIRE(bob.new_case);
  // Alice's message that Bob replied to names her first one.
  auto late = ingest(s, mail("late@x", "alice@example.org", {"a1@x"}));
  CHECK(late.case_id == alice.case_id);
  CHECK(*s.find_case(bob.case_id) == bob.case_id);
  auto b = s.get_case(bob.case_id);
  REQUIRE(b.ok());
  CHECK(b->messages.size() == 1);
  CHECK(participant(*b, "alice@example.org") == nullptr);
  auto a = s.get_case(alice.case_id);
  REQUIRE(a.ok());
  CHECK(participant(*a, "bob@example.net") == nullptr);
}

TEST_CASE("trust: every key from mail is recorded; only the verified sender's is pinned", "[store][trust]") {
  TempDir dir;
  Store s = open(dir);
  auto m = mail("r1@x", "rita@example.org");
  m.keys = {key("AAAA", {"rita@example.org"}), key("BBBB", {"victim@example.net", "rita@example.org"}),
            key("CCCC", {"victim@example.net"})};
  auto opened = ingest(s, std::move(m));
  CHECK(number(s, "SELECT count(*) FROM keys WHERE address = 'victim@example.net' AND pinned = 0") == 2);
  CHECK(number(s, "SELECT count(*) FROM keys WHERE address = 'victim@example.net' AND pinned = 1") == 0);
  CHECK(number(s, "SELECT count(*) FROM keys WHERE address = 'rita@example.org' AND pinned = 1") == 1);

  // A stranger's own key, sent to the plus-address, is recorded but not pinned.
  auto stranger = mail("m1@x", "mallory@evil.example");
  stranger.parsed.to = {"security+" + std::to_string(opened.case_id) + "@example.com"};
  stranger.keys = {key("DDDD", {"mallory@evil.example"})};
  ingest(s, std::move(stranger));
  CHECK(number(s, "SELECT count(*) FROM keys WHERE fingerprint = 'DDDD' AND pinned = 0") == 1);
  CHECK(number(s, "SELECT count(*) FROM keys WHERE pinned = 1") == 1);
}

TEST_CASE("trust: variants of one address share one daily cap of acknowledgements", "[store][trust][ack]") {
  TempDir dir;
  Store s = open(dir, /*acknowledge=*/true, /*per_day=*/2);
  int i = 0;
  std::vector<IngestResult> results;
  for (const char* from : {"vic@example.net", "\"vic\"@example.net", "vic+1@example.net", "VIC@Example.NET",
                           "vic+a_b@example.net", "\"v\\ic\"@example.net"})
    results.push_back(ingest(s, mail("v" + std::to_string(i++) + "@x", from)));
  // Six new cases; the first two acknowledged, then the cap ("v\ic" unquotes to "vic").
  CHECK(number(s, "SELECT count(*) FROM outbox WHERE kind = 'ack'") == 2);
  CHECK(number(s, "SELECT count(DISTINCT case_id) FROM outbox WHERE kind = 'ack'") == 2);
  for (std::size_t k = 0; k < results.size(); ++k) CHECK(results[k].ack_capped == (k >= 2));
  auto c = s.get_case(results[2].case_id);
  REQUIRE(c.ok());
  CHECK(has_event(*c, "ack", "ack.per_sender_per_day"));
  // Another person is another address: `_` in a LIKE pattern matched any character.
  ingest(s, mail("w1@x", "v_c@example.net"));
  ingest(s, mail("w2@x", "vxc@example.net"));
  CHECK(number(s, "SELECT count(*) FROM outbox WHERE kind = 'ack'") == 4);
}

TEST_CASE("trust: all acknowledgements together are capped per hour, counted from the outbox", "[store][trust][ack]") {
  TempDir dir;
  StoreOptions o{"security@example.com", "CASE", true};
  o.ack_per_hour = 3;
  auto opened = Store::open(dir.file("cases.db"), o);
  REQUIRE(opened.ok());
  Store& s = opened.value();
  std::vector<IngestResult> results;
  for (int k = 0; k < 5; ++k)
    results.push_back(ingest(s, mail("h" + std::to_string(k) + "@x", "person" + std::to_string(k) + "@example.net")));
  CHECK(number(s, "SELECT count(*) FROM outbox WHERE kind = 'ack'") == 3);
  for (std::size_t k = 0; k < results.size(); ++k) {
    CHECK(results[k].new_case);
    CHECK(results[k].ack_busy == (k >= 3));
    CHECK_FALSE(results[k].ack_capped);
  }
  auto c = s.get_case(results[4].case_id);
  REQUIRE(c.ok());
  CHECK(has_event(*c, "ack", "ack.per_hour"));
}

TEST_CASE("trust: the daily cap of acknowledgements survives a restart and a batch", "[store][trust][ack]") {
  TempDir dir;
  {
    Store s = open(dir, true, 3);
    // One transaction of three new cases from one sender: each counted as it is queued.
    std::vector<PreparedMessage> batch;
    for (int k = 0; k < 4; ++k) batch.push_back(mail("b" + std::to_string(k) + "@x", "rita@example.org"));
    auto r = s.ingest(batch);
    REQUIRE(r.ok());
    CHECK_FALSE(r->at(2)->ack_capped);
    CHECK(r->at(3)->ack_capped);
  }
  Store again = open(dir, true, 3);
  CHECK(ingest(again, mail("after@x", "rita@example.org")).ack_capped);
  CHECK(number(again, "SELECT count(*) FROM outbox WHERE kind = 'ack'") == 3);
  // A follow-up on a case is never acknowledged, capped or not.
  auto follow = ingest(again, mail("f@x", "olga@example.org", {"b0@x"}));
  CHECK_FALSE(follow.new_case);
  CHECK_FALSE(follow.ack_capped);
  // The partial index keeps the count to the acknowledgements.
  CHECK(number(again, "SELECT count(*) FROM sqlite_master WHERE name = 'outbox_ack'") == 1);
}

TEST_CASE("trust: the MTA's Authentication-Results are recorded; a failed DMARC pins nothing", "[store][trust]") {
  TempDir dir;
  auto opened = Store::open(dir.file("cases.db"), StoreOptions{"security@example.com", "CASE", false, "mx.example.com"});
  REQUIRE(opened.ok());
  Store& s = *opened;
  auto m = mail("a1@x", "rita@example.org");
  m.raw = "Authentication-Results: mx.example.com; dkim=pass; spf=pass; dmarc=fail header.from=example.org\r\n" + m.raw;
  m.keys = {key("AAAA", {"rita@example.org"})};
  auto first = ingest(s, std::move(m));
  auto c = s.get_case(first.case_id);
  REQUIRE(c.ok());
  REQUIRE(c->messages.at(0).auth);
  CHECK(c->messages.at(0).auth->authserv_id == "mx.example.com");
  CHECK(c->messages.at(0).auth->dmarc == "fail");
  CHECK(c->messages.at(0).unverified);
  CHECK_FALSE(participant(*c, "rita@example.org")->verified);
  CHECK(number(s, "SELECT count(*) FROM keys WHERE fingerprint = 'AAAA' AND pinned = 0") == 1);
  CHECK(*s.key_from_mail("AAAA"));
  CHECK_FALSE(*s.pinned_key("rita@example.org"));

  // Once an analyst adds her, her next mail that passes pins her key.
  REQUIRE(s.add_participant(first.case_id, "Rita@Example.org", "reporter", "alice").ok());
  auto again = mail("a2@x", "rita@example.org", {"a1@x"});
  again.raw = "Authentication-Results: mx.example.com; dmarc=pass\r\n" + again.raw;
  again.keys = {key("AAAA", {"rita@example.org"})};
  ingest(s, std::move(again));
  c = s.get_case(first.case_id);
  REQUIRE(c.ok());
  CHECK_FALSE(c->messages.back().unverified);
  CHECK(c->messages.back().auth->dmarc == "pass");
  CHECK(*s.pinned_key("rita@example.org") == std::optional<std::string>("AAAA"));
  CHECK(s.add_participant(999, "x@example.org", "reporter", "alice").error().code == Errc::not_found);
}

TEST_CASE("trust: recipients of a case's outbound mail are verified; an acknowledgement is not", "[store][trust]") {
  TempDir dir;
  Store s = open(dir);
  auto opened = ingest(s, mail("r1@x", "rita@example.org"));
  auto& db = StoreTestAccess::db(s);
  for (auto [kind, to] : {std::pair<const char*, const char*>{"ack", "acked@example.net"}, {"reply", "vendor@example.com"}}) {
    std::int64_t msg = s.store_outbound(opened.case_id, std::string(kind) + "@cased", {to}, "s", "b", "raw", false, "r1@x",
                                        {}, 1);
    db.cached("INSERT INTO outbox(case_id, kind, recipients, subject, message_id, message, next_attempt, created) "
              "VALUES (?, ?, '[]', 's', 'id', ?, 1, 1)")
        .bind(1, opened.case_id)
        .bind(2, kind)
        .bind(3, msg)
        .run();
  }
  ingest(s, mail("v1@x", "vendor@example.com", {"r1@x"}));
  ingest(s, mail("k1@x", "acked@example.net", {"r1@x"}));
  auto c = s.get_case(opened.case_id);
  REQUIRE(c.ok());
  CHECK(participant(*c, "vendor@example.com")->verified);
  CHECK_FALSE(participant(*c, "acked@example.net")->verified);
}

TEST_CASE("trust: the daily count per mailbox counts its variants and nothing else", "[store][trust]") {
  TempDir dir;
  Store s = open(dir);
  auto& db = StoreTestAccess::db(s);
  for (const char* to : {R"(["vic@example.net"])", R"(["\"vic\"@example.net", "other@example.org"])",
                         R"(["vic+x@Example.NET"])", R"(["v_c@example.net"])", "not json"})
    db.cached("INSERT INTO outbox(kind, status, recipients, subject, message_id, next_attempt, created, sent) "
              "VALUES ('reply', 'sent', ?, 's', 'id', 1, 1, 100)")
        .bind(1, to)
        .run();
  CHECK(*s.sent_to_since("vic@example.net", 50) == 3);
  CHECK(*s.sent_to_since("\"VIC+y\"@example.net", 50) == 3);
  CHECK(*s.sent_to_since("v_c@example.net", 50) == 1);
  CHECK(*s.sent_to_since("vxc@example.net", 50) == 0);
  CHECK(*s.sent_to_since("vic@example.net", 100) == 0);
}

TEST_CASE("trust: version 8 counts the keys recorded from mail before it as from mail", "[store][trust]") {
  TempDir dir;
  {
    auto old = Store::open_at_version(dir.file("cases.db"), {}, 7);
    REQUIRE(old.ok());
    StoreTestAccess::db(*old).exec(
        "INSERT INTO keys(address, fingerprint, source, pinned, added) VALUES "
        "('a@example.org', 'AAAA', 'attachment', 1, 1), ('b@example.org', 'BBBB', 'autocrypt', 0, 1), "
        "('c@example.org', 'CCCC', 'analyst', 1, 1), ('d@example.org', 'DDDD', 'signature', 1, 1)");
  }
  Store s = open(dir);
  REQUIRE(*s.schema_version() >= 8);
  CHECK(*s.key_from_mail("AAAA"));
  CHECK(*s.key_from_mail("BBBB"));
  // An analyst's pin, or a signature by a key already in gpg.home, brought no key.
  CHECK_FALSE(*s.key_from_mail("CCCC"));
  CHECK_FALSE(*s.key_from_mail("DDDD"));
  CHECK(*s.pinned_key("A@example.org") == std::optional<std::string>("AAAA"));
}

TEST_CASE("trust: a message naming 40000 References costs a bounded number of lookups", "[store][trust]") {
  TempDir dir;
  Store s = open(dir);
  auto opened = ingest(s, mail("r1@x", "rita@example.org"));
  std::vector<std::string> refs;
  for (int i = 0; i < 40000; ++i) refs.push_back("junk" + std::to_string(i) + "@evil.example");
  refs.push_back("r1@x");  // the parent comes last, as a mail client writes it
  auto m = mail("m1@x", "mallory@evil.example", refs);
  m.parsed.references.push_back("r1@x");  // repeated
  auto r = ingest(s, std::move(m));
  CHECK(r.case_id == opened.case_id);
  // The closest ancestors are kept for threading; not one row per reference.
  CHECK(number(s, "SELECT count(*) FROM message_refs WHERE message = " + std::to_string(r.message)) <= 256);
  CHECK(number(s, "SELECT count(*) FROM message_refs WHERE ref = 'r1@x'") == 1);
}

TEST_CASE("trust: one person's thread split by arrival order is joined again", "[store][trust]") {
  TempDir dir;
  Store s = open(dir);
  // A grandchild first (it names only its parent), then the root: two cases.
  auto grandchild = ingest(s, mail("m2@x", "rita@example.org", {"m1@x"}));
  auto root = ingest(s, mail("m0@x", "rita@example.org"));
  REQUIRE(grandchild.case_id != root.case_id);
  // The middle message names the root; the grandchild names it: one thread,
  // one verified person in both cases, so they are joined.
  auto middle = ingest(s, mail("m1@x", "rita@example.org", {"m0@x"}));
  CHECK(middle.case_id == grandchild.case_id);
  CHECK(*s.find_case(root.case_id) == grandchild.case_id);
  auto c = s.get_case(grandchild.case_id);
  REQUIRE(c.ok());
  CHECK(c->messages.size() == 3);
  CHECK(has_event(*c, "message", "thread joined"));
  // The same shape with another person's middle message is not joined.
  auto g2 = ingest(s, mail("n2@x", "rita@example.org", {"n1@x"}));
  auto r2 = ingest(s, mail("n0@x", "rita@example.org"));
  auto m2 = ingest(s, mail("n1@x", "carl@example.net", {"n0@x"}));
  CHECK(*s.find_case(g2.case_id) == g2.case_id);
  CHECK(*s.find_case(r2.case_id) == r2.case_id);
  CHECK((m2.case_id == g2.case_id || m2.case_id == r2.case_id));
}

TEST_CASE("trust: a From that failed DMARC gets no acknowledgement", "[store][trust]") {
  TempDir dir;
  auto opened =
      Store::open(dir.file("cases.db"), StoreOptions{"security@example.com", "CASE", true, "mx.example.com"});
  REQUIRE(opened.ok());
  Store& s = *opened;
  auto forged = mail("f1@x", "victim@example.net");
  forged.raw = "Authentication-Results: mx.example.com; dmarc=fail\r\n" + forged.raw;
  auto r = ingest(s, std::move(forged));
  CHECK(number(s, "SELECT count(*) FROM outbox WHERE kind = 'ack'") == 0);
  auto c = s.get_case(r.case_id);
  REQUIRE(c.ok());
  CHECK(has_event(*c, "ack", "DMARC"));
  auto real = mail("p1@x", "victim@example.net");
  real.raw = "Authentication-Results: mx.example.com; dmarc=pass\r\n" + real.raw;
  ingest(s, std::move(real));
  CHECK(number(s, "SELECT count(*) FROM outbox WHERE kind = 'ack'") == 1);
}

TEST_CASE("trust: a key gpg.home already held stays the operator's when a stranger mails it", "[store][trust]") {
  // The operator imported acme's key by hand; anyone can attach the same
  // public key to a mail. Were it then counted as "from mail", cased would
  // stop encrypting to acme (a key from mail stands in for its sender only).
  TempDir dir;
  Store s = open(dir);
  auto m = mail("k1@x", "mallory@example.net");
  auto held = key("ACME", {"psirt@acme.example"});
  held.held_before = true;
  m.keys = {held, key("MALL", {"mallory@example.net"})};
  ingest(s, std::move(m));
  CHECK_FALSE(*s.key_from_mail("ACME"));
  CHECK(*s.key_from_mail("MALL"));
  CHECK_FALSE(*s.pinned_key("psirt@acme.example"));
}
