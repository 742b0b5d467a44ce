// Coordinating a case with vendors: notifications (one mail per vendor, to
// its contacts only, encrypted to its key, all or nothing), vendor status,
// the outreach log, what merge and split carry, and the digest's vendors
// section. INSECURE throwaway keys made at test time in a temp GNUPGHOME.
#include <catch2/catch.hpp>
#include <stdlib.h>

#include <fmt/format.h>

#include <filesystem>

#include "../store_access.hpp"
#include "core/util.hpp"
#include "crypto/crypto.hpp"
#include "gpg_home.hpp"
#include "mail/mime.hpp"
#include "outbound/outbox.hpp"
#include "report/digest.hpp"
#include "store/store.hpp"

using namespace cased;

namespace {

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char tmpl[] = "/tmp/cased-coord-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const char* name) const { return (path / name).string(); }
};

testing::GpgHome& gpg_home() {
  static testing::GpgHome home({"security@example.com", "psirt@acme.example", "sec@beta.example"});
  return home;
}

Store open_store(const TempDir& dir) {
  auto s = Store::open(dir.file("cases.db"), StoreOptions("security@example.com", "CASE"));
  REQUIRE(s.ok());
  return std::move(*s);
}

std::int64_t new_case(Store& s, const std::string& msgid = "r1@example.org") {
  PreparedMessage p;
  p.raw = "From: Rita <rita@example.org>\r\nMessage-ID: <" + msgid +
          ">\r\nSubject: login bypass in widget\r\n\r\nzebra42 details\r\n";
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

std::string fpr_of(Crypto& crypto, const std::string& address) {
  auto keys = crypto.keys_for(address);
  REQUIRE(keys.size() == 1);
  return keys.front().fingerprint;
}

Vendor vendor(const std::string& name, std::vector<std::string> contacts, std::optional<std::string> key) {
  Vendor v;
  v.name = name;
  v.contacts = std::move(contacts);
  v.key = std::move(key);
  return v;
}

std::int64_t count(Store& s, const std::string& sql) {
  auto st = StoreTestAccess::db(s).prepare(sql);
  REQUIRE(st.step());
  return st.int64(0);
}

void exec(Store& s, const std::string& sql) { StoreTestAccess::db(s).exec(sql); }

OutboxOptions options() {
  OutboxOptions o;
  o.alias = "security@example.com";
  return o;
}

// A case with vendors acme and beta (keys) and gamma (no key) in the book.
struct World {
  TempDir dir;
  Store s = open_store(dir);
  Crypto crypto{gpg_home().dir.string()};
  Outbox outbox{s, crypto, options()};
  std::int64_t case_id = new_case(s);
  Vendor acme = vendor("acme", {"psirt@acme.example", "cert@acme.example"}, fpr_of(crypto, "psirt@acme.example"));
  Vendor beta = vendor("beta", {"sec@beta.example"}, fpr_of(crypto, "sec@beta.example"));
  Vendor gamma = vendor("gamma", {"gamma@gamma.example"}, std::nullopt);
  World() {
    for (const auto* v : {&acme, &beta, &gamma}) REQUIRE(s.save_vendor(*v, VendorWrite::add, "test", "ana").ok());
  }
  Result<std::vector<Queued>> notify(std::vector<Vendor> vendors, bool sign_only = false) {
    return outbox.queue_notifications({case_id, "Please look at the widget parser.", {}, sign_only, "ana"}, vendors);
  }
};

}  // namespace

