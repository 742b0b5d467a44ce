#include "store/store.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_set>

#include "cases/acknowledgement.hpp"
#include "cases/threading.hpp"
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

// A delivery status notification (RFC 3464) or an obvious bounce: what it
// quotes of the original (Message-IDs) and whom it failed to reach.
struct BounceInfo {
  std::vector<std::string> quoted_ids;
  std::vector<std::string> recipients;
};

// Where the body starts: after the first empty line (LF or CRLF ends).
std::optional<std::size_t> header_end(std::string_view raw) {
  constexpr auto npos = std::string_view::npos;
  auto lf = raw.find("\n\n"), crlf = raw.find("\n\r\n");
  std::size_t start = std::min(lf == npos ? npos : lf + 2, crlf == npos ? npos : crlf + 3);
  if (start == npos) return std::nullopt;
  return start;
}

std::optional<BounceInfo> bounce_info(const PreparedMessage& msg) {
  const ParsedMessage& pm = msg.parsed;
  std::string from = normalize_address(pm.from);
  std::string local = from.substr(0, from.find('@'));
  bool report = pm.root.is("multipart", "report") && iequals(pm.root.param("report-type"), "delivery-status");
  bool robot = local == "mailer-daemon" || local == "postmaster" || (msg.envelope.mail_from && msg.envelope.mail_from->empty());
  if (!report && !robot) return std::nullopt;
  BounceInfo info;
  // Skip the bounce's own header: what follows quotes the original.
  auto body_start = header_end(msg.raw);
  if (!body_start) return std::nullopt;
  std::string_view body = std::string_view(msg.raw).substr(*body_start);
  std::unordered_set<std::string> seen;  // recipients already listed: one lookup each, not a scan
  std::size_t pos = 0;
  while (pos < body.size()) {
    auto eol = body.find('\n', pos);
    std::string_view line = body.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
    pos = eol == std::string_view::npos ? body.size() : eol + 1;
    std::string lower = to_lower(line.substr(0, 32));
    if (lower.rfind("message-id:", 0) == 0) {
      auto lt = line.find('<'), gt = line.find('>');
      // A bounce quotes one message; each id costs a query, so a few are enough.
      if (lt != std::string_view::npos && gt != std::string_view::npos && gt > lt && info.quoted_ids.size() < 16)
        info.quoted_ids.emplace_back(line.substr(lt + 1, gt - lt - 1));
    } else if (lower.rfind("final-recipient:", 0) == 0 || lower.rfind("original-recipient:", 0) == 0) {
      auto semi = line.find(';');
      std::string addr = normalize_address(trim(line.substr(semi == std::string_view::npos ? line.find(':') + 1 : semi + 1)));
      if (!addr.empty() && seen.insert(addr).second) info.recipients.push_back(addr);
    }
  }
  if (info.quoted_ids.empty()) return std::nullopt;
  return info;
}

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
        if (e.code() == Errc::temporary) throw;
        results.emplace_back(Error{e.code(), e.what()});
        // Its keys are in the keyring now: they still came by mail.
        note_mail_keys(msg, std::nullopt, now);
      }
    }
    tx.commit();
    return results;
  });
}

