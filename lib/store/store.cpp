#include "store/store.hpp"

#include <unordered_set>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_set>

#include "store/migrations.hpp"
#include "store/store_guard.hpp"
#include "mail/mime.hpp"
#include "cases/acknowledgement.hpp"
#include "cases/threading.hpp"
#include "mail/address.hpp"
#include "core/util.hpp"

namespace cased {
namespace {

using detail::guarded;

// Never throws on bytes that are not UTF-8 (older rows, hostile input): they become U+FFFD.
std::string json_list(const std::vector<std::string>& v) {
  return nlohmann::json(v).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::vector<std::string> parse_json_list(const std::string& s) {
  auto j = nlohmann::json::parse(s, nullptr, false);
  std::vector<std::string> out;
  if (j.is_array())
    for (auto& e : j)
      if (e.is_string()) out.push_back(e.get<std::string>());
  return out;
}


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

const std::vector<std::string>& case_states() {
  static const std::vector<std::string> states = {"new", "open", "waiting", "resolved", "rejected"};
  return states;
}

Result<Store> Store::open(const std::string& path, StoreOptions options) {
  return open_at_version(path, std::move(options), 1 << 30);
}

Result<Store> Store::open_at_version(const std::string& path, StoreOptions options, int version) {
  return guarded([&]() -> Result<Store> {
    Store s(sql::Db::open(path, true), std::move(options));
    s.register_functions();
    s.migrate(version);
    return s;
  });
}

int Store::schema_version() {
  auto& st = db_.cached("PRAGMA user_version");
  st.step();
  int v = static_cast<int>(st.int64(0));
  st.reset();
  return v;
}

void Store::migrate(int up_to) {
  if (schema_version() >= std::min<int>(up_to, migrations().empty() ? 0 : migrations().back().version)) return;
  // IMMEDIATE: cased and casectl starting together must not both migrate.
  sql::Transaction tx(db_);
  int current = schema_version();
  for (const auto& m : migrations()) {
    if (m.version <= current || m.version > up_to) continue;
    db_.exec(m.sql);
    db_.exec(fmt::format("PRAGMA user_version = {}", m.version));
  }
  tx.commit();
}

std::optional<std::int64_t> Store::resolve_case(std::int64_t id) {
  for (int hops = 0; hops < 64; ++hops) {
    auto& st = db_.cached("SELECT merged_into FROM cases WHERE id = ?");
    st.bind(1, id);
    if (!st.step()) return std::nullopt;
    auto next = st.opt_int64(0);
    st.reset();
    if (!next) return id;
    id = *next;
  }
  return std::nullopt;
}

void Store::add_event(std::int64_t case_id, std::string_view kind, std::string_view actor, std::string_view detail,
                      std::int64_t now) {
  db_.cached("INSERT INTO events(case_id, kind, actor, created, detail) VALUES (?, ?, ?, ?, ?)")
      .bind(1, case_id)
      .bind(2, kind)
      .bind(3, actor)
      .bind(4, now)
      .bind(5, detail)
      .run();
}

void Store::touch(std::int64_t case_id, std::int64_t now) {
  db_.cached("UPDATE cases SET updated = max(updated, ?) WHERE id = ?").bind(1, now).bind(2, case_id).run();
}

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
  if (msg.envelope.source == "lmtp") {
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
  if (pm.decryption == "failed")
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
      .bind(4, msg.envelope.source)
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
      .bind(16, pm.decryption)
      .bind(17, pm.decryption_error.empty() ? std::nullopt : std::optional<std::string>(pm.decryption_error))
      .bind(18, pm.signature)
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

std::optional<CaseSummary> Store::summary(std::int64_t id) {
  auto& st = db_.cached(
      "SELECT id, subject, status, assignee, created, updated, "
      "(SELECT count(*) FROM messages m WHERE m.case_id = cases.id), embargo FROM cases WHERE id = ?");
  st.bind(1, id);
  if (!st.step()) return std::nullopt;
  CaseSummary s;
  s.id = st.int64(0);
  s.subject = st.text(1);
  s.status = st.text(2);
  s.assignee = st.opt_text(3);
  s.created = st.int64(4);
  s.updated = st.int64(5);
  s.messages = static_cast<int>(st.int64(6));
  s.embargo = st.opt_text(7);
  st.reset();
  auto& p = db_.cached("SELECT address FROM participants WHERE case_id = ? ORDER BY added, rowid");
  p.bind(1, id);
  while (p.step()) s.participants.push_back(p.text(0));
  p.reset();
  return s;
}

Result<std::vector<CaseSummary>> Store::list_cases(const CaseFilter& filter) {
  return guarded([&]() -> Result<std::vector<CaseSummary>> {
    auto st = db_.prepare(
        "SELECT id FROM cases WHERE merged_into IS NULL AND (?1 IS NULL OR status = ?1) "
        "AND (?2 IS NULL OR assignee = ?2) AND (?3 IS NULL OR updated <= ?3) ORDER BY id");
    st.bind(1, filter.status).bind(2, filter.assignee);
    if (filter.stale_days) st.bind(3, now_unix() - std::int64_t{*filter.stale_days} * 86400);
    std::vector<std::int64_t> ids;
    while (st.step()) ids.push_back(st.int64(0));
    std::vector<CaseSummary> out;
    for (auto id : ids)
      if (auto s = summary(id)) out.push_back(std::move(*s));
    return out;
  });
}

Result<CaseDetail> Store::get_case(std::int64_t id) {
  return guarded([&]() -> Result<CaseDetail> {
    auto resolved = resolve_case(id);
    auto s = resolved ? summary(*resolved) : std::nullopt;
    if (!s) return Error{Errc::not_found, fmt::format("no such case: {}", id)};
    CaseDetail d;
    d.summary = std::move(*s);
    auto m = db_.prepare(
        "SELECT m.id, message_id, direction, from_addr, from_name, to_json, cc_json, date, received, m.subject, t.body, "
        "encrypted, mixed, decryption, decryption_error, signature, signer, signer_uid, unverified, malformed, "
        "problems, auth_results, auth_dkim, auth_spf, auth_dmarc "
        "FROM messages m JOIN message_text t ON t.id = m.id WHERE case_id = ? ORDER BY received, m.id");
    m.bind(1, d.summary.id);
    while (m.step()) {
      MessageView v;
      v.id = m.int64(0);
      v.message_id = m.text(1);
      v.direction = m.text(2);
      v.from = m.text(3);
      v.from_name = m.text(4);
      v.to = parse_json_list(m.text(5));
      v.cc = parse_json_list(m.text(6));
      v.date = m.opt_int64(7);
      v.received = m.int64(8);
      v.subject = m.text(9);
      v.body = m.text(10);
      v.encrypted = m.int64(11) != 0;
      v.mixed = m.int64(12) != 0;
      v.decryption = m.text(13);
      v.decryption_error = m.opt_text(14);
      v.signature = m.text(15);
      v.signer = m.opt_text(16);
      v.signer_uid = m.opt_text(17);
      v.unverified = m.int64(18) != 0;
      v.malformed = m.int64(19) != 0;
      v.problems = m.opt_text(20);
      if (auto header = m.opt_text(21)) {
        v.auth = parse_auth_results(*header);
        v.auth->dkim = m.opt_text(22).value_or("");
        v.auth->spf = m.opt_text(23).value_or("");
        v.auth->dmarc = m.opt_text(24).value_or("");
      }
      auto& a = db_.cached(
          "SELECT filename, content_type, size, sha256, encrypted, signed FROM attachments WHERE message = ? ORDER BY id");
      a.bind(1, v.id);
      while (a.step()) {
        Attachment att;
        att.filename = a.text(0);
        att.content_type = a.text(1);
        att.size = static_cast<std::uint64_t>(a.int64(2));
        att.sha256 = a.text(3);
        att.encrypted = a.int64(4) != 0;
        att.is_signed = a.int64(5) != 0;
        v.attachments.push_back(std::move(att));
      }
      a.reset();
      d.messages.push_back(std::move(v));
    }
    auto c = db_.prepare("SELECT author, text, created FROM comments WHERE case_id = ? ORDER BY created, id");
    c.bind(1, d.summary.id);
    while (c.step()) d.comments.push_back({c.text(0), c.text(1), c.int64(2)});
    auto e = db_.prepare("SELECT kind, actor, created, detail FROM events WHERE case_id = ? ORDER BY created, id");
    e.bind(1, d.summary.id);
    while (e.step()) d.events.push_back({e.text(0), e.text(1), e.int64(2), e.text(3)});
    auto p = db_.prepare(
        "SELECT address, name, role, verified, bouncing FROM participants WHERE case_id = ? ORDER BY added, rowid");
    p.bind(1, d.summary.id);
    while (p.step()) d.participants.push_back({p.text(0), p.text(1), p.text(2), p.int64(3) != 0, p.int64(4) != 0});
    auto f = db_.prepare("SELECT embargo, product, versions, cvss FROM cases WHERE id = ?");
    f.bind(1, d.summary.id);
    if (f.step()) {
      d.disclosure.embargo = f.opt_text(0);
      d.disclosure.product = f.opt_text(1);
      d.disclosure.versions = f.opt_text(2);
      if (auto vector = f.opt_text(3)) {
        auto cvss = parse_cvss(*vector);
        if (cvss) d.disclosure.cvss = std::move(*cvss);
      }
    }
    auto cves = db_.prepare("SELECT cve FROM case_cves WHERE case_id = ? ORDER BY added, rowid");
    cves.bind(1, d.summary.id);
    while (cves.step()) d.disclosure.cves.push_back(cves.text(0));
    return d;
  });
}

Result<std::size_t> Store::index_pending(const std::vector<IndexText>& known, bool durable) {
  return guarded([&]() -> Result<std::size_t> {
    constexpr std::int64_t kChunk = 256;
    // Without a lock first: usually there is nothing to do.
    auto& any = db_.cached(
        "SELECT 1 FROM messages WHERE id > (SELECT indexed_upto FROM search_progress WHERE id = 1) LIMIT 1");
    bool pending = any.step();
    any.reset();
    if (!pending) return std::size_t{0};

    struct SyncSetting {
      sql::Db& db;
      bool relaxed;
      SyncSetting(sql::Db& d, bool r) : db(d), relaxed(r) {
        if (relaxed) db.exec("PRAGMA synchronous = NORMAL");
      }
      ~SyncSetting() {
        try {
          if (relaxed) db.exec("PRAGMA synchronous = FULL");
        } catch (...) {  // NOLINT(bugprone-empty-catch): cannot fail between transactions
        }
      }
    } sync_setting(db_, !durable);

    std::size_t total = 0;
    for (;;) {
      sql::Transaction tx(db_);
      auto& upto_q = db_.cached("SELECT indexed_upto FROM search_progress WHERE id = 1");
      std::int64_t upto = upto_q.step() ? upto_q.int64(0) : 0;
      upto_q.reset();
      std::vector<std::int64_t> ids;
      auto& ids_q = db_.cached("SELECT id FROM messages WHERE id > ? ORDER BY id LIMIT ?");
      ids_q.bind(1, upto).bind(2, kChunk);
      while (ids_q.step()) ids.push_back(ids_q.int64(0));
      ids_q.reset();
      if (ids.empty()) return total;
      for (std::int64_t id : ids) {
        // The text is bound, not copied: it outlives run().
        auto insert = [&](std::string_view subject, std::string_view body) {
          db_.cached("INSERT INTO message_index(rowid, subject, body) VALUES (?, ?, ?)")
              .bind(1, id)
              .bind_view(2, subject)
              .bind_view(3, body)
              .run();
        };
        auto k = std::lower_bound(known.begin(), known.end(), id,
                                  [](const IndexText& t, std::int64_t v) { return t.id < v; });
        if (k != known.end() && k->id == id) {
          insert(k->subject, k->body);
          continue;
        }
        auto& text = db_.cached("SELECT subject, body FROM message_text WHERE id = ?");
        text.bind(1, id);
        if (text.step()) insert(text.view(0), text.view(1));
        text.reset();
      }
      db_.cached("UPDATE search_progress SET indexed_upto = ? WHERE id = 1").bind(1, ids.back()).run();
      tx.commit();
      total += ids.size();
      if (static_cast<std::int64_t>(ids.size()) < kChunk) return total;
    }
  });
}

Result<std::vector<SearchHit>> Store::search(const std::string& query) {
  // A reader without write access searches what is indexed so far.
  if (auto indexed = index_pending(); !indexed)
    spdlog::debug("search: could not index the newest messages first: {}", indexed.error().message);
  return guarded([&]() -> Result<std::vector<SearchHit>> {
    auto run = [&](const std::string& q) {
      // Both indexes rank with bm25 over the same columns; one list, best first.
      auto st = db_.prepare(
          "SELECT case_id, snip FROM ("
          " SELECT m.case_id AS case_id, snippet(message_index, -1, '[', ']', '...', 12) AS snip,"
          "        message_index.rank AS r"
          " FROM message_index JOIN messages m ON m.id = message_index.rowid WHERE message_index MATCH ?1"
          " UNION ALL"
          " SELECT case_id, snippet(note_index, -1, '[', ']', '...', 12), note_index.rank"
          " FROM note_index WHERE note_index MATCH ?1"
          ") ORDER BY r LIMIT 1000");
      st.bind(1, q);
      std::vector<std::pair<std::int64_t, std::string>> rows;
      while (st.step()) rows.emplace_back(st.int64(0), st.text(1));
      return rows;
    };
    std::vector<std::pair<std::int64_t, std::string>> rows;
    try {
      rows = run(query);
    } catch (const StoreError& e) {
      if (e.code() == Errc::temporary) throw;
      // Not FTS5 syntax: search for the words as typed, keeping a trailing * as a prefix query.
      std::string q;
      std::string word;
      auto flush = [&] {
        if (word.empty()) return;
        bool prefix = word.back() == '*';
        if (prefix) word.pop_back();
        std::string quoted = "\"";
        for (char ch : word) quoted += ch == '"' ? std::string("\"\"") : std::string(1, ch);
        quoted += "\"";
        q += (q.empty() ? "" : " ") + quoted + (prefix ? "*" : "");
        word.clear();
      };
      for (char ch : query) {
        if (ch == ' ' || ch == '\t') flush();
        else word += ch;
      }
      flush();
      if (q.empty()) return std::vector<SearchHit>{};
      rows = run(q);
    }
    std::vector<SearchHit> hits;
    std::set<std::int64_t> seen;
    for (auto& [case_id, snippet] : rows) {
      auto id = resolve_case(case_id);
      if (!id || !seen.insert(*id).second) continue;
      if (auto s = summary(*id)) hits.push_back({std::move(*s), std::move(snippet)});
    }
    return hits;
  });
}

Status Store::assign(std::int64_t id, const std::string& user, const std::string& actor) {
  return guarded([&]() -> Status {
    sql::Transaction tx(db_);
    auto resolved = resolve_case(id);
    if (!resolved) return Error{Errc::not_found, fmt::format("no such case: {}", id)};
    std::int64_t now = now_unix();
    db_.cached("UPDATE cases SET assignee = ? WHERE id = ?").bind(1, user).bind(2, *resolved).run();
    add_event(*resolved, "assign", actor, user, now);
    touch(*resolved, now);
    tx.commit();
    return ok_status();
  });
}

Status Store::set_status(std::int64_t id, const std::string& status, const std::string& actor) {
  return guarded([&]() -> Status {
    const auto& states = case_states();
    if (std::find(states.begin(), states.end(), status) == states.end())
      return Error{Errc::invalid, fmt::format("unknown status '{}' (new, open, waiting, resolved, rejected)", status)};
    sql::Transaction tx(db_);
    auto resolved = resolve_case(id);
    if (!resolved) return Error{Errc::not_found, fmt::format("no such case: {}", id)};
    auto& st = db_.cached("SELECT status FROM cases WHERE id = ?");
    st.bind(1, *resolved);
    st.step();
    std::string old = st.text(0);
    st.reset();
    if (old == status) return ok_status();
    std::int64_t now = now_unix();
    db_.cached("UPDATE cases SET status = ? WHERE id = ?").bind(1, status).bind(2, *resolved).run();
    add_event(*resolved, "status", actor, fmt::format("{} -> {}", old, status), now);
    touch(*resolved, now);
    tx.commit();
    return ok_status();
  });
}

Status Store::add_comment(std::int64_t id, const std::string& text, const std::string& actor) {
  return guarded([&]() -> Status {
    sql::Transaction tx(db_);
    auto resolved = resolve_case(id);
    if (!resolved) return Error{Errc::not_found, fmt::format("no such case: {}", id)};
    std::int64_t now = now_unix();
    db_.cached("INSERT INTO comments(case_id, author, text, created) VALUES (?, ?, ?, ?)")
        .bind(1, *resolved)
        .bind(2, actor)
        .bind(3, text)
        .bind(4, now)
        .run();
    std::int64_t comment = db_.last_insert_rowid();
    db_.cached("INSERT INTO note_index(subject, body, case_id, kind, ref) VALUES ('', ?, ?, 'comment', ?)")
        .bind(1, text)
        .bind(2, *resolved)
        .bind(3, comment)
        .run();
    add_event(*resolved, "comment", actor, fmt::format("comment {}", comment), now);
    touch(*resolved, now);
    tx.commit();
    return ok_status();
  });
}

Result<std::vector<std::string>> Store::set_disclosure(std::int64_t id, const DisclosureChange& change,
                                                       const std::string& actor) {
  if (auto valid = validate(change); !valid) return valid.error();
  return guarded([&]() -> Result<std::vector<std::string>> {
    sql::Transaction tx(db_);
    auto resolved = resolve_case(id);
    if (!resolved) return Error{Errc::not_found, fmt::format("no such case: {}", id)};
    std::int64_t now = now_unix();
    std::vector<std::string> changes;
    // Text columns: an empty string clears the field.
    auto set_field = [&](const char* column, const char* label, const std::optional<std::string>& value) {
      if (!value) return;
      auto st = db_.prepare(fmt::format("SELECT {} FROM cases WHERE id = ?", column));
      st.bind(1, *resolved);
      st.step();
      std::optional<std::string> old = st.opt_text(0);
      std::optional<std::string> next = value->empty() ? std::nullopt : value;
      if (old == next) return;
      db_.prepare(fmt::format("UPDATE cases SET {} = ? WHERE id = ?", column)).bind(1, next).bind(2, *resolved).run();
      changes.push_back(fmt::format("{}: {} -> {}", label, old.value_or("none"), next.value_or("none")));
    };
    set_field("embargo", "embargo", change.embargo);
    set_field("product", "product", change.product);
    set_field("versions", "versions", change.versions);
    set_field("cvss", "cvss", change.cvss);
    for (const auto& cve : change.add_cves) {
      db_.cached("INSERT OR IGNORE INTO case_cves(case_id, cve, added) VALUES (?, ?, ?)")
          .bind(1, *resolved)
          .bind(2, cve)
          .bind(3, now)
          .run();
      if (db_.changes() == 0) continue;
      // Searchable: `casectl search CVE-2026-12345` finds the case.
      db_.cached("INSERT INTO note_index(subject, body, case_id, kind, ref) VALUES ('', ?, ?, 'cve', 0)")
          .bind(1, cve)
          .bind(2, *resolved)
          .run();
      changes.push_back(fmt::format("cve: +{}", cve));
    }
    for (const auto& cve : change.remove_cves) {
      db_.cached("DELETE FROM case_cves WHERE case_id = ? AND cve = ?").bind(1, *resolved).bind(2, cve).run();
      if (db_.changes() == 0) continue;
      db_.cached("DELETE FROM note_index WHERE kind = 'cve' AND case_id = ? AND body = ?")
          .bind(1, *resolved)
          .bind(2, cve)
          .run();
      changes.push_back(fmt::format("cve: -{}", cve));
    }
    for (const auto& detail : changes) add_event(*resolved, "disclosure", actor, detail, now);
    tx.commit();
    return changes;
  });
}

}  // namespace cased
