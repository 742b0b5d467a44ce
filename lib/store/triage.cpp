// Triage in the store: states with their resolution, reopening by new
// mail, and tags (rules in cases/triage.hpp).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "cases/triage.hpp"
#include "core/util.hpp"
#include "store/store.hpp"
#include "store/store_guard.hpp"

namespace cased {

using detail::guarded;

namespace {

std::string shown(const std::optional<std::string>& resolution) { return resolution.value_or("none"); }

// A closed state with its reason, for events: "resolved (fixed)".
std::string state_with_reason(const std::string& state, const std::optional<std::string>& resolution) {
  return resolution ? fmt::format("{} ({})", state, *resolution) : state;
}

struct CaseState {
  std::string status;
  std::optional<std::string> resolution;
};

CaseState case_state(sql::Db& db, std::int64_t case_id) {
  auto& st = db.cached("SELECT status, resolution FROM cases WHERE id = ?");
  st.bind(1, case_id);
  st.step();
  CaseState out{st.text(0), st.opt_text(1)};
  st.reset();
  return out;
}

Status check_status_change(const Store::StatusChange& change) {
  const auto& states = case_states();
  if (std::find(states.begin(), states.end(), change.state) == states.end())
    return Error{Errc::invalid,
                 fmt::format("unknown status '{}' (new, open, waiting, resolved, rejected)", change.state)};
  if (!change.resolution) return ok_status();
  if (!closed_state(change.state))
    return Error{Errc::invalid, fmt::format("a resolution is only for resolved or rejected, not {}", change.state)};
  const auto& reasons = resolutions();
  if (std::find(reasons.begin(), reasons.end(), *change.resolution) == reasons.end())
    return Error{Errc::invalid, fmt::format("unknown resolution '{}' ({})", *change.resolution,
                                            fmt::join(reasons, ", "))};
  return ok_status();
}

}  // namespace

Status Store::change_status(std::int64_t id, const StatusChange& change, const std::string& actor) {
  if (auto valid = check_status_change(change); !valid) return valid;
  return guarded([&]() -> Status {
    sql::Transaction tx(db_);
    const std::int64_t resolved = case_to_change(id);  // refuses a merged case
    CaseState old = case_state(db_, resolved);
    // Closing without a reason keeps none; the same state again keeps the
    // one it has unless another is given.
    std::optional<std::string> resolution = closed_state(change.state) ? change.resolution : std::nullopt;
    if (old.status == change.state && !change.resolution) resolution = old.resolution;
    std::int64_t now = now_unix();
    bool changed = old.status != change.state || old.resolution != resolution;
    if (changed) {
      // `closed` (schema 9): when it was closed; kept from resolved to
      // rejected, cleared when it is reopened.
      db_.cached(
             "UPDATE cases SET status = ?1, resolution = ?4, "
             "closed = CASE WHEN ?1 IN ('resolved', 'rejected') THEN coalesce(closed, ?3) END WHERE id = ?2")
          .bind(1, change.state)
          .bind(2, resolved)
          .bind(3, now)
          .bind(4, resolution)
          .run();
      if (old.status != change.state)
        add_event(resolved, "status", actor, fmt::format("{} -> {}", old.status, change.state), now);
      if (old.resolution != resolution)
        add_event(resolved, "resolution", actor, fmt::format("{} -> {}", shown(old.resolution), shown(resolution)),
                  now);
    }
    if (change.note) insert_comment(resolved, *change.note, actor, now);
    if (changed || change.note) touch(resolved, now);
    tx.commit();
    return ok_status();
  });
}

void Store::reopen_if_closed(const PreparedMessage& msg, const RoutingDecision& route, std::int64_t case_id,
                             std::int64_t now) {
  CaseState old = case_state(db_, case_id);
  if (!closed_state(old.status)) return;
  if (!reopens_closed_case(msg, route, options_.alias)) {
    // A person the case does not know wrote to it: kept, said, not reopened.
    if (route.unverified && !route.bounce)
      add_event(case_id, "message", "cased",
                fmt::format("the case stays {}: the sender is not a verified participant (casectl status {} open "
                            "reopens it)",
                            state_with_reason(old.status, old.resolution), case_id),
                now);
    return;
  }
  db_.cached("UPDATE cases SET status = 'open', resolution = NULL, closed = NULL WHERE id = ?").bind(1, case_id).run();
  add_event(case_id, "reopen", "cased",
            fmt::format("{} -> open: new mail from {}", state_with_reason(old.status, old.resolution),
                        route.sender.empty() ? std::string("an unknown sender") : route.sender),
            now);
}

Result<std::vector<std::string>> Store::edit_tags(std::int64_t id, const std::vector<TagEdit>& edits,
                                                  const std::string& actor) {
  for (const auto& e : edits)
    if (auto problem = tag_problem(e.tag)) return Error{Errc::invalid, *problem + "; no tag changed"};
  return guarded([&]() -> Result<std::vector<std::string>> {
    sql::Transaction tx(db_);
    const std::int64_t resolved = case_to_change(id);  // refuses a merged case
    std::vector<std::string> changes;
    for (const auto& e : edits) {
      auto& st = e.add ? db_.cached("INSERT OR IGNORE INTO tags(case_id, tag) VALUES (?, ?)")
                       : db_.cached("DELETE FROM tags WHERE case_id = ? AND tag = ?");
      st.bind(1, resolved).bind(2, e.tag).run();
      if (db_.changes() > 0) changes.push_back((e.add ? "+" : "-") + e.tag);
    }
    if (!changes.empty()) {
      std::int64_t now = now_unix();
      add_event(resolved, "tag", actor, fmt::format("{}", fmt::join(changes, " ")), now);
      touch(resolved, now);
    }
    tx.commit();
    return changes;
  });
}

}  // namespace cased
