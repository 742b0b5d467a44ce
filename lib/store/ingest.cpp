#include "store/store.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <array>
#include <nlohmann/json.hpp>

#include "cases/bounce.hpp"
#include "cases/routing.hpp"
#include "core/util.hpp"
#include "mail/address.hpp"
#include "mail/mime.hpp"
#include "store/store_guard.hpp"
#include "store/store_rows.hpp"

namespace cased {
namespace {

using detail::guarded;
using detail::json_list;
using detail::parse_json_list;

// Where `body` starts in `raw` when it is raw's own bytes right after the
// header, as in most plain-text mail. Such a body is stored once (schema 6).
std::optional<std::size_t> body_offset_in_raw(std::string_view raw, std::string_view body) {
  auto start = header_end(raw);
  if (body.empty() || !start || raw.substr(*start, body.size()) != body) return std::nullopt;
  return start;
}

// The parts' decoded bodies, once the message's text and attachments are
// taken from them: nothing stores them, and a large text part would be held
// a second time beside the body while its row is written. The tree keeps
// its shape (types, parameters, header fields: bounce_info reads them).
void drop_part_bodies(MimePart& part) {
  std::string().swap(part.body);
  for (auto& child : part.children) drop_part_bodies(child);
}

// The identity a message is stored under: its Message-ID, or one made of
// its bytes when it has none.
std::string stored_message_id(const PreparedMessage& msg) {
  const std::string& id = msg.parsed.message_id;
  return id.empty() ? fmt::format("no-message-id-{}@cased.invalid", msg.sha256.substr(0, 24)) : id;
}

}  // namespace

Result<std::vector<Result<IngestResult>>> Store::ingest(std::vector<PreparedMessage>& batch) {
  return guarded([&]() -> Result<std::vector<Result<IngestResult>>> {
    std::vector<Result<IngestResult>> results;
    results.reserve(batch.size());
    std::int64_t now = now_unix();
    sql::Transaction tx(db_);
    for (auto& msg : batch) {
      try {
        drop_part_bodies(msg.parsed.root);
        sql::Savepoint sp(db_);
        IngestResult r = ingest_one(msg, now);
        sp.release();
        results.emplace_back(r);
      } catch (const StoreError& e) {
        // A full disk or a busy database fails the whole batch: retry later.
        if (is_temporary(e.code())) throw;
        results.emplace_back(Error{e.code(), e.what()});
        // Its keys are in the keyring now: they still came by mail.
        note_mail_keys(msg, std::nullopt, now);
      }
    }
    tx.commit();
    return results;
  });
}

void Store::wal_autocheckpoint(int pages) { sqlite3_wal_autocheckpoint(db_.handle(), pages); }

IngestResult Store::ingest_one(PreparedMessage& msg, std::int64_t now) {
  const std::string message_id = stored_message_id(msg);
  if (auto stored = already_stored(msg, message_id, now)) return *stored;
  const bool same_id_other_bytes = message_id_stored(message_id);
  const RoutingDecision d = route(RoutingInput{msg, message_id, same_id_other_bytes, now});
  IngestResult result;
  result.new_case = !d.case_id;
  result.case_id = d.case_id ? *d.case_id : open_case(msg.parsed, message_id, now);
  join_cases(result.case_id, d, message_id, now);
  result.message = insert_message(msg, result.case_id, message_id, d.unverified, d.auth, now);
  record_refs_and_attachments(result.message, d.refs, msg.parsed.attachments);
  // The search index follows after the commit (index_pending, schema 7).
  if (d.bounce) record_bounce(result.case_id, *d.bounce, now);
  record_arrival(msg, Arrival{result.case_id, message_id, d, result.new_case, same_id_other_bytes}, now);
  record_party(result.case_id, result.message, message_id, d, now);  // vendor_party.cpp
  if (!result.new_case) reopen_if_closed(msg, d, result.case_id, now);
  record_acknowledgement(msg, result.case_id, d.ack, now);
  result.ack_capped = d.ack.kind == Acknowledgement::Kind::capped;
  result.ack_busy = d.ack.kind == Acknowledgement::Kind::busy;
  if (msg.envelope.web) record_web_report(*msg.envelope.web, result, now);
  touch(result.case_id, now);
  return result;
}

// Idempotence: same Message-ID and same normalised bytes → already stored.
std::optional<IngestResult> Store::already_stored(const PreparedMessage& msg, const std::string& message_id,
                                                  std::int64_t now) {
  auto& st = db_.cached("SELECT id, case_id FROM messages WHERE message_id = ? AND content_sha256 = ?");
  st.bind(1, message_id).bind(2, msg.sha256);
  if (!st.step()) {
    st.reset();
    return std::nullopt;
  }
  IngestResult result;
  result.message = st.int64(0);
  std::int64_t stored_in = st.int64(1);
  st.reset();
  result.case_id = resolve_case(stored_in).value_or(stored_in);
  result.duplicate = true;
  note_mail_keys(msg, result.case_id, now);
  return result;
}

bool Store::message_id_stored(const std::string& message_id) {
  auto& st = db_.cached("SELECT 1 FROM messages WHERE message_id = ? LIMIT 1");
  st.bind(1, message_id);
  bool yes = st.step();
  st.reset();
  return yes;
}

// Threading rule 4: a new case, named after the message's subject.
std::int64_t Store::open_case(const ParsedMessage& pm, const std::string& message_id, std::int64_t now) {
  std::string subject = trim(pm.subject);
  db_.cached("INSERT INTO cases(subject, status, created, updated) VALUES (?, 'new', ?, ?)")
      .bind(1, subject.empty() ? std::string("(no subject)") : subject)
      .bind(2, now)
      .bind(3, now)
      .run();
  std::int64_t id = db_.last_insert_rowid();
  add_event(id, "created", "cased", fmt::format("from message {}", message_id), now);
  return id;
}

void Store::record_refs_and_attachments(std::int64_t message, const std::vector<std::string>& refs,
                                        const std::vector<Attachment>& attachments) {
  for (const auto& r : refs)
    db_.cached("INSERT INTO message_refs(message, ref) VALUES (?, ?)").bind(1, message).bind(2, r).run();
  for (const auto& a : attachments)
    db_.cached(
           "INSERT INTO attachments(message, filename, content_type, size, sha256, encrypted, signed) "
           "VALUES (?, ?, ?, ?, ?, ?, ?)")
        .bind(1, message)
        .bind(2, a.filename)
        .bind(3, a.content_type)
        .bind(4, static_cast<std::int64_t>(a.size))
        .bind(5, a.sha256)
        .bind(6, a.encrypted)
        .bind(7, a.is_signed)
        .run();
}

void Store::record_bounce(std::int64_t case_id, const Bounce& bounce, std::int64_t now) {
  // Only whom the quoted mail of ours went to: a report naming anyone else
  // (forged, or a forwarder's address) marks nobody.
  const auto failed = bounced_recipients(bounce.message_id, bounce.recipients);
  const auto delivered = bounced_recipients(bounce.message_id, bounce.delivered);
  for (const auto& r : failed) {
    db_.cached("UPDATE participants SET bouncing = 1 WHERE case_id = ? AND address = ?").bind(1, case_id).bind(2, r).run();
    add_event(case_id, "bounce", "cased", fmt::format("delivery of {} to {} failed", bounce.message_id, r), now);
  }
  std::size_t others = bounce.recipients.size() - failed.size();
  if (failed.empty() && (delivered.empty() || others > 0))
    add_event(case_id, "bounce", "cased",
              fmt::format("delivery of {} failed{}", bounce.message_id,
                          others ? fmt::format(" (the report names {} address(es) it was not sent to: ignored)", others)
                                 : std::string()),
              now);
  record_notification_delivery(case_id, bounce, failed, delivered, now);  // vendor_party.cpp
}

// After the message is stored: the sender as a participant (verified or
// not), the events an analyst reads, and the keys it carried.
void Store::record_arrival(const PreparedMessage& msg, const Arrival& a, std::int64_t now) {
  const ParsedMessage& pm = msg.parsed;
  const RoutingDecision& d = a.route;
  const std::string actor = "cased";
  if (d.participant) {
    db_.cached(
           "INSERT INTO participants(case_id, address, name, role, verified, added) VALUES (?1, ?2, ?3, ?6, ?4, ?5) "
           "ON CONFLICT(case_id, address) DO UPDATE SET verified = max(verified, excluded.verified)")
        .bind(1, a.case_id)
        .bind(2, d.sender)
        .bind(3, pm.from_name)
        .bind(4, d.participant_verified)
        .bind(5, now)
        .bind(6, d.vendor ? "vendor" : "reporter")
        .run();
    if (db_.changes() > 0 && !a.new_case)
      add_event(a.case_id, "participant", actor,
                fmt::format("{}{}", d.sender, d.participant_verified ? "" : " (unverified)"), now);
  }
  std::string routed_by = a.new_case ? "" : std::string(rule_name(d.rule));
  add_event(a.case_id, "message", actor,
            fmt::format("message {} received{}", a.message_id, routed_by.empty() ? "" : " by " + routed_by), now);
  if (d.unverified)
    add_event(a.case_id, "unverified", actor,
              fmt::format("{} is not a verified participant{}; {}, unverified until an analyst adds them",
                          d.sender.empty() ? "?" : d.sender, d.forged ? " (its From failed DMARC)" : "",
                          routed_by.empty() ? std::string("opened the case") : "joined by " + routed_by),
              now);
  if (a.same_id_other_bytes)
    add_event(a.case_id, "duplicate", actor,
              fmt::format("message {} was already stored with different content; kept both", a.message_id), now);
  if (pm.malformed) add_event(a.case_id, "message", actor, fmt::format("message {} is malformed; stored raw", a.message_id), now);
  if (pm.decryption == DecryptionState::failed)
    add_event(a.case_id, "message", actor, fmt::format("message {} could not be decrypted: {}", a.message_id, pm.decryption_error), now);
  // A key pasted into the web form is for its case only (web_reports).
  record_keys(msg, a.case_id, msg.envelope.web ? "it was pasted into the web form" : no_pin_reason(d), now);
}

namespace {

// A body that is raw's own bytes is let go while the row is written (SQLite
// builds the row, raw included, in memory: the message would be held three
// times) and taken from raw again afterwards, the same bytes.
class BodyInRawSetAside {
 public:
  BodyInRawSetAside(PreparedMessage& msg, std::optional<std::size_t> offset)
      : msg_(msg), aside_(offset.has_value()), offset_(offset.value_or(0)), size_(msg.parsed.body.size()) {
    if (aside_) std::string().swap(msg_.parsed.body);
  }
  ~BodyInRawSetAside() {
    try {
      restore();
    } catch (const std::bad_alloc&) {  // NOLINT(bugprone-empty-catch): the insert failed already
    }
  }
  BodyInRawSetAside(const BodyInRawSetAside&) = delete;
  BodyInRawSetAside& operator=(const BodyInRawSetAside&) = delete;
  void restore() {
    if (aside_) msg_.parsed.body.assign(msg_.raw, offset_, size_);  // what it was: checked equal
    aside_ = false;
  }

