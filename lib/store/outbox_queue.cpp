#include "store/outbox_queue.hpp"

#include <algorithm>

#include "mail/address.hpp"
#include "store/store.hpp"
#include "store/store_guard.hpp"
#include "store/store_rows.hpp"

namespace cased {

using detail::guarded;
using detail::json_list;
using detail::parse_json_list;

std::string_view to_string(SendStatus status) {
  switch (status) {
    case SendStatus::queued: return "queued";
    case SendStatus::sending: return "sending";
    case SendStatus::sent: return "sent";
    case SendStatus::failed: return "failed";
    case SendStatus::cancelled: return "cancelled";
  }
  return "queued";
}

std::optional<SendStatus> parse_send_status(std::string_view text) {
  for (auto s : {SendStatus::queued, SendStatus::sending, SendStatus::sent, SendStatus::failed, SendStatus::cancelled})
    if (to_string(s) == text) return s;
  return std::nullopt;
}

Result<ReplyCase> OutboxQueue::reply_case(std::int64_t id) {
  return guarded([&]() -> Result<ReplyCase> {
    std::int64_t resolved = store_.case_to_change(id);  // refuses a merged case
    auto& st = store_.db_.cached("SELECT subject FROM cases WHERE id = ?");
    st.bind(1, resolved);
    ReplyCase out{resolved, st.step() ? st.text(0) : std::string()};
    st.reset();
    return out;
  });
}

Result<std::vector<std::string>> OutboxQueue::verified_reporters(std::int64_t case_id) {
  return guarded([&]() -> Result<std::vector<std::string>> {
    auto& st = store_.db_.cached(
        "SELECT address FROM participants p WHERE case_id = ?1 AND role = 'reporter' AND verified = 1 "
        // never a contact of a vendor of the case, whatever its role here
        "AND NOT EXISTS (SELECT 1 FROM vendor_contacts vc JOIN case_vendors cv ON cv.vendor = vc.vendor "
        "WHERE cv.case_id = ?1 AND vc.address = p.address) ORDER BY added, rowid");
    st.bind(1, case_id);
    std::vector<std::string> out;
    while (st.step()) out.push_back(st.text(0));
    st.reset();
    return out;
  });
}

Result<ThreadPlace> OutboxQueue::reply_place(std::int64_t case_id, const std::vector<std::string>& to) {
  return guarded([&]() -> Result<ThreadPlace> {
    auto& db = store_.db_;
    auto& st = db.cached(
        "SELECT id, message_id, from_addr FROM messages WHERE case_id = ? AND direction = 'in' AND unverified = 0 "
        "ORDER BY received DESC, id DESC");
    st.bind(1, case_id);
    ThreadPlace place;
    std::int64_t parent = 0;
    while (st.step()) {
      if (std::find(to.begin(), to.end(), normalize_address(st.text(2))) != to.end()) {
        parent = st.int64(0);
        place.in_reply_to = st.text(1);
        break;
      }
    }
    st.reset();
    if (!parent) return place;
    auto& r = db.cached("SELECT ref FROM message_refs WHERE message = ? ORDER BY rowid");
    r.bind(1, parent);
    while (r.step()) place.references.push_back(r.text(0));
    r.reset();
    place.references.push_back(place.in_reply_to);
    return place;
  });
}

Result<ThreadPlace> OutboxQueue::first_inbound(std::int64_t case_id) {
  return guarded([&]() -> Result<ThreadPlace> {
    auto& m = store_.db_.cached(
        "SELECT message_id FROM messages WHERE case_id = ? AND direction = 'in' ORDER BY id LIMIT 1");
    m.bind(1, case_id);
    ThreadPlace place;
    if (m.step()) place.in_reply_to = m.text(0);
    m.reset();
    if (!place.in_reply_to.empty()) place.references.push_back(place.in_reply_to);
    return place;
  });
}

Status OutboxQueue::add_event(std::int64_t case_id, const CaseEvent& event, std::int64_t now) {
  return guarded([&]() -> Status {
    sql::Transaction tx(store_.db_);
    store_.add_event(case_id, event.kind, event.actor, event.detail, now);
    tx.commit();
    return ok_status();
  });
}

Result<std::optional<std::string>> OutboxQueue::pinned_key(const std::string& address) {
  return store_.pinned_key(address);
}

Result<std::optional<std::string>> OutboxQueue::pinned_certificate(const std::string& address) {
  return store_.pinned_certificate(address);
}

Result<bool> OutboxQueue::key_from_mail(const std::string& fingerprint) {
  return store_.key_from_mail(fingerprint);
}

Result<std::optional<std::string>> OutboxQueue::web_key(std::int64_t case_id, const std::string& address) {
  auto web = store_.web_report(case_id);
  if (!web) return web.error();
  if (!*web || (*web)->fingerprint.empty() || (*web)->address != address) return std::optional<std::string>();
  return std::optional<std::string>((*web)->fingerprint);
}

namespace {

std::int64_t record(Store& store, const OutboundRecord& m, std::int64_t now) {
  return store.store_outbound(m.case_id, m.message_id, m.to, m.subject, m.body, m.raw, m.encrypted, m.in_reply_to,
                              m.references, now, m.signer);
}

}  // namespace

std::pair<std::int64_t, std::int64_t> OutboxQueue::insert_outbound(const OutboundRecord& mail, std::string_view kind,
                                                                   std::int64_t now) {
  auto& db = store_.db_;
  std::int64_t message = record(store_, mail, now);
  // The mail's Cc and the files it carries, on its message.
  if (!mail.cc.empty())
    db.cached("UPDATE messages SET cc_json = ? WHERE id = ?").bind(1, json_list(mail.cc)).bind(2, message).run();
  store_.record_refs_and_attachments(message, {}, mail.attachments);
  std::vector<std::string> recipients = mail.to;
  recipients.insert(recipients.end(), mail.cc.begin(), mail.cc.end());
  db.cached(
        "INSERT INTO outbox(case_id, kind, status, recipients, subject, message_id, message, raw, next_attempt, "
        "created) VALUES (?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?)")
      .bind(1, mail.case_id)
      .bind(2, kind)
      .bind(3, json_list(recipients))
      .bind(4, mail.subject)
      .bind(5, mail.message_id)
      .bind(6, message)
      .bind_blob(7, mail.raw)
      .bind(8, now)
      .bind(9, now)
      .run();
  return {message, db.last_insert_rowid()};
}

Result<std::int64_t> OutboxQueue::enqueue_reply(const OutboundRecord& mail, const CaseEvent& event, std::int64_t now) {
  return guarded([&]() -> Result<std::int64_t> {
    sql::Transaction tx(store_.db_);
    std::int64_t id = insert_outbound(mail, "reply", now).second;
    store_.add_event(mail.case_id, event.kind, event.actor, event.detail, now);
    tx.commit();
    return id;
  });
}

Result<std::int64_t> OutboxQueue::enqueue_digest(const std::string& to, const std::string& subject,
                                                 const std::string& message_id, const std::string& raw,
                                                 std::int64_t now) {
  return guarded([&]() -> Result<std::int64_t> {
    auto& db = store_.db_;
    sql::Transaction tx(db);
    db.cached(
          "INSERT INTO outbox(case_id, kind, status, recipients, subject, message_id, raw, next_attempt, created) "
          "VALUES (NULL, 'digest', 'queued', ?, ?, ?, ?, ?, ?)")
        .bind(1, json_list({to}))
        .bind(2, subject)
        .bind(3, message_id)
        .bind_blob(4, raw)
        .bind(5, now)
        .bind(6, now)
        .run();
    std::int64_t id = db.last_insert_rowid();
    tx.commit();
    return id;
  });
}

Status OutboxQueue::attach_ack(std::int64_t id, const OutboundRecord& mail, std::int64_t now) {
  return guarded([&]() -> Status {
    auto& db = store_.db_;
    sql::Transaction tx(db);
    std::int64_t message = record(store_, mail, now);
    db.cached("UPDATE outbox SET raw = ?, subject = ?, message = ? WHERE id = ?")
        .bind_blob(1, mail.raw)
        .bind(2, mail.subject)
        .bind(3, message)
        .bind(4, id)
        .run();
    tx.commit();
    return ok_status();
  });
}

Result<std::vector<std::int64_t>> OutboxQueue::due(std::int64_t now, std::optional<std::int64_t> only, int limit) {
  return guarded([&]() -> Result<std::vector<std::int64_t>> {
    // 'sending' rows whose claim ran out belong to a sender that died: due again.
    auto& st = store_.db_.cached(
        "SELECT id FROM outbox WHERE ((status = 'queued' AND next_attempt <= ?1) OR "
        "(status = 'sending' AND claimed_until < ?1)) AND (?2 IS NULL OR id = ?2) ORDER BY id LIMIT ?3");
    st.bind(1, now).bind(2, only).bind(3, limit);
    std::vector<std::int64_t> ids;
    while (st.step()) ids.push_back(st.int64(0));
    st.reset();
    return ids;
  });
}

Result<bool> OutboxQueue::claim(std::int64_t id, std::int64_t now, std::int64_t lease) {
  return guarded([&]() -> Result<bool> {
    auto& db = store_.db_;
    // One statement decides: only one sender (daemon or casectl) wins the row.
    sql::Transaction tx(db);
    db.cached(
          "UPDATE outbox SET status = 'sending', claimed_until = ?, attempts = attempts + 1 WHERE id = ? AND "
          "((status = 'queued' AND next_attempt <= ?3) OR (status = 'sending' AND claimed_until < ?3))")
        .bind(1, now + lease)
        .bind(2, id)
        .bind(3, now)
        .run();
    bool claimed = db.changes() == 1;
    tx.commit();
    return claimed;
  });
}

Result<OutboxItem> OutboxQueue::item(std::int64_t id) {
  return guarded([&]() -> Result<OutboxItem> {
    auto& st =
        store_.db_.cached("SELECT kind, recipients, raw, case_id, attempts, message_id FROM outbox WHERE id = ?");
    st.bind(1, id);
    if (!st.step()) {
      st.reset();
      return Error{Errc::not_found, "no outbox entry " + std::to_string(id)};
    }
    OutboxItem it{id, st.opt_int64(3), st.text(0), parse_json_list(st.text(1)), st.text(2), st.text(5),
                  static_cast<int>(st.int64(4))};
    st.reset();
    return it;
  });
}

Result<std::vector<std::string>> OutboxQueue::over_limit(const std::vector<std::string>& to, std::int64_t since,
                                                         std::int64_t max) {
  return guarded([&]() -> Result<std::vector<std::string>> {
    std::vector<std::string> over;
    for (const auto& t : to) {
      auto sent = store_.sent_to_since(t, since);
      if (!sent) return sent.error();
      if (*sent >= max) over.push_back(t);
    }
    return over;
  });
}

Status OutboxQueue::mark_sent(std::int64_t id, std::int64_t now, std::optional<std::int64_t> case_id,
                              const std::vector<CaseEvent>& events) {
  return guarded([&]() -> Status {
    auto& db = store_.db_;
    sql::Transaction tx(db);
    db.cached("UPDATE outbox SET status = 'sent', sent = ?, last_error = NULL, claimed_until = NULL WHERE id = ?")
        .bind(1, now)
        .bind(2, id)
        .run();
    if (case_id)
      for (const auto& e : events) store_.add_event(*case_id, e.kind, e.actor, e.detail, now);
    tx.commit();
    return ok_status();
  });
}

Status OutboxQueue::mark_failed(std::int64_t id, const std::string& error) {
  return guarded([&]() -> Status {
    sql::Transaction tx(store_.db_);
    store_.db_.cached("UPDATE outbox SET status = 'failed', last_error = ?, claimed_until = NULL WHERE id = ?")
        .bind(1, error)
        .bind(2, id)
        .run();
    tx.commit();
    return ok_status();
  });
}

Status OutboxQueue::defer(std::int64_t id, const std::string& error, std::int64_t next_attempt) {
  return guarded([&]() -> Status {
    sql::Transaction tx(store_.db_);
    store_.db_
        .cached("UPDATE outbox SET status = 'queued', last_error = ?, next_attempt = ?, claimed_until = NULL WHERE id = ?")
        .bind(1, error)
        .bind(2, next_attempt)
        .bind(3, id)
        .run();
    tx.commit();
    return ok_status();
  });
}

Status OutboxQueue::retry(std::int64_t id, std::int64_t now) {
  return guarded([&]() -> Status {
    auto& db = store_.db_;
    sql::Transaction tx(db);
    db.cached(
          "UPDATE outbox SET status = 'queued', next_attempt = ?, attempts = 0 WHERE id = ? AND status IN "
          "('failed', 'queued')")
        .bind(1, now)
        .bind(2, id)
        .run();
    bool changed = db.changes() == 1;
    tx.commit();
    if (!changed) return Error{Errc::not_found, "no failed or queued outbox entry " + std::to_string(id)};
    return ok_status();
  });
}

Result<std::vector<OutboxRow>> OutboxQueue::list() {
  return guarded([&]() -> Result<std::vector<OutboxRow>> {
    std::vector<OutboxRow> rows;
    auto st = store_.db_.prepare(
        "SELECT id, case_id, kind, status, recipients, subject, attempts, last_error, created, sent, next_attempt "
        "FROM outbox ORDER BY id");
    while (st.step()) {
      OutboxRow r;
      r.id = st.int64(0);
      r.case_id = st.opt_int64(1);
      r.kind = st.text(2);
      auto status = parse_send_status(st.text(3)).value_or(SendStatus::queued);
      r.status = status == SendStatus::sending ? SendStatus::queued : status;
      r.to = parse_json_list(st.text(4));
      r.subject = st.text(5);
      r.attempts = static_cast<int>(st.int64(6));
      r.last_error = st.opt_text(7);
      r.created = st.int64(8);
      r.sent = st.opt_int64(9);
      r.next_attempt = st.int64(10);
      rows.push_back(std::move(r));
    }
    return rows;
  });
}

Result<std::vector<OutboxRow>> list_outbox(Store& store) { return OutboxQueue(store).list(); }

}  // namespace cased
