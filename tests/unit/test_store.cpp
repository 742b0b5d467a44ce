#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <map>
#include <numeric>
#include <set>
#include <functional>

#include "store/store.hpp"
#include "../store_access.hpp"
#include "store_ingest.hpp"
#include "core/util.hpp"

using namespace cased;

namespace {

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char tmpl[] = "/tmp/cased-test-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string file(const char* name) const { return (path / name).string(); }
};

PreparedMessage message(const std::string& id, std::vector<std::string> refs = {},
                        std::vector<std::string> in_reply_to = {}, const std::string& from = "reporter@example.org",
                        const std::string& subject = "a report") {
  PreparedMessage p;
  p.raw = "Message-ID: <" + id + ">\r\nSubject: " + subject + "\r\n\r\nbody of " + id + "\r\n";
  p.sha256 = normalized_sha256(p.raw);
  p.parsed.message_id = id;
  p.parsed.references = std::move(refs);
  p.parsed.in_reply_to = std::move(in_reply_to);
  p.parsed.from = from;
  p.parsed.subject = subject;
  p.parsed.body = "body of " + id;
  p.parsed.to = {"security@example.com"};
  return p;
}

using test::ingest;

// What cased before schema 5 wrote for a message, a comment and a CVE id
// (the code of today writes the new tables, so old rows are made by hand).
std::int64_t legacy_case(Store& s, const std::string& id, const std::string& subject, const std::string& body,
                         const std::string& comment, const std::string& cve) {
  auto& db = StoreTestAccess::db(s);
  db.exec("INSERT INTO cases(subject, created, updated) VALUES ('" + subject + "', 1, 1)");
  std::int64_t case_id = db.last_insert_rowid();
  db.cached("INSERT INTO messages(case_id, message_id, content_sha256, direction, source, received, subject, body, raw) "
            "VALUES (?, ?, 'x', 'in', 'ingest', 1, ?, ?, 'raw')")
      .bind(1, case_id).bind(2, id).bind(3, subject).bind(4, body).run();
  std::int64_t message = db.last_insert_rowid();
  db.cached("INSERT INTO search_index(subject, body, case_id, kind, ref) VALUES (?, ?, ?, 'message', ?)")
      .bind(1, subject).bind(2, body).bind(3, case_id).bind(4, message).run();
  if (!comment.empty()) {
    db.cached("INSERT INTO comments(case_id, author, text, created) VALUES (?, 'alice', ?, 1)").bind(1, case_id).bind(2, comment).run();
    db.cached("INSERT INTO search_index(subject, body, case_id, kind, ref) VALUES ('', ?, ?, 'comment', ?)")
        .bind(1, comment).bind(2, case_id).bind(3, db.last_insert_rowid()).run();
  }
  if (!cve.empty()) {
    db.cached("INSERT INTO case_cves(case_id, cve, added) VALUES (?, ?, 1)").bind(1, case_id).bind(2, cve).run();
    db.cached("INSERT INTO search_index(subject, body, case_id, kind, ref) VALUES ('', ?, ?, 'cve', 0)")
        .bind(1, cve).bind(2, case_id).run();
  }
  return case_id;
}

// The first column of the first row of `sql`.
std::int64_t number(Store& s, const std::string& sql) {
  auto st = StoreTestAccess::db(s).prepare(sql);
  REQUIRE(st.step());
  return st.int64(0);
}

Store open(const TempDir& dir, const char* name = "cases.db") {
  auto s = Store::open(dir.file(name), StoreOptions{"security@example.com", "CASE"});
  REQUIRE(s.ok());
  return std::move(s.value());
}

}  // namespace

