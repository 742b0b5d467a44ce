// The threading decision without a database: the rules of threading and
// their order, trust, merges, bounces and acknowledgements, asked of
// route_message() with the stored cases kept in memory.
#include <algorithm>
#include <catch2/catch.hpp>
#include <functional>
#include <map>
#include <numeric>
#include <set>

#include "cases/bounce.hpp"
#include "cases/routing.hpp"
#include "mail/address.hpp"

using namespace cased;

namespace {

const RoutingOptions kOptions{"security@example.com", "CASE", "mx.example.com", true};

// The stored cases as route_message() sees them, kept in memory. record()
// writes a decision down the way the store does: a new case, the joined
// cases folded in, the message and its references, the sender verified or
// not, the acknowledgement queued.
class MemoryCases final : public RoutingLookup {
 public:
  struct Message {
    std::string id;
    std::int64_t case_id = 0;
    bool outbound = false;
    std::vector<std::string> refs;
  };

  std::int64_t open_case() {
    merged_into_.push_back(0);
    return static_cast<std::int64_t>(merged_into_.size());
  }
  void add_message(std::string id, std::int64_t case_id, bool outbound = false, std::vector<std::string> refs = {}) {
    messages_.push_back(Message{std::move(id), case_id, outbound, std::move(refs)});
  }
  void verify(std::int64_t case_id, const std::string& address) { verified_[case_id].insert(normalize_address(address)); }
  std::int64_t merged_into(std::int64_t case_id) const { return merged_into_.at(static_cast<std::size_t>(case_id - 1)); }

  std::int64_t record(const std::string& message_id, const RoutingDecision& d) {
    std::int64_t c = d.case_id ? *d.case_id : open_case();
    for (auto other : d.join) {
      merged_into_.at(static_cast<std::size_t>(other - 1)) = c;
      for (auto& m : messages_)
        if (m.case_id == other) m.case_id = c;
      verified_[c].insert(verified_[other].begin(), verified_[other].end());
      verified_.erase(other);
    }
    add_message(message_id, c, false, d.refs);
    if (d.participant && !d.unverified) verified_[c].insert(d.sender);
    if (d.ack.kind == Acknowledgement::Kind::queue) acknowledged_[rate_key(d.ack.address)].push_back(now);
    return c;
  }

  std::size_t questions = 0;
  std::int64_t now = 100000;  // the clock route() and record() use

  std::optional<std::int64_t> resolve_case(std::int64_t id) override {
    ++questions;
    for (int hops = 0; hops < 64; ++hops) {
      if (id < 1 || id > static_cast<std::int64_t>(merged_into_.size())) return std::nullopt;
      if (merged_into(id) == 0) return id;
      id = merged_into(id);
    }
    return std::nullopt;
  }
  std::optional<std::int64_t> outbound_case(const std::string& message_id) override {
    ++questions;
    for (const auto& m : messages_)
      if (m.outbound && m.id == message_id) return m.case_id;
    return std::nullopt;
  }
  std::vector<std::int64_t> cases_of_message(const std::string& message_id) override {
    ++questions;
    std::vector<std::int64_t> out;
    for (const auto& m : messages_)
      if (m.id == message_id) out.push_back(m.case_id);
    return out;
  }
  std::vector<std::int64_t> cases_referencing(const std::string& message_id) override {
    ++questions;
    std::vector<std::int64_t> out;
    for (const auto& m : messages_)
      if (std::find(m.refs.begin(), m.refs.end(), message_id) != m.refs.end()) out.push_back(m.case_id);
    return out;
  }
  bool verified_participant(std::int64_t case_id, const std::string& address) override {
    ++questions;
    auto it = verified_.find(case_id);
    return it != verified_.end() && it->second.count(address) > 0;
  }
  std::set<std::string> verified_people(std::int64_t case_id) override {
    ++questions;
    auto it = verified_.find(case_id);
    return it == verified_.end() ? std::set<std::string>() : it->second;
  }
  std::int64_t all_acknowledgements_since(std::int64_t since) override {
    ++questions;
    std::int64_t n = 0;
    for (const auto& [key, times] : acknowledged_)
      n += std::count_if(times.begin(), times.end(), [&](std::int64_t t) { return t > since; });
    return n;
  }
  std::int64_t acknowledgements_since(const std::string& address, std::int64_t since) override {
    ++questions;
    auto it = acknowledged_.find(rate_key(address));
    if (it == acknowledged_.end()) return 0;
    return std::count_if(it->second.begin(), it->second.end(), [&](std::int64_t t) { return t > since; });
  }

