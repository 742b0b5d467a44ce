// Coordinating a case with vendors (schema 17): the only module that
// writes case_vendors, vendor_status and vendor_outreach (merge.cpp moves
// them with a case), and the one that queues notifications.
#include "store/coordination.hpp"

#include <fmt/format.h>

#include <map>

#include "core/util.hpp"
#include "store/store.hpp"
#include "store/store_guard.hpp"
#include "store/store_rows.hpp"

namespace cased {

using detail::guarded;

const std::vector<std::string>& vendor_states() {
  static const std::vector<std::string> states = {"unknown", "investigating", "affected",
                                                  "not-affected", "fixed", "unresponsive"};
  return states;
}

const std::vector<std::string>& outreach_ways() {
  static const std::vector<std::string> ways = {"mail", "phone", "post", "form", "other"};
  return ways;
}

bool Store::vendor_attached(std::int64_t case_id, const std::string& vendor) {
  auto& st = db_.cached("SELECT 1 FROM case_vendors WHERE case_id = ? AND vendor = ?");
  st.bind(1, case_id).bind(2, vendor);
  bool found = st.step();
  st.reset();
  return found;
}

void Store::attach_vendor(std::int64_t case_id, const std::string& vendor, std::int64_t now) {
  db_.cached("INSERT OR IGNORE INTO case_vendors(case_id, vendor, added) VALUES (?, ?, ?)")
      .bind(1, case_id)
      .bind(2, vendor)
      .bind(3, now)
      .run();
  // Its contacts take part as verified vendors; a verified participant in
  // another role (a reporter who is also a contact) keeps that role.
  db_.cached(
         "INSERT INTO participants(case_id, address, role, verified, added) "
         "SELECT ?1, address, 'vendor', 1, ?3 FROM vendor_contacts WHERE vendor = ?2 ORDER BY position "
         "ON CONFLICT(case_id, address) DO UPDATE SET verified = 1, role = 'vendor' "
         "WHERE participants.verified = 0 OR participants.role = 'vendor'")
      .bind(1, case_id)
      .bind(2, vendor)
      .bind(3, now)
      .run();
}

Result<std::vector<std::int64_t>> OutboxQueue::enqueue_notifications(std::int64_t case_id,
                                                                     const std::vector<Notification>& batch,
                                                                     const std::string& actor, std::int64_t now) {
  return guarded([&]() -> Result<std::vector<std::int64_t>> {
    auto& db = store_.db_;
    sql::Transaction tx(db);
    const std::int64_t resolved = store_.case_to_change(case_id);  // refuses a merged case
    std::vector<std::int64_t> ids;
    for (const auto& n : batch) {
      OutboundRecord mail = n.mail;
      mail.case_id = resolved;
      auto [message, id] = insert_outbound(mail, "notify", now);
      db.cached("UPDATE messages SET party = ? WHERE id = ?").bind(1, "vendor:" + n.vendor).bind(2, message).run();
      store_.attach_vendor(resolved, n.vendor, now);
      db.cached("UPDATE case_vendors SET notified = coalesce(notified, ?3), last_contact = ?3 "
                "WHERE case_id = ?1 AND vendor = ?2")
          .bind(1, resolved)
          .bind(2, n.vendor)
          .bind(3, now)
          .run();
      db.cached("INSERT OR IGNORE INTO vendor_status(case_id, vendor, cve, state, actor, updated) "
                "VALUES (?, ?, '', 'unknown', ?, ?)")
          .bind(1, resolved)
          .bind(2, n.vendor)
          .bind(3, actor)
          .bind(4, now)
          .run();
      db.cached("INSERT INTO vendor_outreach(case_id, vendor, via, at, actor, text, outbox) "
                "VALUES (?, ?, 'mail', ?, ?, ?, ?)")
          .bind(1, resolved)
          .bind(2, n.vendor)
          .bind(3, now)
          .bind(4, actor)
          .bind(5, n.event.detail)
          .bind(6, id)
          .run();
      store_.add_event(resolved, n.event.kind, n.event.actor, n.event.detail, now);
      ids.push_back(id);
    }
    store_.touch(resolved, now);
    tx.commit();
    return ids;
  });
}

Status Store::set_vendor_status(std::int64_t id, const VendorStatusChange& change, const std::string& actor) {
  return guarded([&]() -> Status {
    sql::Transaction tx(db_);
    const std::int64_t resolved = case_to_change(id);  // refuses a merged case
    if (!vendor_attached(resolved, change.vendor))
      return Error{Errc::refused,
                   fmt::format("vendor {0} is not attached to [{1}#{2}]: notify it (casectl notify {2} {0}) or "
                               "record an attempt to reach it (casectl outreach {2} {0} --via ...) first",
                               change.vendor, options_.tag, resolved)};
    std::int64_t now = now_unix();
    db_.cached("INSERT INTO vendor_status(case_id, vendor, cve, state, statement, actor, updated) "
               "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(case_id, vendor, cve) DO UPDATE SET "
               "state = ?4, statement = ?5, actor = ?6, updated = ?7")
        .bind(1, resolved)
        .bind(2, change.vendor)
        .bind(3, change.cve)
        .bind(4, change.state)
        .bind(5, change.statement)
        .bind(6, actor)
        .bind(7, now)
        .run();
    add_event(resolved, "vendor-status", actor,
              fmt::format("{}: {}{}{}", change.vendor, change.state, change.cve.empty() ? "" : " for " + change.cve,
                          change.statement ? " (with a statement)" : ""),
              now);
    touch(resolved, now);
    tx.commit();
    return ok_status();
  });
}

Status Store::add_outreach(std::int64_t id, const OutreachEntry& entry, const std::string& actor) {
  return guarded([&]() -> Status {
    sql::Transaction tx(db_);
    const std::int64_t resolved = case_to_change(id);  // refuses a merged case
    if (!vendor_attached(resolved, entry.vendor) && !read_vendor(entry.vendor))
      return Error{Errc::not_found, fmt::format("no vendor {} in the book (casectl vendor list)", entry.vendor)};
    std::int64_t now = now_unix();
    attach_vendor(resolved, entry.vendor, now);
    db_.cached("INSERT INTO vendor_outreach(case_id, vendor, via, at, actor, text) VALUES (?, ?, ?, ?, ?, ?)")
        .bind(1, resolved)
        .bind(2, entry.vendor)
        .bind(3, entry.via)
        .bind(4, now)
        .bind(5, actor)
        .bind(6, entry.text)
        .run();
    db_.cached("UPDATE case_vendors SET last_contact = max(coalesce(last_contact, 0), ?3) "
               "WHERE case_id = ?1 AND vendor = ?2")
        .bind(1, resolved)
        .bind(2, entry.vendor)
        .bind(3, now)
        .run();
    add_event(resolved, "outreach", actor, fmt::format("{}: attempt by {} recorded", entry.vendor, entry.via), now);
    touch(resolved, now);
    tx.commit();
    return ok_status();
  });
}

// Everything of the case's vendors in three statements, however many there are.
std::vector<CaseVendorView> Store::case_vendor_views(std::int64_t case_id) {
  std::vector<CaseVendorView> out;
  std::map<std::string, std::size_t> at;
  auto v = db_.prepare("SELECT vendor, added, notified, last_contact, last_reply FROM case_vendors "
                       "WHERE case_id = ? ORDER BY added, vendor");
  v.bind(1, case_id);
  while (v.step()) {
    at[v.text(0)] = out.size();
    out.push_back({v.text(0), v.int64(1), v.opt_int64(2), v.opt_int64(3), v.opt_int64(4), {}, {}});
  }
  if (out.empty()) return out;
  auto s = db_.prepare("SELECT vendor, cve, state, statement, actor, updated FROM vendor_status WHERE case_id = ? "
                       "ORDER BY vendor, cve");
  s.bind(1, case_id);
  while (s.step())
    if (auto it = at.find(s.text(0)); it != at.end())
      out[it->second].status.push_back({s.text(1), s.text(2), s.opt_text(3), s.text(4), s.int64(5)});
  auto r = db_.prepare(
      "SELECT r.vendor, r.id, r.via, r.at, r.actor, r.text, r.outbox, o.status, o.last_error, r.delivery, "
      "r.delivery_detail FROM vendor_outreach r LEFT JOIN outbox o ON o.id = r.outbox WHERE r.case_id = ? "
      "ORDER BY r.at, r.id");
  r.bind(1, case_id);
  while (r.step()) {
    auto it = at.find(r.text(0));
    if (it == at.end()) continue;
    OutreachView o{r.int64(1), r.text(2), r.int64(3), r.text(4), r.text(5), r.opt_int64(6), std::nullopt,
                   r.opt_text(8), r.opt_text(9), r.opt_text(10)};
    if (auto status = r.opt_text(7)) {
      auto parsed = parse_send_status(*status).value_or(SendStatus::queued);
      o.outbox_status = parsed == SendStatus::sending ? SendStatus::queued : parsed;
    }
    out[it->second].outreach.push_back(std::move(o));
  }
  return out;
}

}  // namespace cased

