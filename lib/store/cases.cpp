#include "store/store.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_set>

#include "cases/threading.hpp"
#include "core/util.hpp"
#include "mail/address.hpp"
#include "store/search_fields.hpp"
#include "store/store_guard.hpp"
#include "store/store_rows.hpp"

namespace cased {

using detail::guarded;
using detail::json_list;
using detail::parse_json_list;

namespace {

// A state word as the database holds it; a word this program does not know
// is a broken invariant, not something to show as if it were known.
template <class Parse>
auto stored_state(Parse parse, const std::string& word, std::int64_t message) {
  auto state = parse(word);
  if (!state) throw StoreError(Errc::internal, fmt::format("message {}: unknown state '{}'", message, word));
  return *state;
}

}  // namespace

std::optional<CaseSummary> Store::summary(std::int64_t id) {
  auto& st = db_.cached(
      "SELECT id, subject, status, assignee, created, updated, "
      "(SELECT count(*) FROM messages m WHERE m.case_id = cases.id), embargo, resolution FROM cases WHERE id = ?");
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
  s.resolution = st.opt_text(8);
  st.reset();
  auto& p = db_.cached("SELECT address FROM participants WHERE case_id = ? ORDER BY added, rowid");
  p.bind(1, id);
  while (p.step()) s.participants.push_back(p.text(0));
  p.reset();
  auto& c = db_.cached("SELECT cve FROM case_cves WHERE case_id = ? ORDER BY added, rowid");
  c.bind(1, id);
  while (c.step()) s.cves.push_back(c.text(0));
  c.reset();
  auto& t = db_.cached("SELECT tag FROM tags WHERE case_id = ? ORDER BY tag");
  t.bind(1, id);
  while (t.step()) s.tags.push_back(t.text(0));
  t.reset();
  return s;
}

namespace {

// The ORDER BY of list_cases; ties broken by id in the same direction.
std::string case_order(CaseSort sort, bool reverse) {
  const char* desc = reverse ? "ASC" : "DESC";
  const char* asc = reverse ? "DESC" : "ASC";
  switch (sort) {
    case CaseSort::created: return fmt::format(" ORDER BY created {0}, id {0}", desc);
    case CaseSort::id: return fmt::format(" ORDER BY id {}", desc);
    case CaseSort::embargo:  // the soonest first, none last (reversed: none first)
      return fmt::format(" ORDER BY embargo IS NULL {1}, embargo {0}, id {0}", asc, asc);
    case CaseSort::updated: break;
  }
  return fmt::format(" ORDER BY updated {0}, id {0}", desc);
}

}  // namespace

Result<std::vector<CaseSummary>> Store::list_cases(const CaseFilter& filter) {
  return guarded([&]() -> Result<std::vector<CaseSummary>> {
    // Only the filters given are in the statement, so that SQLite can read
    // the index of a state or an assignee in the order printed (schema 9)
    // and stop at the limit. States are bound as ?10, ?11, ...
    std::string sql = "SELECT id FROM cases WHERE merged_into IS NULL";
    if (!filter.statuses.empty()) {
      sql += " AND status IN (";
      for (std::size_t i = 0; i < filter.statuses.size(); ++i) sql += fmt::format("{}?{}", i ? ", " : "", 10 + i);
      sql += ")";
    }
    if (filter.assignee) sql += " AND assignee = ?2";
    if (filter.unassigned) sql += " AND assignee IS NULL";
    if (filter.embargoed) sql += " AND embargo IS NOT NULL";
    // Tags are bound as ?1000, ?1001, ... (store/search_fields.hpp).
    sql += detail::tag_terms(db_, filter.tags, 1000);
    // A closed case is not stale: nothing is left to do on it.
    if (filter.stale_days) sql += " AND updated <= ?3 AND status NOT IN ('resolved', 'rejected')";
    sql += case_order(filter.sort, filter.reverse) + " LIMIT ?4";
    auto st = db_.prepare(sql);
    for (std::size_t i = 0; i < filter.statuses.size(); ++i) st.bind(static_cast<int>(10 + i), filter.statuses[i]);
    if (filter.assignee) st.bind(2, *filter.assignee);
    for (std::size_t i = 0; i < filter.tags.size(); ++i) st.bind(static_cast<int>(1000 + i), filter.tags[i]);
    if (filter.stale_days) st.bind(3, now_unix() - std::int64_t{*filter.stale_days} * 86400);
    st.bind(4, filter.limit ? static_cast<std::int64_t>(*filter.limit) : std::int64_t{-1});
    std::vector<std::int64_t> ids;
    while (st.step()) ids.push_back(st.int64(0));
    std::vector<CaseSummary> out;
    for (auto id : ids)
      if (auto s = summary(id)) out.push_back(std::move(*s));
    return out;
  });
}

namespace {

// The messages query of get_case, column by column.
constexpr const char* kMessageColumns =
    "SELECT m.id, message_id, direction, from_addr, from_name, to_json, cc_json, date, received, m.subject, t.body, "
    "encrypted, mixed, decryption, decryption_error, signature, signer, signer_uid, unverified, malformed, "
    "problems, auth_results, auth_dkim, auth_spf, auth_dmarc, crypto, smime, m.source, party "
    "FROM messages m JOIN message_text t ON t.id = m.id WHERE case_id = ? ORDER BY received, m.id";

std::vector<Attachment> attachments_of(sql::Db& db, std::int64_t message) {
  std::vector<Attachment> out;
  auto& a = db.cached(
      "SELECT filename, content_type, size, sha256, encrypted, signed FROM attachments WHERE message = ? ORDER BY id");
  a.bind(1, message);
  while (a.step()) {
    Attachment att;
    att.filename = a.text(0);
    att.content_type = a.text(1);
    att.size = static_cast<std::uint64_t>(a.int64(2));
    att.sha256 = a.text(3);
    att.encrypted = a.int64(4) != 0;
    att.is_signed = a.int64(5) != 0;
    out.push_back(std::move(att));
  }
  a.reset();
  return out;
}

// The outbox row that sends outbound message `message`.
std::optional<OutboxState> outbox_state_of(sql::Db& db, std::int64_t message) {
  auto& o = db.cached("SELECT id, status FROM outbox WHERE message = ? ORDER BY id DESC LIMIT 1");
  o.bind(1, message);
  std::optional<OutboxState> out;
  if (o.step()) {
    auto status = parse_send_status(o.text(1)).value_or(SendStatus::queued);
    out = OutboxState{o.int64(0), status == SendStatus::sending ? SendStatus::queued : status};
  }
  o.reset();
  return out;
}

MessageView message_view(sql::Db& db, sql::Stmt& m) {
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
  v.decryption = stored_state(parse_decryption_state, m.text(13), v.id);
  v.decryption_error = m.opt_text(14);
  v.signature = stored_state(parse_signature_state, m.text(15), v.id);
  v.signer = m.opt_text(16);
  v.signer_uid = m.opt_text(17);
  v.unverified = m.int64(18) != 0;
  v.malformed = m.int64(19) != 0;
  v.problems = m.opt_text(20);
  v.crypto = m.opt_text(25);
  v.smime = detail::parse_smime_json(m.opt_text(26));
  if (auto header = m.opt_text(21)) {
    v.auth = parse_auth_results(*header);
    v.auth->dkim = m.opt_text(22).value_or("");
    v.auth->spf = m.opt_text(23).value_or("");
    v.auth->dmarc = m.opt_text(24).value_or("");
  }
  v.source = m.text(27);
  v.party = m.opt_text(28);
  v.attachments = attachments_of(db, v.id);
  if (v.direction == "out") v.outbox = outbox_state_of(db, v.id);
  return v;
}

Disclosure disclosure_of(sql::Db& db, std::int64_t case_id) {
  Disclosure out;
  auto f = db.prepare("SELECT embargo, product, versions, cvss FROM cases WHERE id = ?");
  f.bind(1, case_id);
  if (f.step()) {
    out.embargo = f.opt_text(0);
    out.product = f.opt_text(1);
    out.versions = f.opt_text(2);
    if (auto vector = f.opt_text(3)) {
      auto cvss = parse_cvss(*vector);
      if (cvss) out.cvss = std::move(*cvss);
    }
  }
  auto cves = db.prepare("SELECT cve FROM case_cves WHERE case_id = ? ORDER BY added, rowid");
  cves.bind(1, case_id);
  while (cves.step()) out.cves.push_back(cves.text(0));
  return out;
}

}  // namespace

Result<CaseDetail> Store::get_case(std::int64_t id) {
  return guarded([&]() -> Result<CaseDetail> {
    auto s = summary(id);
    if (!s) return Error{Errc::not_found, fmt::format("no such case: {}", id)};
    CaseDetail d;
    d.summary = std::move(*s);
    merge_links(d);
    auto m = db_.prepare(kMessageColumns);
    m.bind(1, d.summary.id);
    while (m.step()) d.messages.push_back(message_view(db_, m));
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
    d.disclosure = disclosure_of(db_, d.summary.id);
    d.vendors = case_vendor_views(d.summary.id);
    return d;
  });
}

Status Store::assign(std::int64_t id, const std::optional<std::string>& user, const std::string& actor) {
  if (user && user->empty()) return Error{Errc::invalid, "an assignee needs a name (unassign with --none)"};
  return guarded([&]() -> Status {
    sql::Transaction tx(db_);
    const std::int64_t resolved = case_to_change(id);  // refuses a merged case
    std::int64_t now = now_unix();
    db_.cached("UPDATE cases SET assignee = ? WHERE id = ?").bind(1, user).bind(2, resolved).run();
    add_event(resolved, "assign", actor, user.value_or(""), now);
    touch(resolved, now);
    tx.commit();
    return ok_status();
  });
}

Status Store::add_comment(std::int64_t id, const std::string& text, const std::string& actor) {
  return guarded([&]() -> Status {
    sql::Transaction tx(db_);
    const std::int64_t resolved = case_to_change(id);  // refuses a merged case
    std::int64_t now = now_unix();
    insert_comment(resolved, text, actor, now);
    touch(resolved, now);
    tx.commit();
    return ok_status();
  });
}

std::int64_t Store::insert_comment(std::int64_t case_id, const std::string& text, const std::string& actor,
                                   std::int64_t now) {
  db_.cached("INSERT INTO comments(case_id, author, text, created) VALUES (?, ?, ?, ?)")
      .bind(1, case_id)
      .bind(2, actor)
      .bind(3, text)
      .bind(4, now)
      .run();
  std::int64_t comment = db_.last_insert_rowid();
  db_.cached("INSERT INTO note_index(subject, body, case_id, kind, ref) VALUES ('', ?, ?, 'comment', ?)")
      .bind(1, text)
      .bind(2, case_id)
      .bind(3, comment)
      .run();
  add_event(case_id, "comment", actor, fmt::format("comment {}", comment), now);
  return comment;
}

Result<std::vector<std::string>> Store::set_disclosure(std::int64_t id, const DisclosureChange& change,
                                                       const std::string& actor) {
  if (auto valid = validate(change); !valid) return valid.error();
  return guarded([&]() -> Result<std::vector<std::string>> {
    sql::Transaction tx(db_);
    const std::int64_t resolved = case_to_change(id);  // refuses a merged case
    std::int64_t now = now_unix();
    std::vector<std::string> changes;
    // Text columns: an empty string clears the field.
    auto set_field = [&](const char* column, const char* label, const std::optional<std::string>& value) {
      if (!value) return;
      auto st = db_.prepare(fmt::format("SELECT {} FROM cases WHERE id = ?", column));
      st.bind(1, resolved);
      st.step();
      std::optional<std::string> old = st.opt_text(0);
      std::optional<std::string> next = value->empty() ? std::nullopt : value;
      if (old == next) return;
      db_.prepare(fmt::format("UPDATE cases SET {} = ? WHERE id = ?", column)).bind(1, next).bind(2, resolved).run();
      changes.push_back(fmt::format("{}: {} -> {}", label, old.value_or("none"), next.value_or("none")));
    };
    set_field("embargo", "embargo", change.embargo);
    set_field("product", "product", change.product);
    set_field("versions", "versions", change.versions);
    set_field("cvss", "cvss", change.cvss);
    for (const auto& cve : change.add_cves) {
      db_.cached("INSERT OR IGNORE INTO case_cves(case_id, cve, added) VALUES (?, ?, ?)")
          .bind(1, resolved)
          .bind(2, cve)
          .bind(3, now)
          .run();
      if (db_.changes() == 0) continue;
      // Searchable: `casectl search CVE-2026-12345` finds the case.
      db_.cached("INSERT INTO note_index(subject, body, case_id, kind, ref) VALUES ('', ?, ?, 'cve', 0)")
          .bind(1, cve)
          .bind(2, resolved)
          .run();
      changes.push_back(fmt::format("cve: +{}", cve));
    }
    for (const auto& cve : change.remove_cves) {
      db_.cached("DELETE FROM case_cves WHERE case_id = ? AND cve = ?").bind(1, resolved).bind(2, cve).run();
      if (db_.changes() == 0) continue;
      db_.cached("DELETE FROM note_index WHERE kind = 'cve' AND case_id = ? AND body = ?")
          .bind(1, resolved)
          .bind(2, cve)
          .run();
      changes.push_back(fmt::format("cve: -{}", cve));
    }
    for (const auto& detail : changes) add_event(resolved, "disclosure", actor, detail, now);
    tx.commit();
    return changes;
  });
}

}  // namespace cased