 private:
  std::vector<std::int64_t> merged_into_;  // by case number - 1; 0: not merged
  std::vector<Message> messages_;
  std::map<std::int64_t, std::set<std::string>> verified_;
  std::map<std::string, std::vector<std::int64_t>> acknowledged_;  // by rate key: when
};

bool has_field(const std::string& header, const std::string& name) {
  return header.rfind(name, 0) == 0 || header.find("\n" + name) != std::string::npos;
}

// A message as the intake makes it of these header fields (no crypto); To
// and Subject have defaults unless `more_headers` has them.
PreparedMessage mail(const std::string& id, const std::string& from, const std::string& more_headers = "",
                     const std::string& body = "text\r\n", MessageSource source = MessageSource::ingest) {
  std::string raw = more_headers + "From: " + from + "\r\nMessage-ID: <" + id + ">\r\n";
  if (!has_field(more_headers, "To:")) raw += "To: security@example.com\r\n";
  if (!has_field(more_headers, "Subject:")) raw += "Subject: a report\r\n";
  raw += "\r\n" + body;
  Envelope envelope;
  envelope.source = source;
  return prepare_message(std::move(raw), std::move(envelope));
}

std::string refs(const std::vector<std::string>& ids) {
  std::string field = "References:";
  for (const auto& id : ids) field += " <" + id + ">";
  return field + "\r\n";
}

RoutingDecision route(MemoryCases& cases, const PreparedMessage& msg, bool same_id_stored = false,
                      const RoutingOptions& options = kOptions) {
  return route_message(RoutingInput{msg, msg.parsed.message_id, same_id_stored, cases.now}, options, cases);
}

// Routes and records, as ingest does; returns the case.
std::int64_t deliver(MemoryCases& cases, const PreparedMessage& msg) {
  return cases.record(msg.parsed.message_id, route(cases, msg));
}

bool names(const std::vector<std::int64_t>& list, std::int64_t c) {
  return std::find(list.begin(), list.end(), c) != list.end();
}

}  // namespace

