// The outbox queue (store side) and the Outbox over it: rows claimed once,
// leases that run out, back-off, retry; replies refused without a key,
// acknowledgements composed when they are sent. The Outbox tests use
// INSECURE throwaway keys made at test time in a temp GNUPGHOME.
#include <catch2/catch.hpp>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>

#include "crypto/crypto.hpp"
#include "gpg_home.hpp"
#include "mail/mime.hpp"
#include "outbound/outbox.hpp"
#include "store/outbox_queue.hpp"
#include "store/store.hpp"

using namespace cased;

namespace {

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char tmpl[] = "/tmp/cased-outbox-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const char* name) const { return (path / name).string(); }
};

Store open_store(const std::string& path, bool acknowledge = false) {
  auto s = Store::open(path, StoreOptions("security@example.com", "CASE", acknowledge));
  REQUIRE(s.ok());
  return std::move(*s);
}

OutboxRow row(Store& s, std::int64_t id) {
  auto rows = list_outbox(s);
  REQUIRE(rows.ok());
  auto it = std::find_if(rows->begin(), rows->end(), [&](const OutboxRow& r) { return r.id == id; });
  REQUIRE(it != rows->end());
  return *it;
}

testing::GpgHome& gpg_home() {
  static testing::GpgHome home({"security@example.com", "keyed@example.org"});
  return home;
}

std::int64_t new_case(Store& s, const std::string& from) {
  PreparedMessage p;
  p.raw = "From: " + from + "\r\nMessage-ID: <r1@example.org>\r\nSubject: login bypass\r\n\r\ndetails\r\n";
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

OutboxOptions options() {
  OutboxOptions o;
  o.alias = "security@example.com";
  o.ack_template = "Filed as {tag}.\n";
  return o;
}

// A server that refuses the connection: every attempt fails for now.
SmtpConfig nowhere() {
  SmtpConfig c;
  c.host = "127.0.0.1";
  c.port = 1;
  c.security = TransportSecurity::none;
  return c;
}

}  // namespace

TEST_CASE("send status words are the schema's", "[outbox][queue]") {
  for (auto s : {SendStatus::queued, SendStatus::sending, SendStatus::sent, SendStatus::failed})
    CHECK(parse_send_status(to_string(s)) == s);
  CHECK(to_string(SendStatus::sending) == "sending");
  CHECK_FALSE(parse_send_status("SENT"));
  CHECK_FALSE(parse_send_status(""));
}

