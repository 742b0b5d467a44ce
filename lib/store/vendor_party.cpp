// Coordinating with vendors as mail arrives (schema 17): the questions
// routing asks about a case's vendors, the vendor's reply recorded, the
// party of our own mail, and what a delivery report says of a
// notification. Members of Store (store.hpp); the rules themselves are
// decide_party() in cases/routing.cpp and cases/bounce.cpp.
#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <string_view>

#include "cases/vendor_address.hpp"
#include "core/util.hpp"
#include "mail/address.hpp"
#include "store/store.hpp"
#include "store/store_rows.hpp"

namespace cased {

using detail::parse_json_list;

std::string message_party(const MessageView& m) {
  if (m.party && !m.party->empty()) return *m.party;
  return m.unverified ? "unverified" : "reporter";
}

namespace {

// Rows of case_vendors that may count for a case: its own, and those of
// cases merged into another (the caller follows those to their case).
// The schema that has the tables below (a store opened at an older one for
// its tests has none of them).
constexpr int kCoordinationSchema = 17;

constexpr const char* kThisOrMerged =
    "(cv.case_id = ?2 OR EXISTS (SELECT 1 FROM cases c WHERE c.id = cv.case_id AND c.merged_into IS NOT NULL))";

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

// The addresses joined() wrote.
std::vector<std::string> split_joined(std::string_view s) {
  std::vector<std::string> out;
  while (!s.empty()) {
    auto sep = s.find(", ");
    out.emplace_back(s.substr(0, sep));
    s = sep == std::string_view::npos ? std::string_view() : s.substr(sep + 2);
  }
  return out;
}

}  // namespace

// The vendors of case `case_id` (following merges) that list `value` as
// a contact, or (by_key) whose key it is; sorted, each once.
std::vector<std::string> Store::case_vendors_with(std::int64_t case_id, bool by_key, const std::string& value) {
  if (user_version() < kCoordinationSchema) return {};
  static const std::string by_contact_sql =
      std::string("SELECT cv.vendor, cv.case_id FROM vendor_contacts vc JOIN case_vendors cv ON cv.vendor = vc.vendor "
                  "WHERE vc.address = ?1 AND ") + kThisOrMerged;
  static const std::string by_key_sql =
      std::string("SELECT cv.vendor, cv.case_id FROM vendors v JOIN case_vendors cv ON cv.vendor = v.name "
                  "WHERE v.key = ?1 AND ") + kThisOrMerged;
  auto& st = db_.cached(by_key ? by_key_sql.c_str() : by_contact_sql.c_str());
  st.bind(1, value).bind(2, case_id);
  std::vector<std::pair<std::string, std::int64_t>> rows;
  while (st.step()) rows.emplace_back(st.text(0), st.int64(1));
  st.reset();
  std::set<std::string> out;
  for (const auto& [vendor, c] : rows)
    if (c == case_id || resolve_case(c) == case_id) out.insert(vendor);
  return {out.begin(), out.end()};
}

// The case_vendors rows of `vendor` that count for `case_id` (theirs, or
// a case's merged into it), by the case they name.
std::vector<std::int64_t> Store::vendor_case_rows(std::int64_t case_id, const std::string& vendor) {
  if (user_version() < kCoordinationSchema) return {};
  static const std::string sql =
      std::string("SELECT cv.case_id FROM case_vendors cv WHERE cv.vendor = ?1 AND ") + kThisOrMerged;
  auto& st = db_.cached(sql.c_str());
  st.bind(1, vendor).bind(2, case_id);
  std::vector<std::int64_t> cases;
  while (st.step()) cases.push_back(st.int64(0));
  st.reset();
  std::erase_if(cases, [&](std::int64_t c) { return c != case_id && resolve_case(c) != case_id; });
  return cases;
}

std::optional<RoutingLookup::Notification> Store::notification_of(const std::string& message_id) {
  if (user_version() < kCoordinationSchema) return std::nullopt;
  auto& st = db_.cached(
      "SELECT m.case_id, r.vendor FROM messages m JOIN outbox o ON o.message = m.id "
      "JOIN vendor_outreach r ON r.outbox = o.id "
      "WHERE m.message_id = ? AND m.direction = 'out' AND o.kind = 'notify' ORDER BY r.id LIMIT 1");
  st.bind(1, message_id);
  std::optional<RoutingLookup::Notification> n;
  if (st.step()) n = RoutingLookup::Notification{st.int64(0), st.text(1)};
  st.reset();
  return n;
}

void Store::record_party(std::int64_t case_id, std::int64_t message, const std::string& message_id,
                         const RoutingDecision& d, std::int64_t now) {
  if (d.vendor)  // set after the insert: rare, and the insert stays what older schemas take
    db_.cached("UPDATE messages SET party = ? WHERE id = ?").bind(1, vendor_party(*d.vendor)).bind(2, message).run();
  if (d.vendor && !d.bounce) {
    for (auto c : vendor_case_rows(case_id, *d.vendor))
      db_.cached("UPDATE case_vendors SET last_reply = ?3 WHERE case_id = ?1 AND vendor = ?2")
          .bind(1, c)
          .bind(2, *d.vendor)
          .bind(3, now)
          .run();
    add_event(case_id, "vendor", "cased", fmt::format("message {} is vendor {}'s reply", message_id, *d.vendor), now);
  }
  if (d.vendor_claim)
    add_event(case_id, "unverified", "cased",
              fmt::format("message {} came as vendor {}'s (to its address, or answering its notification), but {} is "
                          "not its contact and the message is not signed by its key: not the vendor's, unverified",
                          message_id, *d.vendor_claim, d.sender.empty() ? "?" : d.sender),
              now);
  if (d.stray_vendor_address)
    add_event(case_id, "vendor", "cased",
              fmt::format("message {} was addressed to vendor {} of [{}#{}], which has no such vendor: that address "
                          "was ignored",
                          message_id, d.stray_vendor_address->vendor, options_.tag, d.stray_vendor_address->case_id),
              now);
}

void Store::record_outbound_party(std::int64_t case_id, std::int64_t message, const std::vector<std::string>& to) {
  // Mail to one vendor's contacts only is that vendor's; any other is the case's own.
  if (to.empty() || user_version() < kCoordinationSchema) return;
  std::optional<std::vector<std::string>> common;
  for (const auto& t : to) {
    auto vendors = case_vendors_with(case_id, false, normalize_address(t));
    if (common)
      std::erase_if(*common, [&](const std::string& v) { return !std::binary_search(vendors.begin(), vendors.end(), v); });
    else
      common = std::move(vendors);
    if (common->empty()) return;
  }
  db_.cached("UPDATE messages SET party = ? WHERE id = ?").bind(1, vendor_party(common->front())).bind(2, message).run();
}

std::vector<std::string> Store::bounced_recipients(const std::string& message_id, const std::vector<std::string>& named) {
  // Whom our message with this Message-ID went to (To and Cc).
  auto& st = db_.cached("SELECT to_json, cc_json FROM messages WHERE message_id = ? AND direction = 'out'");
  st.bind(1, message_id);
  std::set<std::string> ours;
  while (st.step())
    for (int col : {0, 1})
      for (const auto& a : parse_json_list(st.text(col))) ours.insert(normalize_address(a));
  st.reset();
  std::vector<std::string> out;
  for (const auto& n : named)
    if (ours.count(n)) out.push_back(n);
  return out;
}

// A report on one of our notifications: its outreach entry's delivery,
// and each failed contact of that vendor bouncing from now (until an
// analyst gives the contact again). `failed` and `delivered` are
// recipients of that very mail (bounced_recipients).
void Store::record_notification_delivery(std::int64_t case_id, const Bounce& bounce,
                                         const std::vector<std::string>& failed,
                                         const std::vector<std::string>& delivered, std::int64_t now) {
  if (user_version() < kCoordinationSchema) return;
  struct Row {
    std::int64_t id;
    std::string vendor;
    std::optional<std::string> delivery, detail;
  };
  auto& st = db_.cached(
      "SELECT r.id, r.vendor, r.delivery, r.delivery_detail FROM messages m JOIN outbox o ON o.message = m.id "
      "JOIN vendor_outreach r ON r.outbox = o.id WHERE m.message_id = ? AND m.direction = 'out' AND o.kind = 'notify'");
  st.bind(1, bounce.message_id);
  std::vector<Row> rows;
  while (st.step()) rows.push_back(Row{st.int64(0), st.text(1), st.opt_text(2), st.opt_text(3)});
  st.reset();
  for (const auto& r : rows) {
    if (!failed.empty()) {
      std::vector<std::string> all;
      if (r.delivery == "bounced" && r.detail) all = split_joined(*r.detail);
      for (const auto& f : failed)
        if (std::find(all.begin(), all.end(), f) == all.end()) all.push_back(f);
      db_.cached("UPDATE vendor_outreach SET delivery = 'bounced', delivery_detail = ? WHERE id = ?")
          .bind(1, joined(all))
          .bind(2, r.id)
          .run();
      for (const auto& f : failed)
        db_.cached("UPDATE vendor_contacts SET bouncing_since = coalesce(bouncing_since, ?3) WHERE vendor = ?1 AND address = ?2")
            .bind(1, r.vendor)
            .bind(2, f)
            .bind(3, now)
            .run();
      add_event(case_id, "bounce", "cased",
                fmt::format("notification {} to vendor {} bounced: {}", bounce.message_id, r.vendor, joined(failed)), now);
    } else if (!delivered.empty() && r.delivery != "bounced") {
      db_.cached("UPDATE vendor_outreach SET delivery = 'delivered', delivery_detail = ? WHERE id = ?")
          .bind(1, "delivered to " + joined(delivered))
          .bind(2, r.id)
          .run();
      add_event(case_id, "vendor", "cased",
                fmt::format("notification {} to vendor {} delivered to {}", bounce.message_id, r.vendor, joined(delivered)),
                now);
    }
  }
}

}  // namespace cased