TEST_CASE("routing: the four rules in order, first match wins", "[routing][threading]") {
  MemoryCases cases;
  std::int64_t rita = deliver(cases, mail("r1@x", "rita@example.org"));
  std::int64_t sam = deliver(cases, mail("s1@x", "sam@example.net"));
  REQUIRE(rita != sam);
  std::string tag_rita = "Subject: Re: [CASE#" + std::to_string(rita) + "] more\r\n";
  std::string plus_sam = "Cc: security+" + std::to_string(sam) + "@example.com\r\n";

  SECTION("rule 1: a plus-address beats a subject tag and references") {
    auto d = route(cases, mail("m@x", "rita@example.org", plus_sam + tag_rita + refs({"r1@x"})));
    CHECK(d.case_id == sam);
    CHECK(d.rule == RouteRule::plus_address);
    CHECK(rule_name(d.rule) == "plus-address");
  }
  SECTION("rule 1 over LMTP: the envelope decides, not the headers") {
    auto m = mail("m@x", "rita@example.org", plus_sam, "text\r\n", MessageSource::lmtp);
    m.envelope.recipients = {"security@example.com", "security+" + std::to_string(rita) + "@example.com"};
    auto d = route(cases, m);
    CHECK(d.case_id == rita);
    CHECK(d.rule == RouteRule::plus_address);
    m.envelope.recipients = {"security@example.com"};
    CHECK(route(cases, m).rule == RouteRule::new_case);
  }
  SECTION("rule 1 outside LMTP: Delivered-To comes before To and Cc") {
    auto d = route(cases, mail("m@x", "rita@example.org",
                               "Delivered-To: security+" + std::to_string(rita) + "@example.com\r\n" + plus_sam));
    CHECK(d.case_id == rita);
  }
  SECTION("a plus-address naming no case is the bare alias: the next rule decides") {
    auto d = route(cases, mail("m@x", "rita@example.org", "Cc: security+999@example.com\r\n" + tag_rita));
    CHECK(d.case_id == rita);
    CHECK(d.rule == RouteRule::subject_tag);
    CHECK(rule_name(d.rule) == "subject tag");
  }
  SECTION("rule 2: a subject tag beats references") {
    auto d = route(cases, mail("m@x", "sam@example.net", tag_rita + refs({"s1@x"})));
    CHECK(d.case_id == rita);
    CHECK(d.rule == RouteRule::subject_tag);
  }
  SECTION("rule 2: the outer subject counts when protected headers replaced it") {
    auto m = mail("m@x", "rita@example.org");
    m.parsed.subject = "the real subject";
    m.parsed.outer_subject = "[CASE#" + std::to_string(sam) + "] ...";
    CHECK(route(cases, m).case_id == sam);
  }
  SECTION("rule 3: In-Reply-To") {
    auto d = route(cases, mail("m@x", "rita@example.org", "In-Reply-To: <r1@x>\r\n"));
    CHECK(d.case_id == rita);
    CHECK(d.rule == RouteRule::references);
    CHECK(d.refs == std::vector<std::string>{"r1@x"});
  }
  SECTION("rule 3: a parent that arrives after its reply") {
    std::int64_t child = deliver(cases, mail("child@x", "rita@example.org", refs({"late@x"})));
    CHECK(child != rita);
    auto d = route(cases, mail("late@x", "rita@example.org"));
    CHECK(d.case_id == child);
    CHECK(d.rule == RouteRule::references);
  }
  SECTION("rule 3: a sibling's ancestor") {
    deliver(cases, mail("r2@x", "rita@example.org", refs({"root@x", "r1@x"})));
    CHECK(route(cases, mail("m@x", "rita@example.org", refs({"root@x"}))).case_id == rita);
  }
  SECTION("rule 3: an earlier message with the same Message-ID and other bytes") {
    auto again = mail("s1@x", "sam@example.net", "", "other text\r\n");
    CHECK(route(cases, again, /*same_id_stored=*/true).case_id == sam);
    CHECK(route(cases, again, /*same_id_stored=*/false).rule == RouteRule::new_case);
  }
  SECTION("rule 4: nothing matches, a new case") {
    auto d = route(cases, mail("m@x", "rita@example.org", refs({"unknown@x"})));
    CHECK_FALSE(d.case_id);
    CHECK(d.rule == RouteRule::new_case);
    CHECK_FALSE(d.unverified);
    CHECK(d.participant);
    CHECK(d.join.empty());
    CHECK(d.not_merged.empty());
  }
}

TEST_CASE("routing: a merged case is reached through the case it was merged into", "[routing][threading]") {
  MemoryCases cases;
  std::int64_t first = cases.open_case(), second = cases.open_case();
  cases.add_message("a@x", first);
  cases.verify(first, "rita@example.org");
  cases.verify(second, "rita@example.org");
  RoutingDecision merge;
  merge.case_id = first;
  merge.join = {second};
  cases.record("b@x", merge);
  auto d = route(cases, mail("m@x", "rita@example.org", "To: security+" + std::to_string(second) + "@example.com\r\n"));
  CHECK(d.case_id == first);
  CHECK_FALSE(d.unverified);
}

TEST_CASE("routing: a stranger naming a case's number or a Message-ID is unverified and joins nothing",
          "[routing][trust]") {
  MemoryCases cases;
  std::int64_t rita = deliver(cases, mail("r1@x", "rita@example.org"));
  std::int64_t mallory = deliver(cases, mail("own@x", "mallory@evil.example"));
  std::string number = std::to_string(rita);

  for (const std::string& header : {"To: security+" + number + "@example.com\r\n",
                                    "Subject: [CASE#" + number + "]\r\n", refs({"r1@x"})}) {
    INFO(header);
    auto d = route(cases, mail("m@x", "throwaway@evil.example", header));
    CHECK(d.case_id == rita);
    CHECK(d.unverified);
    CHECK(d.participant);  // listed, as not verified
    CHECK(d.join.empty());
    CHECK(no_pin_reason(d) == "the sender is not a verified participant");
    CHECK(d.ack.kind == Acknowledgement::Kind::none);  // not a new case
  }
  SECTION("References naming two cases: one of them, the same in any order, nothing merged") {
    auto d1 = route(cases, mail("t1@x", "throwaway@evil.example", refs({"own@x", "r1@x"})));
    auto d2 = route(cases, mail("t2@x", "throwaway@evil.example", refs({"r1@x", "own@x"})));
    CHECK(d1.case_id == std::min(rita, mallory));
    CHECK(d2.case_id == d1.case_id);
    CHECK(d1.unverified);
    CHECK(d1.join.empty());
    CHECK(d1.not_merged == std::vector<std::int64_t>{std::max(rita, mallory)});
  }
  SECTION("the same from the attacker's own address: her own case, still not merged") {
    auto d = route(cases, mail("t1@x", "mallory@evil.example", refs({"r1@x", "own@x"})));
    CHECK(d.case_id == mallory);
    CHECK_FALSE(d.unverified);
    CHECK(d.join.empty());
    CHECK(names(d.not_merged, rita));
  }
  SECTION("an empty From or the alias itself is nobody's") {
    for (const char* from : {"", "security@example.com", "Security+7@example.com"}) {
      INFO(from);
      auto d = route(cases, mail("m@x", from, refs({"r1@x"})));
      CHECK(d.case_id == rita);
      CHECK(d.unverified);
      CHECK_FALSE(d.participant);
    }
  }
}

