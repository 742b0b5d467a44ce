// Vendors' mail in a case: the alias+ID.NAME address parsed from any
// bytes, whose a message is (the party rule: an address or a reference
// grants nothing by itself), the reply's default recipients, and what a
// delivery report on a notification may change (only for the recipients
// that notification really had).
#include <stdlib.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "../store_access.hpp"
#include "cases/bounce.hpp"
#include "cases/vendor_address.hpp"
#include "cli/draft.hpp"
#include "cli/output.hpp"
#include "core/util.hpp"
#include "store/outbox_queue.hpp"
#include "store/store.hpp"
#include "store_ingest.hpp"

using namespace cased;

namespace {

const std::string kAcmeKey = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char tmpl[] = "/tmp/cased-vparty-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const char* name) const { return (path / name).string(); }
};

// A message over LMTP to `rcpt`, from `from`, with more header fields.
PreparedMessage lmtp(const std::string& id, const std::string& from, const std::string& rcpt,
                     const std::string& more = "", const std::string& body = "text\r\n",
                     std::optional<std::string> mail_from = std::string("sender@example.net")) {
  std::string raw = more + "From: " + from + "\r\nTo: security@example.com\r\nSubject: about it\r\nMessage-ID: <" + id +
                    ">\r\n\r\n" + body;
  return prepare_message(std::move(raw), Envelope{MessageSource::lmtp, std::move(mail_from), {rcpt}});
}

// A case with its vendors: rita's report is case 1; acme (a key, two
// contacts) is in the book and notified in case 1 the way `notify` leaves
// it; beta is in the book and attached to no case.
struct World {
  TempDir dir;
  Store s;
  std::int64_t case_id = 0;

  World() : s(open(dir)) {
    case_id = test::ingest(s, lmtp("r1@example.org", "rita@example.org", "security@example.com")).case_id;
    Vendor acme;
    acme.name = "acme";
    acme.contacts = {"psirt@acme.example", "sec@acme.example"};
    acme.key = kAcmeKey;
    REQUIRE(s.save_vendor(acme, VendorWrite::add, "acme", "ana").ok());
    Vendor beta;
    beta.name = "beta";
    beta.contacts = {"sec@beta.example"};
    REQUIRE(s.save_vendor(beta, VendorWrite::add, "beta", "ana").ok());
    notify(case_id, "acme", "notify.1.acme@example.com", {"psirt@acme.example", "sec@acme.example"});
  }

  static Store open(const TempDir& d) {
    auto s = Store::open(d.file("cases.db"), StoreOptions("security@example.com", "CASE", false, "mx.example.com"));
    REQUIRE(s.ok());
    return std::move(s.value());
  }

  // The rows a notification leaves (as OutboxQueue::enqueue_notifications
  // writes them): the outbound message with its party, its outbox row of
  // kind notify, the vendor attached with its contacts as verified vendor
  // participants, and the outreach entry naming the outbox row.
  void notify(std::int64_t c, const std::string& vendor, const std::string& mid, const std::vector<std::string>& to) {
    auto& db = StoreTestAccess::db(s);
    std::int64_t message = s.store_outbound(c, mid, to, "notification", "text", "raw", true, "", {}, now_unix());
    db.prepare("UPDATE messages SET party = ? WHERE id = ?").bind(1, "vendor:" + vendor).bind(2, message).run();
    db.prepare("INSERT INTO outbox(case_id, kind, status, recipients, subject, message_id, message, raw, next_attempt, "
               "created) VALUES (?, 'notify', 'sent', '[]', 's', ?, ?, 'raw', 0, 1000)")
        .bind(1, c)
        .bind(2, mid)
        .bind(3, message)
        .run();
    std::int64_t outbox = db.last_insert_rowid();
    db.prepare("INSERT OR IGNORE INTO case_vendors(case_id, vendor, added, notified, last_contact) VALUES (?, ?, 1000, 1000, 1000)")
        .bind(1, c)
        .bind(2, vendor)
        .run();
    for (const auto& a : to)
      db.prepare("INSERT OR IGNORE INTO participants(case_id, address, role, verified, added) VALUES (?, ?, 'vendor', 1, 1000)")
          .bind(1, c)
          .bind(2, a)
          .run();
    db.prepare("INSERT INTO vendor_outreach(case_id, vendor, via, at, actor, text, outbox) VALUES (?, ?, 'mail', 1000, 'ana', '', ?)")
        .bind(1, c)
        .bind(2, vendor)
        .bind(3, outbox)
        .run();
  }