TEST_CASE("notify: one mail per vendor, to its contacts only, with its Reply-To", "[coordination]") {
  World w;
  auto q = w.notify({w.acme, w.beta});
  REQUIRE(q.ok());
  REQUIRE(q->size() == 2);
  auto rows = list_outbox(w.s);
  REQUIRE(rows.ok());
  std::vector<OutboxRow> notes;
  for (const auto& r : *rows)
    if (r.kind == "notify") notes.push_back(r);
  REQUIRE(notes.size() == 2);
  CHECK(notes[0].to == w.acme.contacts);
  CHECK(notes[1].to == std::vector<std::string>{"sec@beta.example"});
  auto raw = [&](std::int64_t id) {
    auto item = OutboxQueue(w.s).item(id);
    REQUIRE(item.ok());
    return item->raw;
  };
  std::string a = raw((*q)[0].outbox_id), b = raw((*q)[1].outbox_id);
  CHECK(a.find("Reply-To: security+1.acme@example.com\r\n") != std::string::npos);
  CHECK(b.find("Reply-To: security+1.beta@example.com\r\n") != std::string::npos);
  CHECK(a.find("Subject: [CASE#1] Encrypted message\r\n") != std::string::npos);
  CHECK(a.find("multipart/encrypted") != std::string::npos);
  // Nothing of the report and no reporter address, and no other vendor.
  for (const auto* r : {&a, &b})
    for (const char* word : {"rita@example.org", "login bypass", "zebra42", "widget parser"})
      CHECK(r->find(word) == std::string::npos);
  CHECK(a.find("beta") == std::string::npos);
  CHECK(b.find("acme") == std::string::npos);
  // The outbound messages belong to each vendor's party.
  CHECK(count(w.s, "SELECT count(*) FROM messages WHERE party = 'vendor:acme' AND direction = 'out'") == 1);
  CHECK(count(w.s, "SELECT count(*) FROM messages WHERE party = 'vendor:beta' AND direction = 'out'") == 1);
  CHECK(count(w.s, "SELECT count(*) FROM events WHERE kind = 'notify'") == 2);
}

TEST_CASE("notify: the vendors are attached, notified, unknown, and verified participants but not reporters",
          "[coordination]") {
  World w;
  REQUIRE(w.notify({w.acme}).ok());
  auto d = w.s.get_case(w.case_id);
  REQUIRE(d.ok());
  REQUIRE(d->vendors.size() == 1);
  const auto& v = d->vendors[0];
  CHECK(v.name == "acme");
  CHECK(v.notified.has_value());
  CHECK(v.last_contact == v.notified);
  CHECK_FALSE(v.last_reply.has_value());
  REQUIRE(v.status.size() == 1);
  CHECK(v.status[0].state == "unknown");
  CHECK(v.status[0].cve.empty());
  REQUIRE(v.outreach.size() == 1);
  CHECK(v.outreach[0].via == "mail");
  CHECK(v.outreach[0].outbox.has_value());
  CHECK(v.outreach[0].outbox_status == SendStatus::queued);
  int vendors = 0;
  for (const auto& p : d->participants)
    if (p.role == "vendor") {
      ++vendors;
      CHECK(p.verified);
    }
  CHECK(vendors == 2);
  auto reporters = OutboxQueue(w.s).verified_reporters(w.case_id);
  REQUIRE(reporters.ok());
  CHECK(*reporters == std::vector<std::string>{"rita@example.org"});
}

TEST_CASE("notify: a vendor without a key refuses the whole batch, naming it; nothing is queued", "[coordination]") {
  World w;
  auto q = w.notify({w.acme, w.gamma});
  REQUIRE_FALSE(q.ok());
  CHECK(q.error().code == Errc::refused);
  CHECK(q.error().message.find("gamma") != std::string::npos);
  CHECK(q.error().message.find("acme") == std::string::npos);
  CHECK(count(w.s, "SELECT count(*) FROM outbox WHERE kind = 'notify'") == 0);
  CHECK(count(w.s, "SELECT count(*) FROM case_vendors") == 0);
  CHECK(count(w.s, "SELECT count(*) FROM vendor_outreach") == 0);
  // --sign-only sends it signed in clear, still to gamma's contacts only.
  auto signed_only = w.notify({w.gamma}, true);
  REQUIRE(signed_only.ok());
  CHECK_FALSE(signed_only->at(0).encrypted);
  // Files go only inside the encryption.
  auto with_file = w.outbox.queue_notifications(
      {w.case_id, "text", {compose::Part{"poc.txt", "text/plain", "x"}}, true, "ana"}, {w.gamma});
  REQUIRE_FALSE(with_file.ok());
  CHECK(with_file.error().code == Errc::invalid);
}

TEST_CASE("notify: a merged case is refused", "[coordination]") {
  World w;
  std::int64_t other = new_case(w.s, "r2@example.org");
  REQUIRE(w.s.merge_case(w.case_id, other, "ana").ok());
  auto q = w.notify({w.acme});
  REQUIRE_FALSE(q.ok());
  CHECK(q.error().message.find("merged") != std::string::npos);
  CHECK(count(w.s, "SELECT count(*) FROM outbox WHERE kind = 'notify'") == 0);
}