TEST_CASE("routing: a verified participant is verified by every route", "[routing][trust]") {
  MemoryCases cases;
  std::int64_t rita = deliver(cases, mail("r1@x", "rita@example.org"));
  // A recipient of the case's outbound mail, as the store answers it.
  cases.verify(rita, "vendor@example.com");
  std::string number = std::to_string(rita);
  for (const char* from : {"Rita@Example.ORG", "vendor@example.com"})
    for (const std::string& header : {"To: security+" + number + "@example.com\r\n",
                                      "Subject: [CASE#" + number + "]\r\n", refs({"r1@x"})}) {
      INFO(from << " " << header);
      auto d = route(cases, mail("m@x", from, header));
      CHECK(d.case_id == rita);
      CHECK_FALSE(d.unverified);
      CHECK(no_pin_reason(d).empty());
    }
}

TEST_CASE("routing: a From that failed DMARC is never verified, pins nothing and is not acknowledged",
          "[routing][trust]") {
  MemoryCases cases;
  std::int64_t rita = deliver(cases, mail("r1@x", "rita@example.org"));
  const std::string fail = "Authentication-Results: mx.example.com; dkim=pass; spf=pass; dmarc=fail\r\n";

  SECTION("opening a case") {
    auto d = route(cases, mail("f1@x", "victim@example.net", fail));
    CHECK(d.forged);
    REQUIRE(d.auth);
    CHECK(d.auth->dmarc == "fail");
    CHECK_FALSE(d.case_id);
    CHECK(d.unverified);
    CHECK(no_pin_reason(d) == "its From failed DMARC");
    CHECK(d.ack.kind == Acknowledgement::Kind::forged_from);
    CHECK(d.ack.address.empty());
  }
  SECTION("in the name of a verified participant, by every route") {
    for (const std::string& header : {"To: security+" + std::to_string(rita) + "@example.com\r\n",
                                      "Subject: [CASE#" + std::to_string(rita) + "]\r\n", refs({"r1@x"})}) {
      INFO(header);
      auto d = route(cases, mail("f1@x", "rita@example.org", fail + header));
      CHECK(d.case_id == rita);
      CHECK(d.unverified);
      CHECK(no_pin_reason(d) == "its From failed DMARC");
    }
  }
  SECTION("a forged From joins no split thread") {
    std::int64_t child = deliver(cases, mail("c1@x", "rita@example.org", refs({"mid@x"})));
    auto d = route(cases, mail("mid@x", "rita@example.org", fail + refs({"r1@x"})));
    CHECK(d.case_id == std::min(rita, child));
    CHECK(d.join.empty());
    CHECK(d.not_merged.size() == 1);
  }
  SECTION("only the trusted server's verdict counts") {
    for (const char* other : {"Authentication-Results: evil.example; dmarc=fail\r\n",
                              "Authentication-Results: mx.example.com; dmarc=pass\r\n"}) {
      auto d = route(cases, mail("p1@x", "victim@example.net", other));
      CHECK_FALSE(d.forged);
      CHECK_FALSE(d.unverified);
      CHECK(d.ack.kind == Acknowledgement::Kind::queue);
    }
    RoutingOptions trust_none = kOptions;
    trust_none.authserv_id = "";
    auto d = route(cases, mail("p1@x", "victim@example.net", fail), false, trust_none);
    CHECK_FALSE(d.auth);
    CHECK_FALSE(d.forged);
  }
}