IngestResult Store::ingest_one(PreparedMessage& msg, std::int64_t now) {
  const ParsedMessage& pm = msg.parsed;
  IngestResult result;
  const std::string actor = "cased";
  std::string message_id =
      pm.message_id.empty() ? fmt::format("no-message-id-{}@cased.invalid", msg.sha256.substr(0, 24)) : pm.message_id;

  // Idempotence: same Message-ID and same normalised bytes → already stored.
  {
    auto& st = db_.cached("SELECT id, case_id FROM messages WHERE message_id = ? AND content_sha256 = ?");
    st.bind(1, message_id).bind(2, msg.sha256);
    if (st.step()) {
      result.message = st.int64(0);
      result.case_id = resolve_case(st.int64(1)).value_or(st.int64(1));
      result.duplicate = true;
      st.reset();
      note_mail_keys(msg, result.case_id, now);
      return result;
    }
  }
  bool same_id_other_bytes = false;
  {
    auto& st = db_.cached("SELECT 1 FROM messages WHERE message_id = ? LIMIT 1");
    st.bind(1, message_id);
    same_id_other_bytes = st.step();
    st.reset();
  }

  std::string sender = normalize_address(pm.from);
  // What the receiving MTA said; a From that failed DMARC is not believed.
  auto auth = trusted_auth_results(msg.raw, options_.authserv_id);
  bool forged = auth && auth->dmarc_failed();

  std::optional<std::int64_t> target;
  std::string routed_by;
  // Before the rules: a bounce of mail we sent goes to that mail's case.
  std::optional<BounceInfo> bounce = bounce_info(msg);
  std::string bounced_message;
  if (bounce) {
    for (const auto& id : bounce->quoted_ids) {
      auto& st = db_.cached("SELECT case_id FROM messages WHERE message_id = ? AND direction = 'out' LIMIT 1");
      st.bind(1, id);
      if (st.step()) {
        target = resolve_case(st.int64(0));
        bounced_message = id;
      }
      st.reset();
      if (target) break;
    }
    if (target) routed_by = "bounce";
    else bounce.reset();
  }
  // Rules 1 and 2: a plus-address, a subject tag.
  if (!target) target = route_by_address(msg, routed_by);
  // Rule 3: References / In-Reply-To, in both directions, and shared ancestors
  // so that the result does not depend on arrival order.
  std::vector<std::string> refs = message_refs(pm, message_id);
  Route by_refs;
  if (!target) {
    by_refs = route_by_references(related_cases(refs, message_id, same_id_other_bytes), sender, forged);
    target = by_refs.target;
    if (target) routed_by = "references";
  }

  // Rule 4: a new case.
  if (!target) {
    std::string subject = trim(pm.subject);
    db_.cached("INSERT INTO cases(subject, status, created, updated) VALUES (?, 'new', ?, ?)")
        .bind(1, subject.empty() ? std::string("(no subject)") : subject)
        .bind(2, now)
        .bind(3, now)
        .run();
    target = db_.last_insert_rowid();
    result.new_case = true;
    add_event(*target, "created", actor, fmt::format("from message {}", message_id), now);
  }
  result.case_id = *target;
  join_cases(*target, by_refs, message_id, now);

  // Trust in a case: whoever opened it, an analyst added, or we wrote to.
  // A From that failed DMARC is nobody's: not even of a case it opens.
  bool unverified = !bounce && (forged || (!result.new_case && !sender_verified(*target, sender, forged)));
  result.message = insert_message(msg, *target, message_id, unverified, auth, now);
  for (const auto& r : refs)
    db_.cached("INSERT INTO message_refs(message, ref) VALUES (?, ?)").bind(1, result.message).bind(2, r).run();
  for (const auto& a : pm.attachments)
    db_.cached(
           "INSERT INTO attachments(message, filename, content_type, size, sha256, encrypted, signed) "
           "VALUES (?, ?, ?, ?, ?, ?, ?)")
        .bind(1, result.message)
        .bind(2, a.filename)
        .bind(3, a.content_type)
        .bind(4, static_cast<std::int64_t>(a.size))
        .bind(5, a.sha256)
        .bind(6, a.encrypted)
        .bind(7, a.is_signed)
        .run();
  // The search index follows after the commit (index_pending, schema 7).

  if (bounce) {
    for (const auto& r : bounce->recipients) {
      db_.cached("UPDATE participants SET bouncing = 1 WHERE case_id = ? AND address = ?").bind(1, *target).bind(2, r).run();
      add_event(*target, "bounce", actor, fmt::format("delivery of {} to {} failed", bounced_message, r), now);
    }
    if (bounce->recipients.empty())
      add_event(*target, "bounce", actor, fmt::format("delivery of {} failed", bounced_message), now);
  }
  record_arrival(msg, Arrival{*target, message_id, sender, routed_by, forged, unverified, result.new_case,
                              bounce.has_value(), same_id_other_bytes},
                 now);
  if (result.new_case && !bounce && options_.acknowledge) {
    // An acknowledgement to a forged From would be backscatter to whoever
    // was named: none.
    if (forged) add_event(*target, "ack", actor, "no acknowledgement: the From failed DMARC", now);
    else queue_acknowledgement(msg, *target, now);
  }
  touch(*target, now);
  return result;
}