TEST_CASE("vendor status needs the vendor attached; per CVE with a statement", "[coordination]") {
  World w;
  auto refused = w.s.set_vendor_status(w.case_id, {"acme", "", "affected", std::nullopt}, "ana");
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == Errc::refused);
  CHECK(refused.error().message.find("not attached") != std::string::npos);
  REQUIRE(w.notify({w.acme}).ok());
  REQUIRE(w.s.set_vendor_status(w.case_id, {"acme", "", "affected", std::nullopt}, "ana").ok());
  REQUIRE(w.s.set_vendor_status(w.case_id, {"acme", "CVE-2026-12345", "fixed", "Fixed in 2.1."}, "ana").ok());
  auto d = w.s.get_case(w.case_id);
  REQUIRE(d.ok());
  REQUIRE(d->vendors.at(0).status.size() == 2);
  CHECK(d->vendors[0].status[0].state == "affected");
  CHECK(d->vendors[0].status[1].cve == "CVE-2026-12345");
  CHECK(d->vendors[0].status[1].statement == std::optional<std::string>("Fixed in 2.1."));
  CHECK(count(w.s, "SELECT count(*) FROM events WHERE kind = 'vendor-status'") == 2);
}

TEST_CASE("outreach by hand attaches a vendor of the book and is logged", "[coordination]") {
  World w;
  auto unknown = w.s.add_outreach(w.case_id, {"nobody", "phone", "called"}, "ana");
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().code == Errc::not_found);
  REQUIRE(w.s.add_outreach(w.case_id, {"beta", "phone", "Called the PSIRT line; voice mail."}, "ana").ok());
  auto d = w.s.get_case(w.case_id);
  REQUIRE(d.ok());
  REQUIRE(d->vendors.size() == 1);
  CHECK_FALSE(d->vendors[0].notified.has_value());
  CHECK(d->vendors[0].last_contact.has_value());
  REQUIRE(d->vendors[0].outreach.size() == 1);
  CHECK(d->vendors[0].outreach[0].via == "phone");
  CHECK_FALSE(d->vendors[0].outreach[0].outbox.has_value());
  CHECK(w.s.set_vendor_status(w.case_id, {"beta", "", "investigating", std::nullopt}, "ana").ok());
  CHECK(count(w.s, "SELECT count(*) FROM events WHERE kind = 'outreach'") == 1);
}

TEST_CASE("merge carries the vendors, their status and the outreach log; split the notifications moved",
          "[coordination]") {
  World w;
  REQUIRE(w.notify({w.acme, w.beta}).ok());
  std::int64_t other = new_case(w.s, "r2@example.org");
  REQUIRE(w.s.add_outreach(other, {"acme", "phone", "called"}, "ana").ok());
  REQUIRE(w.s.set_vendor_status(other, {"acme", "", "affected", std::nullopt}, "ana").ok());
  REQUIRE(w.s.merge_case(w.case_id, other, "ana").ok());
  CHECK(count(w.s, "SELECT count(*) FROM case_vendors WHERE case_id = 1") == 0);
  CHECK(count(w.s, "SELECT count(*) FROM vendor_outreach WHERE case_id = 1") == 0);
  auto d = w.s.get_case(other);
  REQUIRE(d.ok());
  REQUIRE(d->vendors.size() == 2);
  for (const auto& v : d->vendors) {
    CHECK(v.notified.has_value());  // acme's notification joins the phone call
    if (v.name == "acme") {
      CHECK(v.outreach.size() == 2);
      CHECK(v.status.at(0).state == "affected");  // the newer status
    }
  }
  // Split beta's notification off: its outreach row and beta go with it.
  std::int64_t beta_msg = count(w.s, "SELECT id FROM messages WHERE party = 'vendor:beta'");
  std::int64_t first_in = count(w.s, "SELECT min(id) FROM messages WHERE direction = 'in'");
  auto split = w.s.split_case(other, {beta_msg, first_in}, "ana");
  REQUIRE(split.ok());
  auto n = w.s.get_case(*split);
  REQUIRE(n.ok());
  REQUIRE(n->vendors.size() == 1);
  CHECK(n->vendors[0].name == "beta");
  CHECK(n->vendors[0].outreach.size() == 1);
}