  IngestResult deliver(PreparedMessage m) { return test::ingest(s, std::move(m)); }

  MessageView message(std::int64_t id) {
    auto d = s.get_case(case_id);
    REQUIRE(d.ok());
    for (const auto& m : d->messages)
      if (m.id == id) return m;
    FAIL("message " << id << " is not in case " << case_id);
    return {};
  }

  std::optional<std::int64_t> last_reply(const std::string& vendor) {
    auto st = StoreTestAccess::db(s).prepare("SELECT max(last_reply) FROM case_vendors WHERE vendor = ?");
    st.bind(1, vendor);
    REQUIRE(st.step());
    return st.opt_int64(0);
  }

  std::vector<std::string> events(std::int64_t c, const std::string& kind) {
    auto d = s.get_case(c);
    REQUIRE(d.ok());
    std::vector<std::string> out;
    for (const auto& e : d->events)
      if (e.kind == kind) out.push_back(e.detail);
    return out;
  }

  std::string participant_role(const std::string& address, bool& verified) {
    auto d = s.get_case(case_id);
    REQUIRE(d.ok());
    for (const auto& p : d->participants)
      if (p.address == address) {
        verified = p.verified;
        return p.role;
      }
    return "";
  }
};

bool any_has(const std::vector<std::string>& v, const std::string& needle) {
  return std::any_of(v.begin(), v.end(), [&](const std::string& s) { return s.find(needle) != std::string::npos; });
}

}  // namespace

TEST_CASE("vendor address: what alias+ID and alias+ID.NAME name, from any bytes", "[vendor-party]") {
  using T = std::optional<PlusTarget>;
  CHECK(parse_plus_detail("42") == T(PlusTarget{42, ""}));
  CHECK(parse_plus_detail("42.acme") == T(PlusTarget{42, "acme"}));
  CHECK(parse_plus_detail("7.acme.corp_psirt-1") == T(PlusTarget{7, "acme.corp_psirt-1"}));
  CHECK(parse_plus_detail("9223372036854775807.a") == T(PlusTarget{INT64_MAX, "a"}));
  for (const std::string& bad : std::vector<std::string>{"", "0", "042", "-1", "+1", " 1", "1 ", "abc", "1x", "9223372036854775808",
                          "99999999999999999999999", "18446744073709551617.acme", "42.", "42..", "42.acme.",
                          "42.Acme", "42.-acme", "42._x", "42.ac me", "42.ac+me", "42.acme@x", ".acme", "42.\xff",
                          "42.ac\xc3\xa9", std::string("42.ac\0me", 8)})
    CHECK_FALSE(parse_plus_detail(bad));
  CHECK(parse_plus_detail("1." + std::string(64, 'a')) == T(PlusTarget{1, std::string(64, 'a')}));
  CHECK_FALSE(parse_plus_detail("1." + std::string(65, 'a')));
  CHECK_FALSE(parse_plus_detail("1." + std::string(1 << 20, 'a')));
  CHECK_FALSE(parse_plus_detail(std::string(1 << 20, '9')));

  const std::string alias = "security@example.com";
  auto one = plus_target({"security@example.com", "<Security+12.ACME@Example.COM>"}, alias);
  CHECK(one.found);
  CHECK(one.named == T(PlusTarget{12, "acme"}));
  // The first plus-form decides, as for alias+ID: one naming nothing names nothing.
  auto word = plus_target({"security+x.acme@example.com", "security+5.acme@example.com"}, alias);
  CHECK(word.found);
  CHECK_FALSE(word.named);
  CHECK_FALSE(plus_target({"security@example.com", "security+5.acme@example.org", "other+5@example.com"}, alias).found);
  CHECK_FALSE(plus_target({"security+5.acme@example.com"}, "no-at-sign").found);
  CHECK(vendor_party("acme") == "vendor:acme");
}