 private:
  PreparedMessage& msg_;
  bool aside_;
  std::size_t offset_, size_;
};

}  // namespace

// The Authentication-Results columns are written with the row: an UPDATE
// after it would read the whole row back and write it again, raw included.
std::int64_t Store::insert_message(PreparedMessage& msg, std::int64_t case_id, const std::string& message_id,
                                   bool unverified, const std::optional<AuthResults>& auth, std::int64_t now) {
  const ParsedMessage& pm = msg.parsed;
  // Without Authentication-Results the columns stay NULL (and a store
  // opened at an older version for its tests has none).
  static const std::array<std::string, 4> kInserts = [] {
    std::array<std::string, 4> out;
    for (int v = 0; v < 4; ++v) {
      const bool with_auth = v & 1, with_crypto = v & 2;
      out[v] = std::string(
                   "INSERT INTO messages(case_id, message_id, content_sha256, direction, source, envelope_from, "
                   "from_addr, from_name, to_json, cc_json, date, received, subject, body, encrypted, mixed, "
                   "decryption, decryption_error, signature, signer, signer_uid, unverified, malformed, problems, raw") +
               (with_auth ? ", auth_results, auth_dkim, auth_spf, auth_dmarc" : "") +
               (with_crypto ? ", crypto, smime" : "") +
               ") VALUES (?, ?, ?, 'in', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?" +
               (with_auth ? ", ?, ?, ?, ?" : "") + (with_crypto ? ", ?, ?" : "") + ")";
    }
    return out;
  }();
  // Without Authentication-Results (or crypto) those columns stay NULL (and
  // a store opened at an older version for its tests has none).
  const bool with_crypto = !pm.crypto.empty();
  auto& ins = db_.cached(kInserts[(auth ? 1 : 0) | (with_crypto ? 2 : 0)].c_str());
  auto body_offset = body_offset_in_raw(msg.raw, pm.body);
  const std::size_t body_size = pm.body.size();
  std::string problems;
  for (const auto& p : pm.problems) problems += (problems.empty() ? "" : "; ") + p;
  BodyInRawSetAside set_aside(msg, body_offset);
  ins.bind(1, case_id)
      .bind(2, message_id)
      .bind(3, msg.sha256)
      .bind(4, to_string(msg.envelope.source))
      .bind(5, msg.envelope.mail_from)
      .bind(6, pm.from)
      .bind(7, pm.from_name)
      .bind(8, json_list(pm.to))
      .bind(9, json_list(pm.cc))
      .bind(10, pm.date)
      .bind(11, now)
      .bind(12, pm.subject)
      .bind_view(13, body_offset ? std::string_view() : std::string_view(pm.body))
      .bind(14, pm.encrypted)
      .bind(15, pm.mixed)
      .bind(16, to_string(pm.decryption))
      .bind(17, pm.decryption_error.empty() ? std::nullopt : std::optional<std::string>(pm.decryption_error))
      .bind(18, to_string(pm.signature))
      .bind(19, pm.signer)
      .bind(20, pm.signer_uid.empty() ? std::nullopt : std::optional<std::string>(pm.signer_uid))
      .bind(21, unverified)
      .bind(22, pm.malformed)
      .bind(23, problems.empty() ? std::nullopt : std::optional<std::string>(problems))
      .bind_blob_view(24, msg.raw);  // msg outlives run(): SQLite copies neither
  if (auth) ins.bind(25, auth->header).bind(26, auth->dkim).bind(27, auth->spf).bind(28, auth->dmarc);
  if (with_crypto) {
    const int at = auth ? 29 : 25;
    ins.bind(at, pm.crypto).bind(at + 1, detail::smime_json(pm.smime));
  }
  ins.run();
  set_aside.restore();
  std::int64_t id = db_.last_insert_rowid();
  if (body_offset) record_body_in_raw(id, *body_offset, body_size);
  return id;
}

void Store::record_body_in_raw(std::int64_t message, std::size_t offset, std::size_t length) {
  db_.cached("INSERT INTO message_body_in_raw(message, offset, length) VALUES (?, ?, ?)")
      .bind(1, message)
      .bind(2, static_cast<std::int64_t>(offset))
      .bind(3, static_cast<std::int64_t>(length))
      .run();
}

// Queues the acknowledgement the decision asks for (the outbox composes
// and signs it off this thread), or says why there is none.
void Store::record_acknowledgement(const PreparedMessage& msg, std::int64_t case_id, const Acknowledgement& ack,
                                   std::int64_t now) {
  using Kind = Acknowledgement::Kind;
  if (ack.kind == Kind::none) return;
  if (ack.kind == Kind::forged_from) {
    add_event(case_id, "ack", "cased", "no acknowledgement: the From failed DMARC", now);
    return;
  }
  if (ack.kind == Kind::capped) {
    add_event(case_id, "ack", "cased",
              fmt::format("no acknowledgement: {} had {} in the last 24 hours (ack.per_sender_per_day)", ack.address,
                          options_.ack_per_day),
              now);
    return;
  }
  if (ack.kind == Kind::busy) {
    add_event(case_id, "ack", "cased",
              fmt::format("no acknowledgement: {} were sent in the last hour (ack.per_hour)", options_.ack_per_hour),
              now);
    return;
  }
  auto at = options_.alias.rfind('@');
  std::string message_id = fmt::format("cased.{}.{}.ack.{}@{}", case_id, now, msg.sha256.substr(0, 12),
                                       at == std::string::npos ? "localhost" : options_.alias.substr(at + 1));
  db_.cached(
         "INSERT INTO outbox(case_id, kind, status, recipients, subject, message_id, next_attempt, created) "
         "VALUES (?, 'ack', 'queued', ?, '', ?, ?, ?)")
      .bind(1, case_id)
      .bind(2, json_list({ack.address}))
      .bind(3, message_id)
      .bind(4, now)
      .bind(5, now)
      .run();
  add_event(case_id, "ack", "cased", fmt::format("acknowledgement queued for {}", ack.address), now);
}

std::int64_t Store::store_outbound(std::int64_t case_id, const std::string& message_id, const std::vector<std::string>& to,
                                   const std::string& subject, const std::string& body, const std::string& raw,
                                   bool encrypted, const std::string& in_reply_to,
                                   const std::vector<std::string>& references, std::int64_t now,
                                   const std::optional<std::string>& signer) {
  auto body_offset = body_offset_in_raw(raw, body);
  db_.cached(
         "INSERT INTO messages(case_id, message_id, content_sha256, direction, source, from_addr, to_json, date, "
         "received, subject, body, encrypted, decryption, signature, raw, signer) "
         "VALUES (?, ?, ?, 'out', 'casectl', ?, ?, ?, ?, ?, ?, ?, 'none', 'good', ?, ?)")
      .bind(1, case_id)
      .bind(2, message_id)
      .bind(3, normalized_sha256(raw))
      .bind(4, options_.alias)
      .bind(5, json_list(to))
      .bind(6, now)
      .bind(7, now)
      .bind(8, subject)
      .bind_view(9, body_offset ? std::string_view() : std::string_view(body))
      .bind(10, encrypted)
      .bind_blob_view(11, raw)
      .bind(12, signer)
      .run();
  std::int64_t id = db_.last_insert_rowid();
  record_outbound_party(case_id, id, to);  // vendor_party.cpp
  if (body_offset) record_body_in_raw(id, *body_offset, body.size());
  std::vector<std::string> refs = references;
  if (!in_reply_to.empty() && std::find(refs.begin(), refs.end(), in_reply_to) == refs.end()) refs.push_back(in_reply_to);
  for (const auto& r : refs)
    db_.cached("INSERT INTO message_refs(message, ref) VALUES (?, ?)").bind(1, id).bind(2, r).run();
  touch(case_id, now);
  return id;
}

}  // namespace cased