namespace cased::detail {

void move_vendor_rows(sql::Db& db, std::int64_t from, std::int64_t into) {
  for (const char* q : {
           "INSERT INTO case_vendors(case_id, vendor, added, notified, last_contact, last_reply) "
           "SELECT ?1, vendor, added, notified, last_contact, last_reply FROM case_vendors WHERE case_id = ?2 "
           "ON CONFLICT(case_id, vendor) DO UPDATE SET added = min(added, excluded.added), "
           "notified = coalesce(min(notified, excluded.notified), notified, excluded.notified), "
           "last_contact = coalesce(max(last_contact, excluded.last_contact), last_contact, excluded.last_contact), "
           "last_reply = coalesce(max(last_reply, excluded.last_reply), last_reply, excluded.last_reply)",
           "DELETE FROM case_vendors WHERE case_id = ?2",
           "INSERT INTO vendor_status(case_id, vendor, cve, state, statement, actor, updated) "
           "SELECT ?1, vendor, cve, state, statement, actor, updated FROM vendor_status WHERE case_id = ?2 "
           "ON CONFLICT(case_id, vendor, cve) DO UPDATE SET state = excluded.state, statement = excluded.statement, "
           "actor = excluded.actor, updated = excluded.updated WHERE excluded.updated > vendor_status.updated",
           "DELETE FROM vendor_status WHERE case_id = ?2",
           "UPDATE vendor_outreach SET case_id = ?1 WHERE case_id = ?2",
       })
    db.cached(q).bind(1, into).bind(2, from).run();
}

void split_vendor_rows(sql::Db& db, std::int64_t from, std::int64_t to) {
  for (const char* q : {
           "UPDATE vendor_outreach SET case_id = ?2 WHERE case_id = ?1 AND outbox IN "
           "(SELECT id FROM outbox WHERE case_id = ?2)",
           "INSERT OR IGNORE INTO case_vendors(case_id, vendor, added, notified, last_contact, last_reply) "
           "SELECT ?2, vendor, added, notified, last_contact, last_reply FROM case_vendors WHERE case_id = ?1 "
           "AND vendor IN (SELECT substr(party, 8) FROM messages WHERE case_id = ?2 AND party LIKE 'vendor:%')",
           "INSERT OR IGNORE INTO vendor_status(case_id, vendor, cve, state, statement, actor, updated) "
           "SELECT ?2, vendor, cve, state, statement, actor, updated FROM vendor_status WHERE case_id = ?1 "
           "AND vendor IN (SELECT vendor FROM case_vendors WHERE case_id = ?2)",
       })
    db.cached(q).bind(1, from).bind(2, to).run();
}

}  // namespace cased::detail