TEST_CASE("vendor party: a vendor's contact writing to its address is the vendor's", "[vendor-party]") {
  World w;
  REQUIRE_FALSE(w.last_reply("acme"));
  auto r = w.deliver(lmtp("v1@acme.example", "PSIRT@acme.example", "security+1.acme@example.com"));
  CHECK(r.case_id == w.case_id);
  CHECK_FALSE(r.new_case);
  MessageView m = w.message(r.message);
  CHECK(m.party == std::optional<std::string>("vendor:acme"));
  CHECK(message_party(m) == "vendor:acme");
  CHECK_FALSE(m.unverified);
  CHECK(w.last_reply("acme").has_value());
  CHECK(any_has(w.events(w.case_id, "vendor"), "message v1@acme.example is vendor acme's reply"));
  bool verified = false;
  CHECK(w.participant_role("psirt@acme.example", verified) == "vendor");
  CHECK(verified);
  // The reporter's mail stays the reporter's; our notification is the vendor's.
  auto d = w.s.get_case(w.case_id);
  REQUIRE(d.ok());
  CHECK(message_party(d->messages.at(0)) == "reporter");
  CHECK(message_party(d->messages.at(1)) == "vendor:acme");
}

TEST_CASE("vendor party: a stranger writing to the vendor's address joins the case unverified", "[vendor-party]") {
  World w;
  auto r = w.deliver(lmtp("x1@evil.example", "mallory@evil.example", "security+1.acme@example.com",
                          "Subject: [CASE#1] statement\r\n"));
  CHECK(r.case_id == w.case_id);  // nothing lost
  MessageView m = w.message(r.message);
  CHECK_FALSE(m.party);
  CHECK(m.unverified);
  CHECK(message_party(m) == "unverified");
  CHECK_FALSE(w.last_reply("acme"));  // no reply from acme yet
  CHECK(any_has(w.events(w.case_id, "unverified"), "came as vendor acme's"));
  bool verified = true;
  CHECK(w.participant_role("mallory@evil.example", verified) == "reporter");
  CHECK_FALSE(verified);

  SECTION("a verified reporter writing to it proves nothing either") {
    auto again = w.deliver(lmtp("r2@example.org", "rita@example.org", "security+1.acme@example.com"));
    CHECK(message_party(w.message(again.message)) == "unverified");
    CHECK_FALSE(w.last_reply("acme"));
    bool still = false;
    CHECK(w.participant_role("rita@example.org", still) == "reporter");
    CHECK(still);  // rita stays a verified reporter
  }
  SECTION("another vendor's contact is not this vendor") {
    auto b = w.deliver(lmtp("b1@beta.example", "sec@beta.example", "security+1.acme@example.com"));
    CHECK(message_party(w.message(b.message)) == "unverified");
  }
  SECTION("a contact whose From failed DMARC is not believed") {
    auto f = w.deliver(lmtp("f1@acme.example", "psirt@acme.example", "security+1.acme@example.com",
                            "Authentication-Results: mx.example.com; dmarc=fail header.from=acme.example\r\n"));
    CHECK(message_party(w.message(f.message)) == "unverified");
    CHECK_FALSE(w.last_reply("acme"));
  }
}

TEST_CASE("vendor party: a good signature by the vendor's key proves the message, not the address",
          "[vendor-party]") {
  World w;
  auto m = lmtp("k1@acme.example", "someone@acme-staff.example", "security+1.acme@example.com");
  m.parsed.signature = SignatureState::good;
  m.parsed.signer = kAcmeKey;
  auto r = w.deliver(std::move(m));
  CHECK(message_party(w.message(r.message)) == "vendor:acme");
  CHECK(w.last_reply("acme").has_value());
  bool verified = true;
  CHECK(w.participant_role("someone@acme-staff.example", verified) == "vendor");
  CHECK_FALSE(verified);  // the address itself was not vouched for

  SECTION("a partial signature or another key proves nothing") {
    auto p = lmtp("k2@acme.example", "someone@acme-staff.example", "security+1.acme@example.com");
    p.parsed.signature = SignatureState::partial;
    p.parsed.signer = kAcmeKey;
    CHECK(message_party(w.message(w.deliver(std::move(p)).message)) == "unverified");
    auto o = lmtp("k3@acme.example", "someone@acme-staff.example", "security+1.acme@example.com");
    o.parsed.signature = SignatureState::good;
    o.parsed.signer = std::string(40, 'B');
    CHECK(message_party(w.message(w.deliver(std::move(o)).message)) == "unverified");
  }
}