// Threading rules 1 and 2: the case a plus-address or a subject tag names,
// if it exists. Sets `routed_by`. Neither says anything about trust.
std::optional<std::int64_t> Store::route_by_address(const PreparedMessage& msg, std::string& routed_by) {
  const ParsedMessage& pm = msg.parsed;
  // Rule 1: a plus-address. Over LMTP the envelope decides, else the headers.
  std::vector<std::string> addrs;
  if (msg.envelope.source == MessageSource::lmtp) {
    addrs = msg.envelope.recipients;
  } else {
    for (auto* list : {&pm.delivered_to, &pm.x_original_to, &pm.to, &pm.cc})
      addrs.insert(addrs.end(), list->begin(), list->end());
  }
  if (auto id = plus_route(addrs, options_.alias))
    if (auto target = resolve_case(*id)) {
      routed_by = "plus-address";
      return target;
    }
  // Rule 2: a subject tag, in the (protected) subject or the outer one.
  auto id = subject_tag(pm.subject, options_.tag);
  if (!id && !pm.outer_subject.empty()) id = subject_tag(pm.outer_subject, options_.tag);
  if (id)
    if (auto target = resolve_case(*id)) {
      routed_by = "subject tag";
      return target;
    }
  return std::nullopt;
}

// After the message is stored: the sender as a participant (verified or
// not), the events an analyst reads, and the keys it carried.
void Store::record_arrival(const PreparedMessage& msg, const Arrival& a, std::int64_t now) {
  const ParsedMessage& pm = msg.parsed;
  const std::string actor = "cased";
  // The sender joins the case (never the alias itself, never a mailer-daemon).
  if (!a.bounce && !a.sender.empty() && !match_alias(a.sender, options_.alias).ours) {
    db_.cached(
           "INSERT INTO participants(case_id, address, name, role, verified, added) VALUES (?1, ?2, ?3, 'reporter', ?4, ?5) "
           "ON CONFLICT(case_id, address) DO UPDATE SET verified = max(verified, excluded.verified)")
        .bind(1, a.case_id)
        .bind(2, a.sender)
        .bind(3, pm.from_name)
        .bind(4, !a.unverified)
        .bind(5, now)
        .run();
    if (db_.changes() > 0 && !a.new_case)
      add_event(a.case_id, "participant", actor, fmt::format("{}{}", a.sender, a.unverified ? " (unverified)" : ""), now);
  }

  add_event(a.case_id, "message", actor,
            fmt::format("message {} received{}", a.message_id, a.routed_by.empty() ? "" : " by " + a.routed_by), now);
  if (a.unverified)
    add_event(a.case_id, "unverified", actor,
              fmt::format("{} is not a verified participant{}; {}, unverified until an analyst adds them",
                          a.sender.empty() ? "?" : a.sender, a.forged ? " (its From failed DMARC)" : "",
                          a.routed_by.empty() ? std::string("opened the case") : "joined by " + a.routed_by),
              now);
  if (a.same_id_other_bytes)
    add_event(a.case_id, "duplicate", actor,
              fmt::format("message {} was already stored with different content; kept both", a.message_id), now);
  if (pm.malformed) add_event(a.case_id, "message", actor, fmt::format("message {} is malformed; stored raw", a.message_id), now);
  if (pm.decryption == DecryptionState::failed)
    add_event(a.case_id, "message", actor, fmt::format("message {} could not be decrypted: {}", a.message_id, pm.decryption_error), now);
  std::string no_pin = a.bounce       ? "it is a bounce"
                       : a.forged     ? "its From failed DMARC"
                       : a.unverified ? "the sender is not a verified participant"
                                      : "";
  record_keys(msg, a.case_id, no_pin, now);
}

std::vector<std::string> Store::message_refs(const ParsedMessage& pm, const std::string& message_id) {
  // At most this many: the In-Reply-To ids and the closest ancestors (the
  // end of References). Each costs lookups and a stored row, and a sender
  // can name tens of thousands.
  constexpr std::size_t kMaxRefs = 256;
  std::vector<std::string> refs;
  std::unordered_set<std::string_view> seen;
  auto take = [&](const std::string& r) {
    if (refs.size() < kMaxRefs && !r.empty() && r != message_id && seen.insert(r).second) refs.push_back(r);
  };
  for (const auto& r : pm.in_reply_to) take(r);
  std::size_t parents = refs.size();
  for (auto it = pm.references.rbegin(); it != pm.references.rend(); ++it) take(*it);
  // References in their written order, oldest first, after In-Reply-To.
  std::reverse(refs.begin() + static_cast<std::ptrdiff_t>(parents), refs.end());
  return refs;
}

