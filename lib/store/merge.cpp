// Merge and split (casectl merge, casectl split), members of Store
// (store.hpp). A merge moves everything a case holds into another and
// leaves it as a record that points there (merged_into, which the joining
// of a thread split by arrival order sets too); a split opens a case for
// some of a case's messages and remembers where they came from
// (split_from, schema 14). Each is one transaction.
#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "core/util.hpp"
#include "mail/address.hpp"
#include "store/store.hpp"
#include "store/store_guard.hpp"
#include "store/store_rows.hpp"

namespace cased {

using detail::guarded;

namespace {

constexpr int kMaxHops = 64;        // as far as resolve_case follows merges
constexpr std::size_t kNamed = 10;  // addresses or message ids named in one event

bool closed(const std::string& status) { return status == "resolved" || status == "rejected"; }

std::string case_status(sql::Db& db, std::int64_t id) {
  auto& st = db.cached("SELECT status FROM cases WHERE id = ?");
  st.bind(1, id);
  std::string out = st.step() ? st.text(0) : std::string();
  st.reset();
  return out;
}

std::int64_t count(sql::Db& db, const char* query, std::int64_t id) {
  auto& st = db.cached(query);
  st.bind(1, id);
  std::int64_t n = st.step() ? st.int64(0) : 0;
  st.reset();
  return n;
}

// "a, b, c and 4 more": the first few of a list for an event's detail.
template <class T>
std::string named(const std::vector<T>& items) {
  std::string out;
  for (std::size_t i = 0; i < items.size() && i < kNamed; ++i) out += fmt::format("{}{}", i ? ", " : "", items[i]);
  if (items.size() > kNamed) out += fmt::format(" and {} more", items.size() - kNamed);
  return out;
}

// `into` keeps its assignee and disclosure fields where it has them and
// takes `from`'s where it has none; returns what of `from`'s was not kept.
// `from`'s disclosure fields are cleared: they belong to `into` now.
std::vector<std::string> merge_fields(sql::Db& db, std::int64_t from, std::int64_t into) {
  std::vector<std::string> dropped;
  for (const char* column : {"assignee", "embargo", "product", "versions", "cvss"}) {
    auto st =
        db.prepare(fmt::format("SELECT f.{0}, i.{0} FROM cases f, cases i WHERE f.id = ?1 AND i.id = ?2", column));
    st.bind(1, from).bind(2, into);
    if (!st.step()) continue;
    std::optional<std::string> mine = st.opt_text(0), kept = st.opt_text(1);
    if (!mine) continue;
    if (!kept)
      db.prepare(fmt::format("UPDATE cases SET {} = ?1 WHERE id = ?2", column)).bind(1, *mine).bind(2, into).run();
    else if (*kept != *mine)
      dropped.push_back(fmt::format("its {} '{}' not kept", column, *mine));
  }
  db.cached("UPDATE cases SET embargo = NULL, product = NULL, versions = NULL, cvss = NULL WHERE id = ?")
      .bind(1, from)
      .run();
  return dropped;
}

// `from`'s participants join `into`. One who is in both keeps `into`'s row
// (its role; its name unless empty) and is verified, or bouncing, when
// either case says so: merging is an analyst's act, and whoever was
// verified in `from` (its reporter, those an analyst added) is vouched for
// in the merged case, while nobody unverified in both becomes verified.
// Returns the addresses that become verified participants of `into`.
// Here and in move_rows ?1 is `into` and ?2 `from`: a statement naming
// only ?2 still has two parameters to bind.
std::vector<std::string> merge_participants(sql::Db& db, std::int64_t from, std::int64_t into) {
  auto& st = db.cached(
      "SELECT p.address FROM participants p WHERE p.case_id = ?2 AND p.verified = 1 AND NOT EXISTS "
      "(SELECT 1 FROM participants q WHERE q.case_id = ?1 AND q.address = p.address AND q.verified = 1) "
      "ORDER BY p.added, p.rowid");
  st.bind(1, into).bind(2, from);
  std::vector<std::string> newly;
  while (st.step()) newly.push_back(st.text(0));
  st.reset();
  for (const char* q :
       {"UPDATE participants AS i SET verified = max(i.verified, f.verified), bouncing = max(i.bouncing, f.bouncing), "
        "name = CASE WHEN i.name = '' THEN f.name ELSE i.name END "
        "FROM participants AS f WHERE i.case_id = ?1 AND f.case_id = ?2 AND f.address = i.address",
        "INSERT OR IGNORE INTO participants(case_id, address, name, role, verified, bouncing, added) "
        "SELECT ?1, address, name, role, verified, bouncing, added FROM participants WHERE case_id = ?2",
        "DELETE FROM participants WHERE case_id = ?2"})
    db.cached(q).bind(1, into).bind(2, from).run();
  return newly;
}


}  // namespace

namespace detail {

// Every row that names `from` and is not its own history (its events stay
// with it) names `into`: messages (their search index rows follow the
// message), comments, outbound mail, key records, CVE ids (the union) and
// tags, and the search index rows of comments and CVE ids; and the case's
// vendors (move_vendor_rows).
void move_rows(sql::Db& db, std::int64_t from, std::int64_t into) {
  for (const char* q :
       {"UPDATE messages SET case_id = ?1 WHERE case_id = ?2", "UPDATE comments SET case_id = ?1 WHERE case_id = ?2",
        "UPDATE outbox SET case_id = ?1 WHERE case_id = ?2", "UPDATE keys SET case_id = ?1 WHERE case_id = ?2",
        "UPDATE mail_keys SET case_id = ?1 WHERE case_id = ?2",
        "DELETE FROM note_index WHERE case_id = ?2 AND kind = 'cve' "
        "AND body IN (SELECT cve FROM case_cves WHERE case_id = ?1)",
        "UPDATE note_index SET case_id = ?1 WHERE case_id = ?2",
        "INSERT OR IGNORE INTO case_cves(case_id, cve, added) SELECT ?1, cve, added FROM case_cves WHERE case_id = ?2",
        "DELETE FROM case_cves WHERE case_id = ?2",
        "INSERT OR IGNORE INTO tags(case_id, tag) SELECT ?1, tag FROM tags WHERE case_id = ?2",
        "DELETE FROM tags WHERE case_id = ?2"})
    db.cached(q).bind(1, into).bind(2, from).run();
  move_vendor_rows(db, from, into);
}

}  // namespace detail

std::int64_t Store::case_to_change(std::int64_t id) {
  auto& st = db_.cached("SELECT merged_into FROM cases WHERE id = ?");
  st.bind(1, id);
  bool found = st.step();
  bool merged = found && !st.is_null(0);
  std::int64_t next = merged ? st.int64(0) : 0;
  st.reset();
  if (!found) throw StoreError(Errc::not_found, fmt::format("no such case: {}", id));
  if (!merged) return id;
  std::int64_t live = resolve_case(id).value_or(next);
  throw StoreError(Errc::invalid, fmt::format("[{0}#{1}] was merged into [{0}#{2}]: work on {2} (casectl show {2})",
                                              options_.tag, id, live));
}

void Store::merge_links(CaseDetail& detail) {
  auto& st = db_.cached("SELECT merged_into, split_from FROM cases WHERE id = ?");
  st.bind(1, detail.summary.id);
  bool merged = false;
  std::int64_t next = 0;
  if (st.step()) {
    merged = !st.is_null(0);
    next = merged ? st.int64(0) : 0;
    detail.split_from = st.opt_int64(1);
  }
  st.reset();
  if (!merged) return;
  detail.merged_into = resolve_case(detail.summary.id).value_or(next);
  detail.summary.status = "merged";
}

std::vector<std::int64_t> Store::split_origins(std::int64_t id) {
  // Each split points at an older case, so the walk ends; bounded anyway.
  std::vector<std::int64_t> out;
  for (int hops = 0; hops < kMaxHops; ++hops) {
    auto& st = db_.cached("SELECT split_from FROM cases WHERE id = ?");
    st.bind(1, id);
    bool split = st.step() && !st.is_null(0);
    std::int64_t from = split ? st.int64(0) : 0;
    st.reset();
    if (!split) break;
    if (auto live = resolve_case(from)) out.push_back(*live);
    id = from;
  }
  return out;
}

Result<std::int64_t> Store::merge_case(std::int64_t id, std::int64_t into, const std::string& actor) {
  return guarded([&]() -> Result<std::int64_t> {
    sql::Transaction tx(db_);
    std::int64_t from = case_to_change(id);
    auto target = resolve_case(into);
    if (!target) return Error{Errc::not_found, fmt::format("no such case: {}", into)};
    const std::string& tag = options_.tag;
    if (*target == from)
      return Error{Errc::invalid,
                   into == from
                       ? fmt::format("cannot merge [{}#{}] into itself", tag, from)
                       : fmt::format("[{0}#{1}] is merged into [{0}#{2}]: merging {2} into it would make a cycle", tag,
                                     into, from)};
    std::string target_status = case_status(db_, *target);
    if (closed(target_status) && !closed(case_status(db_, from)))
      return Error{Errc::invalid,
                   fmt::format("[{0}#{1}] is {2} and [{0}#{3}] is not: merging would bury open work in a closed case; "
                               "reopen it first (casectl status {1} open)",
                               tag, *target, target_status, from)};
    std::int64_t now = now_unix();
    std::int64_t messages = count(db_, "SELECT count(*) FROM messages WHERE case_id = ?", from);
    std::int64_t comments = count(db_, "SELECT count(*) FROM comments WHERE case_id = ?", from);
    std::vector<std::string> notes = merge_fields(db_, from, *target);
    std::vector<std::string> verified = merge_participants(db_, from, *target);
    detail::move_rows(db_, from, *target);
    db_.cached("UPDATE cases SET merged_into = ?2 WHERE id = ?1").bind(1, from).bind(2, *target).run();
    std::string detail =
        fmt::format("[{}#{}] merged into this case{}: {} messages, {} comments", tag, from,
                    into == *target ? std::string() : fmt::format(" (asked: [{}#{}])", tag, into), messages, comments);
    if (!verified.empty()) detail += "; verified participants from it: " + named(verified);
    for (const auto& n : notes) detail += "; " + n;
    add_event(from, "merge", actor, fmt::format("merged into [{}#{}]", tag, *target), now);
    add_event(*target, "merge", actor, detail, now);
    touch(from, now);
    touch(*target, now);
    tx.commit();
    return *target;
  });
}

namespace {

// What split_case moves: message ids, sorted, and the subject of the
// earliest received one among them, which opens the new case.
struct Selection {
  std::vector<std::int64_t> ids;
  std::string subject;
};

// The case's own tags out of a subject ("Re: [CASE#5] crash" gives "Re: crash").
std::string without_tags(const std::string& subject, std::string_view tag) {
  std::string out = subject;
  for (std::size_t pos = out.find('['); pos != std::string::npos; pos = out.find('[', pos)) {
    std::size_t end = out.find(']', pos);
    std::string_view inside =
        end == std::string::npos ? std::string_view() : std::string_view(out).substr(pos + 1, end - pos - 1);
    bool ours = inside.size() > tag.size() + 1 && iequals(inside.substr(0, tag.size()), tag) &&
                inside[tag.size()] == '#' &&
                inside.substr(tag.size() + 1).find_first_not_of("0123456789") == std::string_view::npos;
    if (!ours) {
      ++pos;
      continue;
    }
    std::size_t stop = end + 1;
    while (stop < out.size() && out[stop] == ' ') ++stop;
    out.erase(pos, stop - pos);
  }
  return trim(out);
}

// The messages to split off `from`: each of them its own, not all of its
// messages, and at least one received (a case opens with someone's mail).
Selection select_messages(sql::Db& db, const std::string& tag, std::int64_t from, std::vector<std::int64_t> ids) {
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  if (ids.empty()) throw StoreError(Errc::invalid, "split: name the messages to move (their ids, as show lists them)");
  Selection sel{ids, {}};
  std::optional<std::pair<std::int64_t, std::int64_t>> opener;  // (received, id) of the earliest received
  for (auto m : ids) {
    auto& st = db.cached("SELECT case_id, direction, received, subject FROM messages WHERE id = ?");
    st.bind(1, m);
    bool found = st.step();
    std::int64_t in_case = found ? st.int64(0) : 0, received = found ? st.int64(2) : 0;
    bool inbound = found && st.text(1) == "in";
    std::string subject = found ? st.text(3) : std::string();
    st.reset();
    if (!found) throw StoreError(Errc::not_found, fmt::format("split: no message {}", m));
    if (in_case != from)
      throw StoreError(Errc::invalid,
                       fmt::format("split: message {0} is in [{1}#{2}], not [{1}#{3}]", m, tag, in_case, from));
    if (inbound && (!opener || std::pair{received, m} < *opener)) {
      opener = std::pair{received, m};
      sel.subject = without_tags(subject, tag);
    }
  }
  if (static_cast<std::int64_t>(ids.size()) >= count(db, "SELECT count(*) FROM messages WHERE case_id = ?", from))
    throw StoreError(Errc::invalid,
                     fmt::format("split: those are all the messages of [{0}#{1}]; a split leaves at least "
                                 "one behind (to move them all, merge {1} into another case)",
                                 tag, from));
  if (!opener)
    throw StoreError(Errc::invalid,
                     "split: none of those messages was received; a case opens with mail someone sent "
                     "(move a received message with them)");
  if (sel.subject.empty()) sel.subject = "(no subject)";
  return sel;
}

// Senders (normalised) of the received messages of a case.
std::set<std::string> senders(sql::Db& db, std::int64_t case_id) {
  auto& st = db.cached("SELECT DISTINCT from_addr FROM messages WHERE case_id = ? AND direction = 'in'");
  st.bind(1, case_id);
  std::set<std::string> out;
  while (st.step())
    if (auto a = normalize_address(st.text(0)); !a.empty()) out.insert(std::move(a));
  st.reset();
  return out;
}

// The senders of the messages moved go with them, as they were in `from`
// (role, verified, bouncing): copied when they still have a received
// message in `from`, moved when they do not and are reporters (a vendor or
// an analyst someone added stays too).
void split_participants(sql::Db& db, std::int64_t from, std::int64_t to) {
  std::set<std::string> staying = senders(db, from);
  for (const auto& a : senders(db, to)) {
    db.cached(
          "INSERT OR IGNORE INTO participants(case_id, address, name, role, verified, bouncing, added) "
          "SELECT ?2, address, name, role, verified, bouncing, added FROM participants WHERE case_id = ?1 AND address "
          "= ?3")
        .bind(1, from)
        .bind(2, to)
        .bind(3, a)
        .run();
    if (!staying.count(a))
      db.cached("DELETE FROM participants WHERE case_id = ? AND address = ? AND role = 'reporter'")
          .bind(1, from)
          .bind(2, a)
          .run();
  }
}

}  // namespace

Result<std::int64_t> Store::split_case(std::int64_t id, const std::vector<std::int64_t>& messages,
                                       const std::string& actor) {
  return guarded([&]() -> Result<std::int64_t> {
    sql::Transaction tx(db_);
    std::int64_t from = case_to_change(id);
    Selection sel = select_messages(db_, options_.tag, from, messages);
    std::int64_t now = now_unix();
    db_.cached("INSERT INTO cases(subject, status, created, updated, split_from) VALUES (?, 'new', ?, ?, ?)")
        .bind(1, sel.subject)
        .bind(2, now)
        .bind(3, now)
        .bind(4, from)
        .run();
    std::int64_t to = db_.last_insert_rowid();
    // The search index finds a message's case through the message row.
    for (auto m : sel.ids) {
      db_.cached("UPDATE messages SET case_id = ?2 WHERE id = ?1").bind(1, m).bind(2, to).run();
      db_.cached("UPDATE outbox SET case_id = ?2 WHERE message = ?1").bind(1, m).bind(2, to).run();
    }
    split_participants(db_, from, to);
    detail::split_vendor_rows(db_, from, to);
    const std::string& tag = options_.tag;
    add_event(to, "split", actor, fmt::format("split from [{}#{}]: messages {}", tag, from, named(sel.ids)), now);
    add_event(from, "split", actor, fmt::format("messages {} split into [{}#{}]", named(sel.ids), tag, to), now);
    touch(from, now);
    tx.commit();
    return to;
  });
}

}  // namespace cased