TEST_CASE("vendor party: a reply to the notification by In-Reply-To alone", "[vendor-party]") {
  World w;
  auto r = w.deliver(lmtp("v2@acme.example", "sec@acme.example", "security@example.com",
                          "In-Reply-To: <notify.1.acme@example.com>\r\n"));
  CHECK(r.case_id == w.case_id);
  CHECK(message_party(w.message(r.message)) == "vendor:acme");
  CHECK(w.last_reply("acme").has_value());
  // A stranger who learnt the notification's Message-ID gets the case, not the label.
  auto x = w.deliver(lmtp("x2@evil.example", "mallory@evil.example", "security@example.com",
                          "References: <notify.1.acme@example.com>\r\n"));
  CHECK(x.case_id == w.case_id);
  CHECK(message_party(w.message(x.message)) == "unverified");
  // A vendor's contact writing by the subject tag is the vendor's too, never the reporter's.
  auto t = w.deliver(lmtp("v3@acme.example", "psirt@acme.example", "security@example.com",
                          "Subject: Re: [CASE#1] update\r\n"));
  CHECK(t.case_id == w.case_id);
  CHECK(message_party(w.message(t.message)) == "vendor:acme");
}

TEST_CASE("vendor party: a NAME that is no vendor of the case creates nothing", "[vendor-party]") {
  World w;
  for (std::string rcpt : {"security+1.beta@example.com", "security+1.nosuch@example.com", "security+999.acme@example.com"}) {
    auto r = w.deliver(lmtp("s-" + rcpt, "sec@beta.example", rcpt));
    CHECK(r.new_case);  // by the other rules: here a new case
    CHECK(r.case_id != w.case_id);
    CHECK(any_has(w.events(r.case_id, "vendor"), "which has no such vendor: that address was ignored"));
    auto d = w.s.get_case(r.case_id);
    REQUIRE(d.ok());
    CHECK(message_party(d->messages.at(0)) == "reporter");  // its sender opened a case of its own
  }
  // The subject tag still decides when there is one.
  auto tagged = w.deliver(lmtp("s-tag", "sec@beta.example", "security+1.beta@example.com", "Subject: [CASE#1] hi\r\n"));
  CHECK(tagged.case_id == w.case_id);
  CHECK(message_party(w.message(tagged.message)) == "unverified");
  auto st = StoreTestAccess::db(w.s).prepare("SELECT count(*) FROM case_vendors WHERE vendor <> 'acme'");
  REQUIRE(st.step());
  CHECK(st.int64(0) == 0);
}

TEST_CASE("vendor party: a merged case's vendor address leads to the case it lives in", "[vendor-party]") {
  World w;
  std::int64_t other = w.deliver(lmtp("o1@example.org", "otto@example.org", "security@example.com")).case_id;
  w.notify(other, "acme", "notify.2.acme@example.com", {"psirt@acme.example"});
  REQUIRE(w.s.merge_case(other, w.case_id, "ana").ok());
  auto r = w.deliver(lmtp("v9@acme.example", "psirt@acme.example", "security+" + std::to_string(other) + ".acme@example.com"));
  CHECK(r.case_id == w.case_id);
  CHECK(message_party(w.message(r.message)) == "vendor:acme");
  CHECK(w.last_reply("acme").has_value());
}

TEST_CASE("vendor party: reply's default recipients are never a vendor's", "[vendor-party]") {
  World w;
  w.deliver(lmtp("v1@acme.example", "psirt@acme.example", "security+1.acme@example.com"));
  // Even a contact that became a verified reporter participant some other way.
  REQUIRE(w.s.add_participant(w.case_id, "sec@acme.example", "reporter", "ana").ok());
  REQUIRE(w.s.add_participant(w.case_id, "carl@example.net", "reporter", "ana").ok());
  auto to = OutboxQueue(w.s).verified_reporters(w.case_id);
  REQUIRE(to.ok());
  CHECK(*to == std::vector<std::string>{"rita@example.org", "carl@example.net"});
  // Our own mail to a vendor's contacts only is the vendor's; to the reporter, the reporter's.
  std::int64_t out = w.s.store_outbound(w.case_id, "o.1@example.com", {"psirt@acme.example"}, "s", "b", "r", true, "", {}, 2000);
  CHECK(message_party(w.message(out)) == "vendor:acme");
  std::int64_t mixed = w.s.store_outbound(w.case_id, "o.2@example.com", {"psirt@acme.example", "rita@example.org"}, "s",
                                          "b", "r", true, "", {}, 2000);
  CHECK(message_party(w.message(mixed)) == "reporter");
}