TEST_CASE("store: the database is created 0600 in WAL mode", "[store]") {
  TempDir dir;
  mode_t old = umask(0);
  Store s = open(dir);
  umask(old);
  ingest(s, message("a@x"));
  struct stat st {};
  REQUIRE(stat(dir.file("cases.db").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  REQUIRE(stat(dir.file("cases.db-wal").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  auto& q = StoreTestAccess::db(s).cached("PRAGMA journal_mode");
  REQUIRE(q.step());
  CHECK(q.text(0) == "wal");
  q.reset();
}

TEST_CASE("store: an old schema is migrated forward with its data", "[store]") {
  TempDir dir;
  {
    auto old = Store::open_at_version(dir.file("cases.db"), {}, 1);
    REQUIRE(old.ok());
    CHECK(*old->schema_version() == 1);
    legacy_case(*old, "old@x", "old", "old body", "", "");
  }
  Store s = open(dir);
  CHECK(*s.schema_version() >= 2);
  auto c = s.get_case(1);
  REQUIRE(c.ok());
  CHECK(c->messages.at(0).message_id == "old@x");
  auto& q = StoreTestAccess::db(s).cached("SELECT count(*) FROM outbox");
  REQUIRE(q.step());
  CHECK(q.int64(0) == 0);
  q.reset();
  // Opening again is a no-op.
  Store again = open(dir);
  CHECK(*again.schema_version() == *s.schema_version());
}

TEST_CASE("store: version 5 indexes message text from the messages table; older indexes carry over", "[store]") {
  TempDir dir;
  std::int64_t case_id = 0;
  {
    auto old = Store::open_at_version(dir.file("cases.db"), {}, 4);
    REQUIRE(old.ok());
    case_id = legacy_case(*old, "v4@x", "Overflow in quux", "The quux parser reads past the end: aardvark.",
                          "Confirmed; pangolin", "CVE-2026-1234");
  }
  Store s = open(dir);
  REQUIRE(*s.schema_version() >= 5);
  auto m2 = message("v5@x", {}, {}, "other@example.org", "Another report");
  m2.parsed.body = "Nothing to do with the first: wombat.";
  auto second = ingest(s, std::move(m2));
  for (auto [q, want] : {std::pair<const char*, std::int64_t>{"aardvark", case_id}, {"quux", case_id},
                         {"pangolin", case_id}, {"CVE-2026-1234", case_id}, {"wombat", second.case_id}}) {
    INFO(q);
    auto hits = s.search(q);
    REQUIRE(hits.ok());
    REQUIRE(hits->size() == 1);
    CHECK(hits->at(0).summary.id == want);
    CHECK(hits->at(0).snippet.find('[') != std::string::npos);
  }
  // The external-content index agrees with the rows it indexes.
  StoreTestAccess::db(s).exec("INSERT INTO message_index(message_index, rank) VALUES ('integrity-check', 1)");
  StoreTestAccess::db(s).exec("INSERT INTO note_index(note_index) VALUES ('integrity-check')");
  auto& gone = StoreTestAccess::db(s).cached("SELECT count(*) FROM sqlite_schema WHERE name = 'search_index'");
  REQUIRE(gone.step());
  CHECK(gone.int64(0) == 0);
  gone.reset();
}

TEST_CASE("store: a plain-text body is kept once, inside the raw message", "[store]") {
  TempDir dir;
  Store s = open(dir);
  std::string long_line(100, 'y');
  std::string plain_body = "The quux parser reads past the end: aardvark.\r\n";
  for (int i = 0; i < 50; ++i) plain_body += long_line + "\r\n";
  auto plain = ingest(s, prepare_message("Message-ID: <plain@x>\r\nFrom: r@example.org\r\nSubject: Overflow\r\n\r\n" +
                                             plain_body,
                                         Envelope{}));
  // Quoted-printable text differs from its raw bytes: it is stored as text.
  auto qp = ingest(s, prepare_message("Message-ID: <qp@x>\r\nFrom: q@example.org\r\nSubject: Other\r\n"
                                      "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                                      "Content-Transfer-Encoding: quoted-printable\r\n\r\npangolin caf=C3=A9\r\n",
                                      Envelope{}));
  CHECK(number(s, "SELECT count(*) FROM message_body_in_raw") == 1);
  CHECK(number(s, "SELECT length(body) FROM messages WHERE message_id = 'plain@x'") == 0);
  CHECK(number(s, "SELECT length(body) FROM messages WHERE message_id = 'qp@x'") > 0);

  auto c = s.get_case(plain.case_id);
  REQUIRE(c.ok());
  CHECK(c->messages.at(0).body.find("aardvark.") != std::string::npos);
  CHECK(c->messages.at(0).body.find(long_line) != std::string::npos);
  auto other = s.get_case(qp.case_id);
  REQUIRE(other.ok());
  CHECK(other->messages.at(0).body.find("pangolin caf\xc3\xa9") != std::string::npos);
  for (auto [q, want] : {std::pair<const char*, std::int64_t>{"aardvark", plain.case_id}, {"pangolin", qp.case_id}}) {
    INFO(q);
    auto hits = s.search(q);
    REQUIRE(hits.ok());
    REQUIRE(hits->size() == 1);
    CHECK(hits->at(0).summary.id == want);
    CHECK(hits->at(0).snippet.find("[" + std::string(q) + "]") != std::string::npos);
  }
  StoreTestAccess::db(s).exec("INSERT INTO message_index(message_index, rank) VALUES ('integrity-check', 1)");
}

TEST_CASE("store: version 6 carries a version 5 search index over", "[store]") {
  TempDir dir;
  std::int64_t case_id = 0;
  {
    auto old = Store::open_at_version(dir.file("cases.db"), {}, 5);
    REQUIRE(old.ok());
    auto& db = StoreTestAccess::db(*old);
    db.exec("INSERT INTO cases(subject, created, updated) VALUES ('old', 1, 1)");
    case_id = db.last_insert_rowid();
    db.cached("INSERT INTO messages(case_id, message_id, content_sha256, direction, source, received, subject, body, raw) "
              "VALUES (?, 'v5@x', 'x', 'in', 'ingest', 1, 'Overflow in quux', 'reads past the end: aardvark', 'raw')")
        .bind(1, case_id)
        .run();
    db.cached("INSERT INTO message_index(rowid, subject, body) VALUES (?, 'Overflow in quux', 'reads past the end: aardvark')")
        .bind(1, db.last_insert_rowid())
        .run();
  }
  Store s = open(dir);
  REQUIRE(*s.schema_version() >= 6);
  auto hits = s.search("aardvark");
  REQUIRE(hits.ok());
  REQUIRE(hits->size() == 1);
  CHECK(hits->at(0).summary.id == case_id);
  CHECK(hits->at(0).snippet.find("[aardvark]") != std::string::npos);
  auto c = s.get_case(case_id);
  REQUIRE(c.ok());
  CHECK(c->messages.at(0).body == "reads past the end: aardvark");
  StoreTestAccess::db(s).exec("INSERT INTO message_index(message_index, rank) VALUES ('integrity-check', 1)");
}

TEST_CASE("store: messages are indexed for search after their commit, and a search indexes first", "[store]") {
  TempDir dir;
  Store s = open(dir);
  auto indexed = [&] { return number(s, "SELECT count(*) FROM message_index_docsize"); };
  auto a = message("a@x", {}, {}, "one@example.org", "First");
  a.parsed.body = "aardvark";
  auto b = message("b@x", {}, {}, "two@example.org", "Second");
  b.parsed.body = "badger";
  auto c = message("c@x", {}, {}, "three@example.org", "Third");
  c.parsed.body = "capybara";
  auto ra = ingest(s, std::move(a));
  auto rb = ingest(s, std::move(b));
  CHECK(indexed() == 0);
  CHECK(number(s, "SELECT indexed_upto FROM search_progress") == 0);

  // The writer passes the text it kept for b; a is read back from the database.
  std::vector<IndexText> known{{rb.message, "Second", "badger"}};
  auto n = s.index_pending(known, /*durable=*/false);
  REQUIRE(n.ok());
  CHECK(*n == 2);
  CHECK(indexed() == 2);
  CHECK(number(s, "SELECT indexed_upto FROM search_progress") == rb.message);
  CHECK(*s.index_pending() == 0);
  auto& sync = StoreTestAccess::db(s).cached("PRAGMA synchronous");
  REQUIRE(sync.step());
  CHECK(sync.int64(0) == 2);  // FULL again for the next commit
  sync.reset();

  // A search indexes what came since, then finds it.
  auto rc = ingest(s, std::move(c));
  for (auto [q, want] : {std::pair<const char*, std::int64_t>{"aardvark", ra.case_id}, {"badger", rb.case_id},
                         {"capybara", rc.case_id}}) {
    INFO(q);
    auto hits = s.search(q);
    REQUIRE(hits.ok());
    REQUIRE(hits->size() == 1);
    CHECK(hits->at(0).summary.id == want);
  }
  CHECK(indexed() == 3);
  StoreTestAccess::db(s).exec("INSERT INTO message_index(message_index, rank) VALUES ('integrity-check', 1)");

  // More than one transaction's worth.
  for (int i = 0; i < 600; ++i) ingest(s, message("bulk" + std::to_string(i) + "@x", {}, {}, "bulk@example.org", "Bulk"));
  n = s.index_pending();
  REQUIRE(n.ok());
  CHECK(*n == 600);
  CHECK(indexed() == 603);
  StoreTestAccess::db(s).exec("INSERT INTO message_index(message_index, rank) VALUES ('integrity-check', 1)");
}

TEST_CASE("store: version 7 starts with every stored message indexed", "[store]") {
  TempDir dir;
  {
    auto old = Store::open_at_version(dir.file("cases.db"), {}, 6);
    REQUIRE(old.ok());
    auto m = message("v6@x", {}, {}, "six@example.org", "Six");
    m.parsed.body = "wombat";
    auto r = ingest(*old, std::move(m));
    // What version 6 did in the same transaction (today's code no longer does).
    StoreTestAccess::db(*old).cached("INSERT INTO message_index(rowid, subject, body) VALUES (?, 'Six', 'wombat')").bind(1, r.message).run();
  }
  Store s = open(dir);
  REQUIRE(*s.schema_version() >= 7);
  auto& upto = StoreTestAccess::db(s).cached("SELECT indexed_upto FROM search_progress");
  REQUIRE(upto.step());
  CHECK(upto.int64(0) == 1);
  upto.reset();
  CHECK(*s.index_pending() == 0);
  auto hits = s.search("wombat");
  REQUIRE(hits.ok());
  CHECK(hits->size() == 1);
}

TEST_CASE("store: the same message twice is stored once", "[store]") {
  TempDir dir;
  Store s = open(dir);
  auto first = ingest(s, message("dup@x"));
  CHECK(first.new_case);
  auto second = ingest(s, message("dup@x"));
  CHECK(second.duplicate);
  CHECK(second.message == first.message);
  CHECK(second.case_id == first.case_id);
  // Same Message-ID, other bytes: a second message and an event.
  auto other = message("dup@x");
  other.raw += "changed\r\n";
  other.sha256 = normalized_sha256(other.raw);
  auto third = ingest(s, std::move(other));
  CHECK_FALSE(third.duplicate);
  CHECK(third.case_id == first.case_id);
  auto c = s.get_case(first.case_id);
  REQUIRE(c.ok());
  CHECK(c->messages.size() == 2);
  CHECK(std::any_of(c->events.begin(), c->events.end(), [](auto& e) { return e.kind == "duplicate"; }));
}

TEST_CASE("store: LF and CRLF forms of a message have one identity", "[store]") {
  CHECK(normalized_sha256("a\nb\n") == normalized_sha256("a\r\nb\r\n"));
  CHECK(normalized_sha256("a\nb\n") != normalized_sha256("a\nb"));
  // Mixed line ends, a leading LF, CR not before LF: each bare LF counts as CRLF.
  CHECK(normalized_sha256("\nx\r\ny\nz\r") == sha256_hex("\r\nx\r\ny\r\nz\r"));
  CHECK(normalized_sha256("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(normalized_sha256("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("store: threading rules in order", "[store][threading]") {
  TempDir dir;
  Store s = open(dir);
  auto root = ingest(s, message("root@x"));
  auto other = ingest(s, message("other@x", {}, {}, "someone@example.net", "another report"));
  REQUIRE(root.case_id != other.case_id);

  SECTION("rule 1: a plus-address wins over everything") {
    auto m = message("plus@x", {"root@x"});
    m.parsed.to = {"security+" + std::to_string(other.case_id) + "@example.com"};
    CHECK(ingest(s, std::move(m)).case_id == other.case_id);
  }
  SECTION("rule 1 over LMTP: the envelope decides") {
    auto m = message("plus-lmtp@x");
    m.envelope.source = MessageSource::lmtp;
    m.envelope.recipients = {"security@example.com", "security+" + std::to_string(other.case_id) + "@example.com"};
    CHECK(ingest(s, std::move(m)).case_id == other.case_id);
  }
  SECTION("a plus-address naming no case is the bare alias") {
    auto m = message("plus-missing@x", {"root@x"});
    m.parsed.to = {"security+999@example.com"};
    CHECK(ingest(s, std::move(m)).case_id == root.case_id);
  }
  SECTION("rule 2: a subject tag beats references") {
    auto m = message("tag@x", {"root@x"}, {}, "reporter@example.org",
                     "Re: [CASE#" + std::to_string(other.case_id) + "] more");
    auto r = ingest(s, std::move(m));
    CHECK(r.case_id == other.case_id);
    auto c = s.get_case(other.case_id);
    REQUIRE(c.ok());
    // reporter@example.org is not a participant of that case: unverified.
    CHECK(c->messages.back().unverified);
    CHECK(std::any_of(c->events.begin(), c->events.end(), [](auto& e) { return e.kind == "unverified"; }));
    auto p = std::find_if(c->participants.begin(), c->participants.end(),
                          [](auto& x) { return x.address == "reporter@example.org"; });
    REQUIRE(p != c->participants.end());
    CHECK_FALSE(p->verified);
  }
  SECTION("rule 2 from a participant is verified") {
    auto m = message("tag2@x", {}, {}, "Someone@Example.NET", "[CASE#" + std::to_string(other.case_id) + "]");
    ingest(s, std::move(m));
    auto c = s.get_case(other.case_id);
    REQUIRE(c.ok());
    CHECK_FALSE(c->messages.back().unverified);
  }
  SECTION("rule 3: In-Reply-To") {
    CHECK(ingest(s, message("reply@x", {}, {"root@x"})).case_id == root.case_id);
  }
  SECTION("rule 3: a parent that arrives after its reply") {
    auto child = ingest(s, message("child@x", {"late-parent@x"}));
    CHECK(child.new_case);
    auto parent = ingest(s, message("late-parent@x"));
    CHECK_FALSE(parent.new_case);
    CHECK(parent.case_id == child.case_id);
  }
  SECTION("rule 4: nothing matches") {
    CHECK(ingest(s, message("fresh@x", {"unknown@x"})).new_case);
  }
}

TEST_CASE("store: a thread gives one case whatever the arrival order", "[store][threading]") {
  TempDir dir;
  Store s = open(dir);
  // Every tree shape of 1..4 messages (parent[i] < i), every arrival order,
  // with References carrying the whole chain and with only In-Reply-To.
  int runs = 0;
  for (int n = 1; n <= 4; ++n) {
    std::vector<int> parent(static_cast<std::size_t>(n), -1);
    std::function<void(int)> shapes = [&](int i) {
      if (i == n) {
        for (bool full_chain : {true, false}) {
          std::vector<int> order(static_cast<std::size_t>(n));
          std::iota(order.begin(), order.end(), 0);
          do {
            ++runs;
            auto id = [&](int k) { return "r" + std::to_string(runs) + "m" + std::to_string(k) + "@x"; };
            std::set<std::int64_t> cases;
            std::vector<std::int64_t> message_ids;
            for (int k : order) {
              std::vector<std::string> refs, irt;
              if (parent[static_cast<std::size_t>(k)] >= 0) {
                irt.push_back(id(parent[static_cast<std::size_t>(k)]));
                if (full_chain)
                  for (int a = parent[static_cast<std::size_t>(k)]; a >= 0; a = parent[static_cast<std::size_t>(a)])
                    refs.insert(refs.begin(), id(a));
              }
              auto r = ingest(s, message(id(k), refs, irt));
              message_ids.push_back(r.message);
            }
            for (auto mid : message_ids) {
              auto& q = StoreTestAccess::db(s).cached("SELECT case_id FROM messages WHERE id = ?");
              q.bind(1, mid);
              REQUIRE(q.step());
              std::int64_t c = q.int64(0);
              q.reset();
              cases.insert(**s.find_case(c));
            }
            INFO("run " << runs << " n=" << n << " full_chain=" << full_chain);
            REQUIRE(cases.size() == 1);
            auto detail = s.get_case(*cases.begin());
            REQUIRE(detail.ok());
            CHECK(detail->messages.size() == static_cast<std::size_t>(n));
          } while (std::next_permutation(order.begin(), order.end()));
        }
        return;
      }
      for (int p = 0; p < i; ++p) {
        parent[static_cast<std::size_t>(i)] = p;
        shapes(i + 1);
      }
    };
    shapes(1);
  }
  // 1 + 2 + 2*6 + 6*24 shapes×orders, twice.
  CHECK(runs == 2 * (1 + 2 + 12 + 144));
}

TEST_CASE("store: assign, status, comment and search", "[store]") {
  TempDir dir;
  Store s = open(dir);
  auto m = message("s@x", {}, {}, "reporter@example.org", "Heap overflow in frobnicator");
  m.parsed.body = "The frobnicator overflows when fed 4096 bytes.";
  auto r = ingest(s, std::move(m));
  REQUIRE(s.assign(r.case_id, "alice", "bob").ok());
  REQUIRE(s.set_status(r.case_id, "open", "bob").ok());
  CHECK(s.set_status(r.case_id, "bogus", "bob").error().code == Errc::invalid);
  REQUIRE(s.add_comment(r.case_id, "Reproduced on 2.3; zebra", "alice").ok());
  CHECK(s.assign(9999, "alice", "bob").error().code == Errc::not_found);

  auto c = s.get_case(r.case_id);
  REQUIRE(c.ok());
  CHECK(c->summary.assignee == std::optional<std::string>("alice"));
  CHECK(c->summary.status == "open");
  REQUIRE(c->comments.size() == 1);
  CHECK(c->comments[0].author == "alice");
  std::vector<std::string> kinds;
  for (auto& e : c->events) kinds.push_back(e.kind);
  CHECK(std::find(kinds.begin(), kinds.end(), "assign") != kinds.end());
  auto st = std::find_if(c->events.begin(), c->events.end(), [](auto& e) { return e.kind == "status"; });
  REQUIRE(st != c->events.end());
  CHECK(st->detail == "new -> open");

  for (const char* q : {"frobnicator", "FROBNICATOR", "frob*", "heap overflow", "zebra"}) {
    auto hits = s.search(q);
    REQUIRE(hits.ok());
    INFO(q);
    REQUIRE(hits->size() == 1);
    CHECK(hits->at(0).summary.id == r.case_id);
  }
  auto none = s.search("nonexistentword");
  REQUIRE(none.ok());
  CHECK(none->empty());
  // Not FTS5 syntax: searched as words, no error.
  auto odd = s.search("\"unbalanced (");
  CHECK(odd.ok());

  CaseFilter f;
  f.assignee = "alice";
  CHECK(s.list_cases(f)->size() == 1);
  f.assignee = "carol";
  CHECK(s.list_cases(f)->empty());
  CaseFilter st_filter;
  st_filter.statuses = {"new"};
  CHECK(s.list_cases(st_filter)->empty());
}