TEST_CASE("routing: a thread split by arrival order is joined only with the same verified people",
          "[routing][merge]") {
  MemoryCases cases;
  // A grandchild first (it names only its parent), then the root: two cases.
  std::int64_t grandchild = deliver(cases, mail("m2@x", "rita@example.org", refs({"m1@x"})));
  std::int64_t root = deliver(cases, mail("m0@x", "rita@example.org"));
  REQUIRE(grandchild != root);

  SECTION("the middle message from the same person joins them into the lowest") {
    auto d = route(cases, mail("m1@x", "rita@example.org", refs({"m0@x"})));
    CHECK(d.case_id == std::min(grandchild, root));
    CHECK(d.join == std::vector<std::int64_t>{std::max(grandchild, root)});
    CHECK(d.not_merged.empty());
    CHECK_FALSE(d.unverified);
  }
  SECTION("from another person: one of them, not merged") {
    auto d = route(cases, mail("m1@x", "carl@example.net", refs({"m0@x"})));
    CHECK(d.case_id == std::min(grandchild, root));
    CHECK(d.join.empty());
    CHECK(d.not_merged == std::vector<std::int64_t>{std::max(grandchild, root)});
    CHECK(d.unverified);
  }
  SECTION("the same person, but one case has another verified participant: not merged") {
    cases.verify(root, "vendor@example.com");
    auto d = route(cases, mail("m1@x", "rita@example.org", refs({"m0@x"})));
    CHECK(d.join.empty());
    CHECK(d.not_merged.size() == 1);
    CHECK_FALSE(d.unverified);
  }
  SECTION("verified in only one of them: that one, not merged") {
    cases.verify(root, "carl@example.net");
    auto d = route(cases, mail("m1@x", "carl@example.net", refs({"m0@x"})));
    CHECK(d.case_id == root);
    CHECK_FALSE(d.unverified);
    CHECK(d.join.empty());
    CHECK(d.not_merged == std::vector<std::int64_t>{grandchild});
  }
}

TEST_CASE("routing: a thread gives one case whatever the arrival order, without a database",
          "[routing][threading]") {
  // Every tree shape of 1..4 messages (parent[i] < i), every arrival order,
  // with References carrying the whole chain and with only In-Reply-To.
  int runs = 0;
  for (int n = 1; n <= 4; ++n) {
    std::vector<int> parent(static_cast<std::size_t>(n), -1);
    std::function<void(int)> shapes = [&](int i) {
      if (i < n) {
        for (int p = 0; p < i; ++p) {
          parent[static_cast<std::size_t>(i)] = p;
          shapes(i + 1);
        }
        return;
      }
      for (bool full_chain : {true, false}) {
        std::vector<int> order(static_cast<std::size_t>(n));
        std::iota(order.begin(), order.end(), 0);
        do {
          ++runs;
          MemoryCases cases;
          auto id = [](int k) { return "m" + std::to_string(k) + "@x"; };
          std::vector<std::int64_t> landed;
          for (int k : order) {
            std::string header;
            int up = parent[static_cast<std::size_t>(k)];
            if (up >= 0) {
              header = "In-Reply-To: <" + id(up) + ">\r\n";
              std::vector<std::string> chain;
              for (int a = up; full_chain && a >= 0; a = parent[static_cast<std::size_t>(a)])
                chain.insert(chain.begin(), id(a));
              if (!chain.empty()) header += refs(chain);
            }
            landed.push_back(deliver(cases, mail(id(k), "rita@example.org", header)));
          }
          std::set<std::int64_t> now_in;
          for (auto c : landed) now_in.insert(*cases.resolve_case(c));
          INFO("run " << runs << " n=" << n << " full_chain=" << full_chain);
          CHECK(now_in.size() == 1);
        } while (std::next_permutation(order.begin(), order.end()));
      }
    };
    shapes(1);
  }
  CHECK(runs == 2 * (1 + 2 + 12 + 144));
}

