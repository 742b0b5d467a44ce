// What the analyst's overviews read: the digest's sections and `casectl
// stats`. Every count reads an index of schema 9 that holds the columns it
// needs (INDEXED BY where SQLite, without statistics, would pick a smaller
// one and read the table's rows); none reads the messages but a case's
// outbound ones.
#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "cases/triage.hpp"
#include "core/util.hpp"
#include "store/store.hpp"
#include "store/store_guard.hpp"

namespace cased {

using detail::guarded;

namespace {

constexpr const char* kNotClosed = "status IN ('new', 'open', 'waiting')";
constexpr std::int64_t kCasesForOnePass = 10000;

// The WHERE clause and the order of a digest section; ?1 is its bound.
std::pair<std::string, std::string> section_sql(SectionQuery::Kind kind) {
  using K = SectionQuery::Kind;
  std::string where = "merged_into IS NULL AND ";
  switch (kind) {
    case K::new_unassigned: return {where + "status = 'new' AND assignee IS NULL", "created, id"};
    case K::stale: return {where + kNotClosed + " AND updated <= ?1", "created, id"};
    case K::waiting: return {where + "status = 'waiting'", "created, id"};
    case K::embargo:  // few cases have an embargo: from their index, not from all open cases
      return {where + kNotClosed + " AND embargo IS NOT NULL AND embargo <= ?1", "embargo, created, id"};
  }
  return {where + "0", "id"};
}

void bind_bound(sql::Stmt& st, const SectionQuery& q) {
  if (q.kind == SectionQuery::Kind::stale) st.bind(1, q.idle_since);
  if (q.kind == SectionQuery::Kind::embargo) st.bind(1, q.embargo_by);
}

// Nearest rank: the smallest value with at least p of the values at or below it.
Durations durations(std::vector<std::int64_t> v) {
  Durations d;
  d.cases = static_cast<std::int64_t>(v.size());
  if (v.empty()) return d;
  std::sort(v.begin(), v.end());
  auto at = [&](int percent) {
    std::size_t rank = (v.size() * static_cast<std::size_t>(percent) + 99) / 100;
    return v[std::max<std::size_t>(rank, 1) - 1];
  };
  d.median = at(50);
  d.p90 = at(90);
  return d;
}

std::vector<std::int64_t> column(sql::Stmt& st) {
  std::vector<std::int64_t> out;
  while (st.step())
    if (!st.is_null(0)) out.push_back(st.int64(0));
  return out;
}

// Closed cases by resolution (schema 11), from their index alone.
std::vector<std::pair<std::string, std::int64_t>> closed_by_resolution(sql::Db& db) {
  std::vector<std::pair<std::string, std::int64_t>> out;
  for (const auto& reason : resolutions()) out.emplace_back(reason, 0);
  out.emplace_back("none", 0);
  auto st = db.prepare(
      "SELECT resolution, count(*) FROM cases INDEXED BY cases_closed_resolution "
      "WHERE closed IS NOT NULL AND merged_into IS NULL GROUP BY resolution");
  while (st.step())
    for (auto& [reason, n] : out)
      if (reason == st.opt_text(0).value_or("none")) n = st.int64(1);
  return out;
}

}  // namespace

Result<CaseSection> Store::digest_section(const SectionQuery& query) {
  return guarded([&]() -> Result<CaseSection> {
    auto [where, order] = section_sql(query.kind);
    CaseSection out;
    std::string from = query.kind == SectionQuery::Kind::embargo ? "cases INDEXED BY cases_embargo" : "cases";
    auto count = db_.prepare(fmt::format("SELECT count(*) FROM {} WHERE {}", from, where));
    bind_bound(count, query);
    if (count.step()) out.total = count.int64(0);
    auto page = db_.prepare(fmt::format("SELECT id FROM {} WHERE {} ORDER BY {} LIMIT ?2", from, where, order));
    bind_bound(page, query);
    page.bind(2, static_cast<std::int64_t>(query.limit));
    std::vector<std::int64_t> ids = column(page);
    for (auto id : ids)
      if (auto s = summary(id)) out.cases.push_back(std::move(*s));
    return out;
  });
}

Result<CaseStats> Store::case_stats(std::int64_t since, std::int64_t until) {
  return guarded([&]() -> Result<CaseStats> {
    CaseStats s;
    s.since = since;
    s.until = until;
    s.now = now_unix();
    for (const auto& state : case_states()) s.by_status.emplace_back(state, 0);
    auto by_status = db_.prepare("SELECT status, count(*) FROM cases WHERE merged_into IS NULL GROUP BY status");
    while (by_status.step())
      for (auto& [state, n] : s.by_status)
        if (state == by_status.text(0)) n = by_status.int64(1);

    s.by_resolution = closed_by_resolution(db_);
    auto opened = db_.prepare(
        "SELECT count(*) FROM cases WHERE merged_into IS NULL AND created >= ?1 AND created < ?2");
    opened.bind(1, since).bind(2, until);
    if (opened.step()) s.opened = opened.int64(0);
    // First response: the first outbound message of a case opened in the
    // period that is not an acknowledgement (nor a reply cancelled unsent). For a long period, one pass
    // over every outbound message beats a look-up per case.
    auto first = db_.prepare(
        s.opened < kCasesForOnePass
            ? "SELECT (SELECT min(m.received) FROM messages m WHERE m.case_id = c.id AND m.direction = 'out' "
              "        AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.message = m.id AND (o.kind = 'ack' OR o.status = 'cancelled'))) - c.created "
              "FROM cases c WHERE c.merged_into IS NULL AND c.created >= ?1 AND c.created < ?2"
            : "SELECT f.first - c.created FROM"
              " (SELECT case_id, min(received) AS first FROM messages m WHERE direction = 'out'"
              "  AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.message = m.id AND (o.kind = 'ack' OR o.status = 'cancelled')) GROUP BY case_id) f"
              " JOIN cases c ON c.id = f.case_id WHERE c.merged_into IS NULL AND c.created >= ?1 AND c.created < ?2");
    first.bind(1, since).bind(2, until);
    s.first_response = durations(column(first));

    auto resolution = db_.prepare(
        "SELECT closed - created FROM cases WHERE merged_into IS NULL AND closed >= ?1 AND closed < ?2");
    resolution.bind(1, since).bind(2, until);
    s.time_to_resolution = durations(column(resolution));
    s.closed = s.time_to_resolution.cases;

    constexpr std::int64_t kDay = 86400;
    auto ages = db_.prepare(fmt::format(
        "SELECT count(*) FILTER (WHERE created > ?1 - 7 * {0}), "
        "count(*) FILTER (WHERE created <= ?1 - 7 * {0} AND created > ?1 - 30 * {0}), "
        "count(*) FILTER (WHERE created <= ?1 - 30 * {0} AND created > ?1 - 90 * {0}), "
        "count(*) FILTER (WHERE created <= ?1 - 90 * {0}) "
        "FROM cases INDEXED BY cases_status_assignee_created WHERE merged_into IS NULL AND {1}",
        kDay, kNotClosed));
    ages.bind(1, s.now);
    if (ages.step()) {
      std::array<const char*, 4> names = {"<7d", "7-30d", "30-90d", ">90d"};
      for (int i = 0; i < 4; ++i) s.open_by_age.emplace_back(names[static_cast<std::size_t>(i)], ages.int64(i));
    }
    auto assignees = db_.prepare(fmt::format(
        "SELECT assignee, count(*) AS n FROM cases INDEXED BY cases_status_assignee_created "
        "WHERE merged_into IS NULL AND {} "
        "GROUP BY assignee ORDER BY n DESC, assignee IS NULL, assignee",
        kNotClosed));
    while (assignees.step()) s.open_by_assignee.emplace_back(assignees.opt_text(0), assignees.int64(1));
    return s;
  });
}

}  // namespace cased