TEST_CASE("digest: vendors silent since their notification, and bouncing contacts", "[coordination]") {
  World w;
  REQUIRE(w.notify({w.acme, w.beta}).ok());
  std::int64_t now = now_unix(), old = now - 10 * 86400;
  exec(w.s, "UPDATE vendor_outreach SET at = " + std::to_string(old));
  exec(w.s, "UPDATE case_vendors SET notified = " + std::to_string(old));
  // beta answered after the notification; acme did not.
  exec(w.s, "UPDATE case_vendors SET last_reply = " + std::to_string(old + 3600) + " WHERE vendor = 'beta'");
  auto alerts = w.s.vendor_alerts(now - 7 * 86400, 20);
  REQUIRE(alerts.ok());
  REQUIRE(alerts->silent.size() == 1);
  CHECK(alerts->silent_total == 1);
  CHECK(alerts->silent[0].vendor == "acme");
  CHECK(alerts->silent[0].waiting_since == old);
  // Notified two days ago only: not yet.
  auto fresh = w.s.vendor_alerts(now - 12 * 86400, 20);
  REQUIRE(fresh.ok());
  CHECK(fresh->silent.empty());
  // An answer an analyst recorded (a phone call) counts as one.
  REQUIRE(w.s.set_vendor_status(w.case_id, {"acme", "", "investigating", std::nullopt}, "ana").ok());
  CHECK(w.s.vendor_alerts(now - 7 * 86400, 20)->silent.empty());
  REQUIRE(w.s.set_vendor_status(w.case_id, {"acme", "", "unresponsive", std::nullopt}, "ana").ok());
  CHECK(w.s.vendor_alerts(now - 7 * 86400, 20)->silent.size() == 1);

  exec(w.s, "UPDATE vendor_contacts SET bouncing_since = 1000 WHERE address = 'cert@acme.example'");
  exec(w.s, "UPDATE vendor_outreach SET delivery = 'bounced', delivery_detail = 'sec@beta.example: 550' "
            "WHERE vendor = 'beta'");
  auto b = w.s.vendor_alerts(now - 7 * 86400, 20);
  REQUIRE(b.ok());
  REQUIRE(b->bouncing.size() == 2);
  CHECK(b->bouncing_total == 2);
  CHECK(b->bouncing[0].address == "cert@acme.example");
  CHECK_FALSE(b->bouncing[0].case_id.has_value());
  CHECK(b->bouncing[1].case_id == std::optional<std::int64_t>(w.case_id));

  auto d = build_digest(w.s, 7);
  REQUIRE(d.ok());
  std::string text = render_digest(*d, "CASE");
  CHECK(text.find("Vendors notified without a reply (1)") != std::string::npos);
  CHECK(text.find("acme notified 10d ago, no reply yet") != std::string::npos);
  CHECK(text.find("Vendor contacts bouncing (2)") != std::string::npos);
  std::string bare = render_digest_bare(*d, "CASE");
  CHECK(bare.find("acme") == std::string::npos);
  CHECK(bare.find("Vendors: 1 without a reply, 2 bouncing") != std::string::npos);
  auto j = digest_json(*d);
  CHECK(j["vendors"]["totals"]["silent"] == 1);
  CHECK(j["vendors"]["silent"][0]["vendor"] == "acme");
}

TEST_CASE("digest: the vendors section is summarised past 20", "[coordination]") {
  World w;
  std::vector<Vendor> many;
  for (int i = 0; i < 25; ++i) {
    Vendor v = vendor(fmt::format("v{:02}", i), {fmt::format("sec@v{}.example", i)}, std::nullopt);
    REQUIRE(w.s.save_vendor(v, VendorWrite::add, "test", "ana").ok());
    many.push_back(v);
  }
  REQUIRE(w.notify(many, true).ok());
  exec(w.s, "UPDATE vendor_outreach SET at = 1000");
  auto d = build_digest(w.s, 7);
  REQUIRE(d.ok());
  CHECK(d->vendors.silent_total == 25);
  CHECK(d->vendors.silent.size() == 20);
  CHECK(render_digest(*d, "CASE").find("... and 5 more") != std::string::npos);
}