TEST_CASE("routing: a bounce of our mail goes to its case, marks the recipient, gets no acknowledgement",
          "[routing][bounce]") {
  MemoryCases cases;
  std::int64_t rita = deliver(cases, mail("r1@x", "rita@example.org"));
  cases.add_message("cased.1.reply@example.com", rita, /*outbound=*/true);
  const std::string dsn_header =
      "Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
      "Content-Type: multipart/report; report-type=delivery-status; boundary=\"dsn\"\r\n";
  auto dsn_body = [](const std::string& quoted) {
    return "--dsn\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
           "--dsn\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\n"
           "Final-Recipient: rfc822; Rita@Example.org\r\nOriginal-Recipient: rfc822;rita@example.org\r\n"
           "Action: failed\r\n"
           "--dsn\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: security@example.com\r\n"
           "Message-ID: <" + quoted + ">\r\n--dsn--\r\n";
  };

  SECTION("a delivery status notification quoting our Message-ID") {
    auto d = route(cases, mail("dsn1@mx.example.org", "MAILER-DAEMON@mx.example.org", dsn_header,
                               dsn_body("cased.1.reply@example.com")));
    CHECK(d.case_id == rita);
    CHECK(d.rule == RouteRule::bounce);
    REQUIRE(d.bounce);
    CHECK(d.bounce->message_id == "cased.1.reply@example.com");
    CHECK(d.bounce->recipients == std::vector<std::string>{"rita@example.org"});
    CHECK_FALSE(d.unverified);
    CHECK_FALSE(d.participant);
    CHECK(no_pin_reason(d) == "it is a bounce");
    CHECK(d.ack.kind == Acknowledgement::Kind::none);
  }
  SECTION("the bounce rule comes before a subject tag naming another case") {
    std::int64_t other = deliver(cases, mail("o1@x", "other@example.net"));
    auto d = route(cases, mail("dsn1@mx.example.org", "postmaster@mx.example.org",
                               dsn_header + "Subject: [CASE#" + std::to_string(other) + "] failed\r\n",
                               dsn_body("cased.1.reply@example.com")));
    CHECK(d.case_id == rita);
  }
  SECTION("quoting only an inbound message is no bounce of ours: a new case, no acknowledgement") {
    auto d = route(cases, mail("dsn1@mx.example.org", "MAILER-DAEMON@mx.example.org", dsn_header, dsn_body("r1@x")));
    CHECK_FALSE(d.bounce);
    CHECK(d.rule == RouteRule::new_case);
    CHECK(d.ack.kind == Acknowledgement::Kind::none);
  }
  SECTION("a null envelope sender marks a plain message as a bounce") {
    auto m = mail("dsn1@mx.example.org", "someone@mx.example.org", "",
                  "Sorry.\r\n\r\nMessage-ID: <cased.1.reply@example.com>\r\n");
    m.envelope.mail_from = "";
    auto d = route(cases, m);
    CHECK(d.rule == RouteRule::bounce);
    CHECK(d.bounce->recipients.empty());
  }
}

TEST_CASE("bounce: what a report quotes and whom it failed to reach", "[routing][bounce]") {
  CHECK(header_end("A: b\r\n\r\nbody") == std::optional<std::size_t>(8));
  CHECK(header_end("A: b\n\nbody") == std::optional<std::size_t>(6));
  CHECK_FALSE(header_end("A: b\r\nno body"));
  // A person's mail quoting a Message-ID is no bounce.
  CHECK_FALSE(bounce_info(mail("p@x", "rita@example.org", "", "Message-ID: <a@x>\r\n")));
  // A robot's mail quoting nothing is none either.
  CHECK_FALSE(bounce_info(mail("p@x", "mailer-daemon@example.org", "", "Final-Recipient: rfc822; a@b.c\r\n")));
  std::string many = "Final-Recipient: rfc822; a@b.c\r\nFinal-Recipient: rfc822; A@B.C\r\n";
  for (int i = 0; i < 40; ++i) many += "Message-ID: <q" + std::to_string(i) + "@x>\r\n";
  auto info = bounce_info(mail("p@x", "mailer-daemon@example.org", "", many));
  REQUIRE(info);
  CHECK(info->quoted_ids.size() == 16);
  CHECK(info->quoted_ids.front() == "q0@x");
  CHECK(info->recipients == std::vector<std::string>{"a@b.c"});
}