namespace {

std::string dsn(const std::string& quoted, const std::vector<std::pair<std::string, std::string>>& recipients) {
  std::string raw =
      "From: MAILER-DAEMON@mx.acme.example\r\nTo: security@example.com\r\nSubject: Undelivered\r\n"
      "Message-ID: <dsn-" + quoted + ">\r\nAuto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
      "Content-Type: multipart/report; report-type=delivery-status; boundary=\"dsn\"\r\n\r\n"
      "--dsn\r\nContent-Type: text/plain\r\n\r\nDelivery report.\r\n"
      "--dsn\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.acme.example\r\n";
  for (const auto& [addr, action] : recipients)
    raw += "\r\nFinal-Recipient: rfc822; " + addr + "\r\nAction: " + action + "\r\nStatus: 5.1.1\r\n";
  return raw + "\r\n--dsn\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: security@example.com\r\nMessage-ID: <" +
         quoted + ">\r\n--dsn--\r\n";
}

PreparedMessage report(const std::string& raw) {
  return prepare_message(raw, Envelope{MessageSource::lmtp, std::string(), {"security@example.com"}});
}

struct Outreach {
  std::optional<std::string> delivery, detail;
};

Outreach outreach(Store& s) {
  auto st = StoreTestAccess::db(s).prepare("SELECT delivery, delivery_detail FROM vendor_outreach ORDER BY id LIMIT 1");
  REQUIRE(st.step());
  return {st.opt_text(0), st.opt_text(1)};
}

}  // namespace

TEST_CASE("bounce: a report's recipients by their Action", "[vendor-party][bounce]") {
  auto info = bounce_info(report(dsn("q@x", {{"A@x.example", "failed"},
                                             {"b@x.example", "delivered"},
                                             {"c@x.example", "delayed"},
                                             {"d@x.example", "relayed"},
                                             {"e@x.example", "FAILED"}})));
  REQUIRE(info);
  CHECK(info->recipients == std::vector<std::string>{"a@x.example", "e@x.example"});
  CHECK(info->delivered == std::vector<std::string>{"b@x.example", "d@x.example"});
}

TEST_CASE("vendor party: a DSN for a notification marks the failed contact bouncing", "[vendor-party][bounce]") {
  World w;
  auto r = w.deliver(report(dsn("notify.1.acme@example.com", {{"psirt@acme.example", "failed"},
                                                               {"sec@acme.example", "delivered"}})));
  CHECK(r.case_id == w.case_id);
  Outreach o = outreach(w.s);
  CHECK(o.delivery == std::optional<std::string>("bounced"));
  CHECK(o.detail == std::optional<std::string>("psirt@acme.example"));
  auto acme = w.s.get_vendor("acme");
  REQUIRE(acme.ok());
  CHECK(acme->bouncing.count("psirt@acme.example") == 1);
  CHECK(acme->bouncing.count("sec@acme.example") == 0);
  CHECK(any_has(w.events(w.case_id, "bounce"), "notification notify.1.acme@example.com to vendor acme bounced: psirt@acme.example"));
  // The report is shown with the vendor, and is no reply from it.
  CHECK(message_party(w.message(r.message)) == "vendor:acme");
  CHECK_FALSE(w.last_reply("acme"));

  SECTION("an edit keeping the contacts keeps the mark; giving the contact again clears it") {
    Vendor v = *acme;
    v.phone = "+1 555 0100";
    REQUIRE(w.s.save_vendor(v, VendorWrite::edit, "phone", "ana").ok());
    CHECK(w.s.get_vendor("acme")->bouncing.count("psirt@acme.example") == 1);
    v.bouncing.clear();  // what `vendor edit acme --contact ...` does
    REQUIRE(w.s.save_vendor(v, VendorWrite::edit, "contacts", "ana").ok());
    CHECK(w.s.get_vendor("acme")->bouncing.empty());
  }
  SECTION("a later success report does not hide the bounce") {
    w.deliver(report(dsn("notify.1.acme@example.com", {{"psirt@acme.example", "delivered"}}) + "\r\n"));
    CHECK(outreach(w.s).delivery == std::optional<std::string>("bounced"));
  }
}

