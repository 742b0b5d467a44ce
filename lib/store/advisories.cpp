// A case's advisory (schema 18): the only module that writes the
// advisories, advisory_numbers, advisory_references and advisory_revisions
// tables. It reads vendor_status (schema 17) for the documents.
#include <fmt/format.h>

#include <algorithm>
#include <ctime>

#include "core/util.hpp"
#include "store/store.hpp"
#include "store/store_guard.hpp"
#include "store/store_rows.hpp"

namespace cased {

using detail::guarded;
using detail::json_list;

namespace {

const char* column(AdvisoryField f) {
  switch (f) {
    case AdvisoryField::title: return "title";
    case AdvisoryField::summary: return "summary";
    case AdvisoryField::details: return "details";
    case AdvisoryField::remediation: return "remediation";
    case AdvisoryField::credit: return "credit";
    case AdvisoryField::fixed: return "fixed";
  }
  return "title";
}

int year_of(std::int64_t now) {
  std::time_t t = static_cast<std::time_t>(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return tm.tm_year + 1900;
}

std::optional<AdvisoryRecord> read_advisory(sql::Db& db, std::int64_t id) {
  auto& st = db.cached(
      "SELECT tracking_id, status, version, title, summary, details, remediation, credit, fixed, created, updated, "
      "initial_release, current_release, (SELECT cvss FROM cases WHERE cases.id = advisories.case_id) FROM advisories "
      "WHERE case_id = ?");
  st.bind(1, id);
  std::optional<AdvisoryRecord> a;
  if (st.step()) {
    a.emplace();
    a->case_id = id;
    a->tracking_id = st.text(0);
    a->published = st.text(1) == "published";
    a->version = static_cast<int>(st.int64(2));
    a->title = st.text(3);
    a->summary = st.text(4);
    a->details = st.text(5);
    a->remediation = st.text(6);
    a->credit = st.opt_text(7);
    a->fixed = st.opt_text(8);
    a->created = st.int64(9);
    a->updated = st.int64(10);
    a->initial_release = st.opt_int64(11);
    a->current_release = st.opt_int64(12);
    a->case_cvss = st.opt_text(13);
  }
  st.reset();
  if (!a) return a;
  auto& r = db.cached("SELECT url FROM advisory_references WHERE case_id = ? ORDER BY position");
  r.bind(1, id);
  while (r.step()) a->references.push_back(r.text(0));
  r.reset();
  auto& v = db.cached("SELECT number, date, summary, actor FROM advisory_revisions WHERE case_id = ? ORDER BY number");
  v.bind(1, id);
  while (v.step())
    a->revisions.push_back({static_cast<int>(v.int64(0)), v.int64(1), v.text(2), v.text(3)});
  v.reset();
  return a;
}

}  // namespace

Result<AdvisoryRecord> Store::advisory_init(std::int64_t id, const std::string& prefix, const std::string& actor) {
  return guarded([&]() -> Result<AdvisoryRecord> {
    sql::Transaction tx(db_);
    std::int64_t case_id = case_to_change(id);
    if (auto existing = read_advisory(db_, case_id))
      return Error{Errc::invalid, fmt::format("[{}#{}] has an advisory already: {}", options_.tag, case_id,
                                              existing->tracking_id)};
    std::int64_t now = now_unix();
    int year = year_of(now);
    // Numbered across prefixes that differ only in case: the file name is
    // the tracking id lower-cased, so EXAMPLE-SA and example-sa share files.
    auto& n = db_.cached(
        "INSERT INTO advisory_numbers(prefix, year, last) VALUES (?1, ?2, 1 + coalesce((SELECT max(last) FROM "
        "advisory_numbers WHERE lower(prefix) = lower(?1) AND year = ?2), 0)) ON CONFLICT(prefix, year) DO UPDATE "
        "SET last = 1 + (SELECT max(last) FROM advisory_numbers WHERE lower(prefix) = lower(?1) AND year = ?2) "
        "RETURNING last");
    n.bind(1, prefix).bind(2, year);
    n.step();
    std::int64_t number = n.int64(0);
    n.reset();
    std::string tracking = fmt::format("{}-{}-{:04}", prefix, year, number);
    db_.cached("INSERT INTO advisories(case_id, tracking_id, created, updated) VALUES (?, ?, ?, ?)")
        .bind(1, case_id)
        .bind(2, tracking)
        .bind(3, now)
        .bind(4, now)
        .run();
    add_event(case_id, "advisory", actor, fmt::format("advisory {} drafted", tracking), now);
    touch(case_id, now);
    auto a = read_advisory(db_, case_id);
    tx.commit();
    return std::move(*a);
  });
}

Result<AdvisoryRecord> Store::get_advisory(std::int64_t id) {
  return guarded([&]() -> Result<AdvisoryRecord> {
    auto live = resolve_case(id);
    if (!live) return Error{Errc::not_found, fmt::format("no such case: {}", id)};
    auto a = read_advisory(db_, *live);
    if (!a)
      return Error{Errc::not_found,
                   fmt::format("[{}#{}] has no advisory yet (casectl advisory {} init)", options_.tag, *live, *live)};
    return std::move(*a);
  });
}

Status Store::set_advisory_field(std::int64_t id, AdvisoryField field, const std::optional<std::string>& value,
                                 const std::string& actor) {
  return set_advisory_fields(id, {{field, value}}, actor);
}

Status Store::set_advisory_fields(std::int64_t id, const std::vector<AdvisoryFieldValue>& changes,
                                  const std::string& actor) {
  return guarded([&]() -> Status {
    sql::Transaction tx(db_);
    std::int64_t case_id = case_to_change(id);
    if (!read_advisory(db_, case_id))
      return Error{Errc::not_found, fmt::format("[{}#{}] has no advisory yet (casectl advisory {} init)",
                                                options_.tag, case_id, case_id)};
    std::int64_t now = now_unix();
    for (const auto& [field, value] : changes) {
      bool nullable = field == AdvisoryField::credit || field == AdvisoryField::fixed;
      std::string sql = fmt::format("UPDATE advisories SET {} = ?, updated = ? WHERE case_id = ?", column(field));
      auto st = db_.prepare(sql);
      if (nullable) st.bind(1, value);
      else st.bind(1, value.value_or(""));
      st.bind(2, now).bind(3, case_id).run();
      add_event(case_id, "advisory", actor,
                fmt::format("advisory {} {}", column(field), value && !value->empty() ? "set" : "cleared"), now);
    }
    touch(case_id, now);
    tx.commit();
    return ok_status();
  });
}

Status Store::add_advisory_reference(std::int64_t id, const std::string& url, const std::string& actor) {
  return guarded([&]() -> Status {
    sql::Transaction tx(db_);
    std::int64_t case_id = case_to_change(id);
    auto a = read_advisory(db_, case_id);
    if (!a)
      return Error{Errc::not_found, fmt::format("[{}#{}] has no advisory yet (casectl advisory {} init)",
                                                options_.tag, case_id, case_id)};
    std::int64_t now = now_unix();
    if (std::find(a->references.begin(), a->references.end(), url) == a->references.end()) {
      db_.cached("INSERT INTO advisory_references(case_id, position, url) VALUES (?, ?, ?)")
          .bind(1, case_id)
          .bind(2, static_cast<std::int64_t>(a->references.size()))
          .bind(3, url)
          .run();
      db_.cached("UPDATE advisories SET updated = ? WHERE case_id = ?").bind(1, now).bind(2, case_id).run();
      add_event(case_id, "advisory", actor, "advisory reference added", now);
      touch(case_id, now);
    }
    tx.commit();
    return ok_status();
  });
}

Status Store::record_publication(std::int64_t id, const AdvisoryPublication& p, const std::string& actor,
                                 const std::function<Status()>& place) {
  return guarded([&]() -> Status {
    sql::Transaction tx(db_);
    std::int64_t case_id = case_to_change(id);
    auto a = read_advisory(db_, case_id);
    if (!a) return Error{Errc::not_found, fmt::format("[{}#{}] has no advisory", options_.tag, case_id)};
    if (p.version != a->version + 1)
      return Error{Errc::invalid, fmt::format("advisory {} is at version {}: cannot record version {}", a->tracking_id,
                                              a->version, p.version)};
    db_.cached(
          "UPDATE advisories SET status = 'published', version = ?, current_release = ?, "
          "initial_release = coalesce(initial_release, ?) WHERE case_id = ?")
        .bind(1, p.version)
        .bind(2, p.date)
        .bind(3, p.date)
        .bind(4, case_id)
        .run();
    db_.cached("INSERT INTO advisory_revisions(case_id, number, date, summary, actor) VALUES (?, ?, ?, ?, ?)")
        .bind(1, case_id)
        .bind(2, p.version)
        .bind(3, p.date)
        .bind(4, p.summary)
        .bind(5, actor)
        .run();
    if (auto placed = place(); !placed) return placed;
    std::int64_t now = now_unix();
    if (p.forced_reason)
      add_event(case_id, "advisory-forced", actor,
                fmt::format("advisory {} published before the embargo: {}", a->tracking_id, *p.forced_reason), now);
    add_event(case_id, "advisory", actor,
              fmt::format("advisory {} version {} published in {}", a->tracking_id, p.version, p.directory), now);
    touch(case_id, now);
    tx.commit();
    return ok_status();
  });
}

Result<std::int64_t> Store::queue_announce(std::int64_t id, const AnnounceMail& m, const std::string& actor) {
  return guarded([&]() -> Result<std::int64_t> {
    sql::Transaction tx(db_);
    std::int64_t case_id = case_to_change(id);
    std::int64_t now = now_unix();
    std::int64_t message = store_outbound(case_id, m.message_id, {m.to}, m.subject, m.body, m.raw, false, "", {}, now,
                                          m.signer);
    db_.cached(
          "INSERT INTO outbox(case_id, kind, status, recipients, subject, message_id, message, raw, next_attempt, "
          "created) VALUES (?, 'announce', 'queued', ?, ?, ?, ?, ?, ?, ?)")
        .bind(1, case_id)
        .bind(2, json_list({m.to}))
        .bind(3, m.subject)
        .bind(4, m.message_id)
        .bind(5, message)
        .bind_blob(6, m.raw)
        .bind(7, now)
        .bind(8, now)
        .run();
    std::int64_t row = db_.last_insert_rowid();
    add_event(case_id, "announce", actor,
              fmt::format("announcement {} queued to {} (signed, not encrypted)", m.message_id, m.to), now);
    tx.commit();
    return row;
  });
}

Result<std::vector<VendorStatusRow>> Store::vendor_statuses(std::int64_t id) {
  return guarded([&]() -> Result<std::vector<VendorStatusRow>> {
    auto live = resolve_case(id);
    if (!live) return Error{Errc::not_found, fmt::format("no such case: {}", id)};
    std::vector<VendorStatusRow> out;
    auto& st = db_.cached(
        "SELECT vendor, cve, state, statement, updated FROM vendor_status WHERE case_id = ? ORDER BY vendor, cve");
    st.bind(1, *live);
    while (st.step()) out.push_back({st.text(0), st.text(1), st.text(2), st.opt_text(3), st.int64(4)});
    st.reset();
    return out;
  });
}

}  // namespace cased