// Every case a References/In-Reply-To lookup finds: the messages named, the
// messages that name the same ancestors, the messages naming this one (a
// parent that arrives after its reply), and an earlier copy of this one.
std::set<std::int64_t> Store::related_cases(const std::vector<std::string>& refs, const std::string& message_id,
                                            bool same_id_other_bytes) {
  std::set<std::int64_t> related;
  auto collect = [&](sql::Stmt& st) {
    while (st.step())
      if (auto c = resolve_case(st.int64(0))) related.insert(*c);
    st.reset();
  };
  for (const auto& r : refs) {
    collect(db_.cached("SELECT case_id FROM messages WHERE message_id = ?").bind(1, r));
    collect(db_.cached("SELECT m.case_id FROM message_refs r JOIN messages m ON m.id = r.message WHERE r.ref = ?")
                .bind(1, r));
  }
  collect(db_.cached("SELECT m.case_id FROM message_refs r JOIN messages m ON m.id = r.message WHERE r.ref = ?")
              .bind(1, message_id));
  if (same_id_other_bytes) collect(db_.cached("SELECT case_id FROM messages WHERE message_id = ?").bind(1, message_id));
  return related;
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
  auto& ins = db_.cached(
      auth ? "INSERT INTO messages(case_id, message_id, content_sha256, direction, source, envelope_from, from_addr, "
             "from_name, to_json, cc_json, date, received, subject, body, encrypted, mixed, decryption, "
             "decryption_error, signature, signer, signer_uid, unverified, malformed, problems, raw, auth_results, "
             "auth_dkim, auth_spf, auth_dmarc) "
             "VALUES (?, ?, ?, 'in', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
           : "INSERT INTO messages(case_id, message_id, content_sha256, direction, source, envelope_from, from_addr, "
             "from_name, to_json, cc_json, date, received, subject, body, encrypted, mixed, decryption, "
             "decryption_error, signature, signer, signer_uid, unverified, malformed, problems, raw) "
             "VALUES (?, ?, ?, 'in', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
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

// Queues the acknowledgement; the outbox composes and signs it off this
// thread. One per address per hour at most (RFC 3834).
void Store::queue_acknowledgement(const PreparedMessage& msg, std::int64_t case_id, std::int64_t now) {
  auto address = acknowledgement_address(msg, options_.alias);
  if (!address) return;
  std::string recipients = json_list({*address});
  // Quoted and +detail variants of one mailbox count as that mailbox.
  if (acknowledged_since(*address, now - 3600)) {
    add_event(case_id, "ack", "cased", fmt::format("no acknowledgement: {} was acknowledged within the hour", *address), now);
    return;
  }
  auto at = options_.alias.rfind('@');
  std::string message_id = fmt::format("cased.{}.{}.ack.{}@{}", case_id, now, msg.sha256.substr(0, 12),
                                       at == std::string::npos ? "localhost" : options_.alias.substr(at + 1));
  db_.cached(
         "INSERT INTO outbox(case_id, kind, status, recipients, subject, message_id, next_attempt, created) "
         "VALUES (?, 'ack', 'queued', ?, '', ?, ?, ?)")
      .bind(1, case_id)
      .bind(2, recipients)
      .bind(3, message_id)
      .bind(4, now)
      .bind(5, now)
      .run();
  add_event(case_id, "ack", "cased", fmt::format("acknowledgement queued for {}", *address), now);
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
  if (body_offset) record_body_in_raw(id, *body_offset, body.size());
  std::vector<std::string> refs = references;
  if (!in_reply_to.empty() && std::find(refs.begin(), refs.end(), in_reply_to) == refs.end()) refs.push_back(in_reply_to);
  for (const auto& r : refs)
    db_.cached("INSERT INTO message_refs(message, ref) VALUES (?, ?)").bind(1, id).bind(2, r).run();
  touch(case_id, now);
  return id;
}

}  // namespace cased