TEST_CASE("vendor party: a successful DSN marks the notification delivered", "[vendor-party][bounce]") {
  World w;
  w.deliver(report(dsn("notify.1.acme@example.com", {{"psirt@acme.example", "delivered"}})));
  Outreach o = outreach(w.s);
  CHECK(o.delivery == std::optional<std::string>("delivered"));
  CHECK(o.detail == std::optional<std::string>("delivered to psirt@acme.example"));
  CHECK(w.s.get_vendor("acme")->bouncing.empty());
}

TEST_CASE("vendor party: a forged DSN marks nobody it was not sent to", "[vendor-party][bounce]") {
  World w;
  // The notification went to acme's contacts only: beta's contact and the
  // reporter cannot be made to bounce through it.
  w.deliver(report(dsn("notify.1.acme@example.com", {{"sec@beta.example", "failed"}, {"rita@example.org", "failed"}})));
  CHECK_FALSE(outreach(w.s).delivery);
  CHECK(w.s.get_vendor("beta")->bouncing.empty());
  auto d = w.s.get_case(w.case_id);
  REQUIRE(d.ok());
  for (const auto& p : d->participants) CHECK_FALSE(p.bouncing);
  CHECK(any_has(w.events(w.case_id, "bounce"), "names 2 address(es) it was not sent to: ignored"));
  // A report quoting a Message-ID we never sent is no bounce at all.
  auto r = w.deliver(report(dsn("made-up@acme.example", {{"psirt@acme.example", "failed"}})));
  CHECK(r.new_case);
  CHECK_FALSE(outreach(w.s).delivery);
  CHECK(w.s.get_vendor("acme")->bouncing.empty());
}

TEST_CASE("vendor party: show groups by party; the reply draft quotes the reporter only", "[vendor-party][show]") {
  World w;
  w.deliver(lmtp("v1@acme.example", "psirt@acme.example", "security+1.acme@example.com", "", "acme says affected\r\n"));
  w.deliver(lmtp("x1@evil.example", "mallory@evil.example", "security+1.acme@example.com", "", "mallory was here\r\n"));
  auto d = w.s.get_case(w.case_id);
  REQUIRE(d.ok());
  auto j = cli::to_json(*d);
  std::vector<std::string> parties;
  for (const auto& m : j["messages"]) parties.push_back(m["party"].get<std::string>());
  // In the order received, each with its party.
  CHECK(parties == std::vector<std::string>{"reporter", "vendor:acme", "vendor:acme", "unverified"});
  cli::TextStyle style;
  std::string text = cli::render_case(*d, style);
  auto reporter = text.find("=== Reporter (1 message) ===");
  auto acme = text.find("=== Vendor acme (2 messages) ===");
  auto unverified = text.find("=== Unverified senders (1 message) ===");
  REQUIRE(reporter != std::string::npos);
  REQUIRE(acme != std::string::npos);
  REQUIRE(unverified != std::string::npos);
  CHECK(reporter < acme);
  CHECK(acme < unverified);
  CHECK(text.find("acme says affected") > acme);
  CHECK(text.find("mallory was here") > unverified);
  // The draft quotes rita's report, not the vendor's (or mallory's) later mail.
  std::string draft = cli::reply_template(*d);
  CHECK(draft.find("rita@example.org wrote:") != std::string::npos);
  CHECK(draft.find("acme says affected") == std::string::npos);
  CHECK(draft.find("mallory") == std::string::npos);
  // Nor from an address an analyst made a vendor participant by hand.
  REQUIRE(w.s.add_participant(w.case_id, "vic@vendor.example", "vendor", "ana").ok());
  w.deliver(lmtp("vic1@vendor.example", "vic@vendor.example", "security@example.com", "Subject: [CASE#1] vic\r\n",
                 "vic's notes\r\n"));
  auto after = w.s.get_case(w.case_id);
  REQUIRE(after.ok());
  draft = cli::reply_template(*after);
  CHECK(draft.find("rita@example.org wrote:") != std::string::npos);
  CHECK(draft.find("vic's notes") == std::string::npos);
}
