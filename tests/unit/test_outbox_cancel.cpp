// Cancelling an outbox row: only while queued, decided by one conditional
// statement against a sender claiming it; the state `show` gives the reply;
// schema 12 rebuilding the outbox table with its rows and indexes.
#include <catch2/catch.hpp>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>

#include "mail/mime.hpp"
#include "store/outbox_queue.hpp"
#include "store/store.hpp"
#include "../store_access.hpp"

using namespace cased;

namespace {

struct CancelDir {
  std::filesystem::path path;
  CancelDir() {
    char tmpl[] = "/tmp/cased-cancel-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~CancelDir() { std::filesystem::remove_all(path); }
  CancelDir(const CancelDir&) = delete;
  CancelDir& operator=(const CancelDir&) = delete;
  std::string file(const char* name) const { return (path / name).string(); }
};

Store open_at(const std::string& path, int version = 1 << 30) {
  auto s = Store::open_at_version(path, StoreOptions("security@example.com", "CASE"), version);
  REQUIRE(s.ok());
  return std::move(*s);
}

std::int64_t a_case(Store& s) {
  PreparedMessage p;
  p.raw = "From: rita@example.org\r\nMessage-ID: <r1@example.org>\r\nSubject: bug\r\n\r\ndetails\r\n";
  p.sha256 = normalized_sha256(p.raw);
  p.parsed = parse_message(p.raw);
  p.parsed.to = {"security@example.com"};
  std::vector<PreparedMessage> batch;
  batch.push_back(std::move(p));
  auto r = s.ingest(batch);
  REQUIRE(r.ok());
  REQUIRE(r->at(0).ok());
  return r->at(0)->case_id;
}

std::int64_t a_reply(Store& s, std::int64_t case_id, const std::string& mid) {
  OutboundRecord m;
  m.case_id = case_id;
  m.message_id = mid;
  m.to = {"rita@example.org"};
  m.cc = {"carl@example.net"};
  m.subject = "Re: bug";
  m.body = "answer\n";
  m.raw = "raw";
  m.encrypted = true;
  m.attachments = {{"poc.c", "text/x-c", 12, std::string(64, 'a'), true, true}};
  auto id = OutboxQueue(s).enqueue_reply(m, {"reply", "alice", "queued"}, 1'790'000'000);
  REQUIRE(id.ok());
  return *id;
}

std::optional<OutboxState> state_of(Store& s, std::int64_t case_id, const std::string& mid) {
  auto d = s.get_case(case_id);
  REQUIRE(d.ok());
  for (const auto& m : d->messages)
    if (m.message_id == mid) return m.outbox;
  FAIL("no message " << mid);
  return std::nullopt;
}

}  // namespace

TEST_CASE("a queued reply can be cancelled once, and is then never due", "[outbox][cancel]") {
  CancelDir dir;
  Store s = open_at(dir.file("c.db"));
  OutboxQueue q(s);
  auto c = a_case(s);
  auto id = a_reply(s, c, "o1@example.com");
  auto st = state_of(s, c, "o1@example.com");
  REQUIRE(st);
  CHECK(st->id == id);
  CHECK(st->status == SendStatus::queued);

  auto cancelled = q.cancel(id, "alice");
  REQUIRE(cancelled.ok());
  CHECK(*cancelled == c);
  CHECK(state_of(s, c, "o1@example.com")->status == SendStatus::cancelled);
  CHECK(q.due(1'790'000'000 + 86400, std::nullopt)->empty());
  CHECK_FALSE(*q.claim(id, 1'790'000'000 + 86400, 900));
  CHECK(q.retry(id, 1'790'000'000).error().code == Errc::not_found);
  auto again = q.cancel(id, "alice");
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == Errc::refused);
  CHECK(again.error().message.find("already cancelled") != std::string::npos);

  auto d = s.get_case(c);
  REQUIRE(d.ok());
  auto events = std::count_if(d->events.begin(), d->events.end(), [](const EventView& e) {
    return e.kind == "cancel" && e.actor == "alice" && e.detail.find("o1@example.com") != std::string::npos;
  });
  CHECK(events == 1);
  // The reply's Cc and files are on its message; the row's recipients hold both.
  auto out_it = std::find_if(d->messages.begin(), d->messages.end(),
                             [](const MessageView& m) { return m.message_id == "o1@example.com"; });
  REQUIRE(out_it != d->messages.end());
  const auto& out = *out_it;
  CHECK(out.cc == std::vector<std::string>{"carl@example.net"});
  REQUIRE(out.attachments.size() == 1);
  CHECK(out.attachments[0].filename == "poc.c");
  auto rows = list_outbox(s);
  REQUIRE(rows.ok());
  CHECK(rows->at(0).to == std::vector<std::string>{"rita@example.org", "carl@example.net"});
}

TEST_CASE("a row being sent, sent or missing is not cancelled", "[outbox][cancel]") {
  CancelDir dir;
  Store a = open_at(dir.file("c.db"));
  Store b = open_at(dir.file("c.db"));
  OutboxQueue sender(a), analyst(b);
  auto c = a_case(a);
  auto id = a_reply(a, c, "o1@example.com");
  const std::int64_t now = 1'790'000'000;
  REQUIRE(*sender.claim(id, now, 900));  // the daemon won the row first
  auto r = analyst.cancel(id, "alice");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == Errc::refused);
  CHECK(r.error().message.find("being sent") != std::string::npos);
  CHECK(state_of(b, c, "o1@example.com")->status == SendStatus::queued);  // "sending" shows as queued

  REQUIRE(sender.mark_sent(id, now + 1, c, {}).ok());
  r = analyst.cancel(id, "alice");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find("already sent") != std::string::npos);
  CHECK(state_of(b, c, "o1@example.com")->status == SendStatus::sent);
  CHECK(analyst.cancel(9999, "alice").error().code == Errc::not_found);
  // Nothing was recorded for the refusals.
  auto d = b.get_case(c);
  REQUIRE(d.ok());
  CHECK(std::none_of(d->events.begin(), d->events.end(), [](const EventView& e) { return e.kind == "cancel"; }));
}

TEST_CASE("schema 12 rebuilds the outbox with its rows, ids and indexes", "[outbox][cancel][schema]") {
  CancelDir dir;
  const std::int64_t now = 1'790'000'000;
  std::int64_t digest = 0, reply = 0, c = 0;
  {
    Store old = open_at(dir.file("c.db"), 10);
    c = a_case(old);
    OutboxQueue q(old);
    digest = *q.enqueue_digest("team@example.com", "[CASE] digest", "d1@example.com", "raw", now);
    OutboundRecord m;
    m.case_id = c;
    m.message_id = "o1@example.com";
    m.to = {"rita@example.org"};
    m.subject = "Re: bug";
    m.body = "answer\n";
    m.raw = "raw2";
    reply = *q.enqueue_reply(m, {"reply", "alice", "queued"}, now);
    REQUIRE(*q.claim(digest, now, 900));
    REQUIRE(q.mark_failed(digest, "550 no").ok());
  }
  Store s = open_at(dir.file("c.db"));
  CHECK(*s.schema_version() == Store::newest_schema_version());
  auto rows = list_outbox(s);
  REQUIRE(rows.ok());
  REQUIRE(rows->size() == 2);
  CHECK(rows->at(0).id == digest);
  CHECK(rows->at(0).status == SendStatus::failed);
  CHECK(rows->at(0).last_error == "550 no");
  CHECK(rows->at(1).id == reply);
  CHECK(state_of(s, c, "o1@example.com")->id == reply);
  REQUIRE(OutboxQueue(s).cancel(reply, "alice").ok());
  CHECK(state_of(s, c, "o1@example.com")->status == SendStatus::cancelled);
  auto& db = StoreTestAccess::db(s);
  auto idx = db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'outbox' ORDER BY name");
  std::vector<std::string> names;
  while (idx.step()) names.push_back(idx.text(0));
  // 015 adds outbox_ack after the rebuild.
  CHECK(names == std::vector<std::string>{"outbox_ack", "outbox_due", "outbox_message"});
  auto leftover = db.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'outbox_new'");
  REQUIRE(leftover.step());
  CHECK(leftover.int64(0) == 0);
}