TEST_CASE("a row is claimed by one sender only, until its lease runs out", "[outbox][queue]") {
  TempDir dir;
  Store a = open_store(dir.file("c.db"));
  Store b = open_store(dir.file("c.db"));
  OutboxQueue qa(a), qb(b);
  const std::int64_t now = 1'790'000'000;
  auto id = qa.enqueue_digest("team@example.com", "[CASE] digest", "d1@example.com", "raw bytes", now);
  REQUIRE(id.ok());
  CHECK(row(a, *id).status == SendStatus::queued);
  CHECK(*qa.due(now, std::nullopt) == std::vector<std::int64_t>{*id});
  CHECK(qa.due(now - 1, std::nullopt)->empty());

  REQUIRE(*qa.claim(*id, now, 900));
  CHECK_FALSE(*qb.claim(*id, now, 900));        // the other connection loses
  CHECK_FALSE(*qa.claim(*id, now + 899, 900));  // the lease holds
  CHECK(qb.due(now + 899, std::nullopt)->empty());
  CHECK(row(b, *id).status == SendStatus::queued);  // "sending" is listed as queued
  // A sender that died leaves its claim; once the lease is over the row is due again.
  CHECK(*qb.due(now + 901, std::nullopt) == std::vector<std::int64_t>{*id});
  REQUIRE(*qb.claim(*id, now + 901, 900));
  auto item = qb.item(*id);
  REQUIRE(item.ok());
  CHECK(item->attempts == 2);
  CHECK(item->kind == "digest");
  CHECK(item->to == std::vector<std::string>{"team@example.com"});
  CHECK(item->raw == "raw bytes");
  CHECK_FALSE(item->case_id);

  REQUIRE(qb.mark_sent(*id, now + 902, std::nullopt, {}).ok());
  auto r = row(a, *id);
  CHECK(r.status == SendStatus::sent);
  CHECK(r.sent == now + 902);
  CHECK(qa.due(now + 10'000, std::nullopt)->empty());
  CHECK_FALSE(*qa.claim(*id, now + 10'000, 900));
  CHECK(qa.retry(*id, now).error().code == Errc::not_found);  // a sent row is not sent again
  CHECK(qa.item(9999).error().code == Errc::not_found);
}

TEST_CASE("a deferred row waits for its time; a failed one for retry", "[outbox][queue]") {
  TempDir dir;
  Store s = open_store(dir.file("c.db"));
  OutboxQueue q(s);
  const std::int64_t now = 1'790'000'000;
  auto id = *q.enqueue_digest("team@example.com", "s", "d2@example.com", "raw", now);
  REQUIRE(*q.claim(id, now, 900));
  REQUIRE(q.defer(id, "451 try later", now + 60).ok());
  auto r = row(s, id);
  CHECK(r.status == SendStatus::queued);
  CHECK(r.last_error == "451 try later");
  CHECK(r.next_attempt == now + 60);
  CHECK(q.due(now + 59, std::nullopt)->empty());
  CHECK(*q.due(now + 60, id) == std::vector<std::int64_t>{id});
  CHECK(q.due(now + 60, id + 1)->empty());  // `only` another row

  REQUIRE(*q.claim(id, now + 60, 900));
  REQUIRE(q.mark_failed(id, "550 no such user").ok());
  r = row(s, id);
  CHECK(r.status == SendStatus::failed);
  CHECK(r.attempts == 2);
  CHECK(q.due(now + 100'000, std::nullopt)->empty());
  REQUIRE(q.retry(id, now + 200).ok());
  r = row(s, id);
  CHECK(r.status == SendStatus::queued);
  CHECK(r.attempts == 0);
  CHECK(*q.due(now + 200, std::nullopt) == std::vector<std::int64_t>{id});
}

TEST_CASE("a reply to a reporter without a key is refused unless signed only", "[outbox][gpg]") {
  TempDir dir;
  Store s = open_store(dir.file("c.db"));
  Crypto crypto(gpg_home().dir.string());
  Outbox outbox(s, crypto, options());
  std::int64_t case_id = new_case(s, "rita@example.org");

  auto refused = outbox.queue_reply({case_id, "We fixed it.", {}, false, "alice"});
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == Errc::refused);
  CHECK(refused.error().message.find("rita@example.org") != std::string::npos);
  CHECK(list_outbox(s)->empty());
  auto detail = s.get_case(case_id);
  REQUIRE(detail.ok());
  CHECK(std::any_of(detail->events.begin(), detail->events.end(),
                    [](const EventView& e) { return e.detail == "reply refused: no usable key for rita@example.org"; }));

  auto q = outbox.queue_reply({case_id, "We fixed it.", {}, true, "alice"});
  REQUIRE(q.ok());
  CHECK_FALSE(q->encrypted);
  CHECK(q->to == std::vector<std::string>{"rita@example.org"});
  auto r = row(s, q->outbox_id);
  CHECK(r.kind == "reply");
  CHECK(r.status == SendStatus::queued);
  CHECK(r.subject == "[CASE#" + std::to_string(case_id) + "] Message from the security team");
  // The stored copy is threaded under the reporter's message.
  detail = s.get_case(case_id);
  REQUIRE(detail->messages.size() == 2);
  CHECK(detail->messages[1].direction == "out");
  CHECK(detail->messages[1].message_id == q->message_id);
  CHECK(outbox.send_due(std::nullopt).empty());  // without [smtp] nothing is sent
}

TEST_CASE("a reply to a keyed address is encrypted; a failed send backs off", "[outbox][gpg]") {
  TempDir dir;
  Store s = open_store(dir.file("c.db"));
  Crypto crypto(gpg_home().dir.string());
  Outbox outbox(s, crypto, options());
  std::int64_t case_id = new_case(s, "rita@example.org");
  CHECK(outbox.key_for("Keyed@Example.org"));
  CHECK_FALSE(outbox.key_for("rita@example.org"));

  auto q = outbox.queue_reply({case_id, "Encrypted words.", {"keyed@example.org"}, false, "alice"});
  REQUIRE(q.ok());
  CHECK(q->encrypted);
  CHECK(row(s, q->outbox_id).subject == "Re: [CASE#" + std::to_string(case_id) + "] login bypass");

  auto attempts = outbox.send_due(nowhere(), q->outbox_id);
  REQUIRE(attempts.size() == 1);
  CHECK(attempts[0].status == SendStatus::queued);
  CHECK_FALSE(attempts[0].error.empty());
  auto r = row(s, q->outbox_id);
  CHECK(r.status == SendStatus::queued);
  CHECK(r.attempts == 1);
  CHECK(r.last_error == attempts[0].error);
  CHECK(r.next_attempt > r.created);
  CHECK(outbox.send_due(nowhere(), q->outbox_id).empty());  // not due again yet
}

TEST_CASE("an acknowledgement is composed when it is first sent", "[outbox][gpg]") {
  TempDir dir;
  Store s = open_store(dir.file("c.db"), true);
  Crypto crypto(gpg_home().dir.string());
  Outbox outbox(s, crypto, options());
  std::int64_t case_id = new_case(s, "rita@example.org");
  auto rows = list_outbox(s);
  REQUIRE(rows->size() == 1);
  CHECK(rows->front().kind == "ack");
  CHECK(rows->front().subject.empty());

  auto attempts = outbox.send_due(nowhere());
  REQUIRE(attempts.size() == 1);
  CHECK(attempts[0].status == SendStatus::queued);
  auto r = row(s, rows->front().id);
  CHECK(r.subject == "[CASE#" + std::to_string(case_id) + "] Your report has been received");
  auto detail = s.get_case(case_id);
  REQUIRE(detail->messages.size() == 2);
  const auto& ack = detail->messages[1];
  CHECK(ack.direction == "out");
  CHECK(ack.body == "Filed as [CASE#" + std::to_string(case_id) + "].\n");
  CHECK_FALSE(ack.encrypted);  // rita has no key
}