TEST_CASE("routing: every new case is acknowledged, once, up to a daily cap per mailbox", "[routing][ack]") {
  MemoryCases cases;
  RoutingOptions three = kOptions;
  three.ack_per_day = 3;
  auto first = route(cases, mail("v1@x", "vic@example.net", "Reply-To: Vic <vic+reports@example.net>\r\n"), false, three);
  CHECK(first.ack.kind == Acknowledgement::Kind::queue);
  CHECK(first.ack.address == "vic+reports@example.net");
  cases.record("v1@x", first);
  // A second and a third report in the same minute: each its own case, each acknowledged.
  for (const char* id : {"v2@x", "v3@x"}) {
    auto d = route(cases, mail(id, "VIC@Example.NET"), false, three);
    CHECK_FALSE(d.case_id);
    CHECK(d.ack.kind == Acknowledgement::Kind::queue);
    CHECK(d.ack.address == "vic@example.net");
    cases.record(id, d);
  }
  // Not a new case: nothing to acknowledge, however often it comes (an
  // auto-responder answering our acknowledgement quotes its Message-ID).
  CHECK(route(cases, mail("v9@x", "vic@example.net", refs({"v1@x"})), false, three).ack.kind ==
        Acknowledgement::Kind::none);
  // The fourth new case in 24 hours: the cap (every variant of the mailbox counts).
  auto fourth = route(cases, mail("v4@x", "vic+other@example.net"), false, three);
  CHECK(fourth.ack.kind == Acknowledgement::Kind::capped);
  CHECK(fourth.ack.address == "vic+other@example.net");
  cases.record("v4@x", fourth);
  // Someone else is not held back by vic's cap.
  CHECK(route(cases, mail("o1@x", "olga@example.net"), false, three).ack.kind == Acknowledgement::Kind::queue);
  // A day after the first three, the window has moved on.
  cases.now += 86400;
  CHECK(route(cases, mail("v5@x", "vic@example.net"), false, three).ack.kind == Acknowledgement::Kind::queue);
  // Automatic mail, and acknowledgements turned off.
  CHECK(route(cases, mail("w1@x", "w@example.net", "Auto-Submitted: auto-generated\r\n")).ack.kind ==
        Acknowledgement::Kind::none);
  RoutingOptions quiet = kOptions;
  quiet.acknowledge = false;
  CHECK(route(cases, mail("w2@x", "w@example.net"), false, quiet).ack.kind == Acknowledgement::Kind::none);
}

TEST_CASE("routing: all acknowledgements together are capped per hour", "[routing][ack]") {
  MemoryCases cases;
  RoutingOptions few = kOptions;
  few.ack_per_hour = 3;
  // Mail forged from many addresses (no DMARC to catch it): three get an
  // acknowledgement, the fourth in the hour none, whoever it names.
  for (int i = 0; i < 4; ++i) {
    std::string id = "f" + std::to_string(i) + "@x", from = "victim" + std::to_string(i) + "@example.net";
    auto d = route(cases, mail(id, from), false, few);
    CHECK_FALSE(d.case_id);  // stored as a new case all the same
    CHECK(d.ack.kind == (i < 3 ? Acknowledgement::Kind::queue : Acknowledgement::Kind::busy));
    cases.record(id, d);
  }
  cases.now += 3601;  // an hour on
  CHECK(route(cases, mail("f9@x", "victim9@example.net"), false, few).ack.kind == Acknowledgement::Kind::queue);
}

TEST_CASE("routing: a message naming 40000 References asks a bounded number of questions", "[routing][trust]") {
  MemoryCases cases;
  std::int64_t rita = deliver(cases, mail("r1@x", "rita@example.org"));
  auto m = mail("m1@x", "mallory@evil.example");
  for (int i = 0; i < 40000; ++i) m.parsed.references.push_back("junk" + std::to_string(i) + "@evil.example");
  m.parsed.references.push_back("r1@x");  // the parent comes last, as a mail client writes it
  m.parsed.references.push_back("r1@x");  // repeated
  cases.questions = 0;
  auto d = route(cases, m);
  CHECK(d.case_id == rita);
  CHECK(d.refs.size() == 256);
  CHECK(d.refs.back() == "r1@x");
  // Two per reference kept, one for this message's own id, then per case found.
  CHECK(cases.questions <= 2 * 256 + 1 + 4);
}
