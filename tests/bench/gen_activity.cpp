// What analysts did to an archive that `casectl ingest --mbox` imported
// (scale_bench.sh): assignments, states, comments, embargoes and replies,
// through the Store's own functions, and a history spread over three years.
//
//   gen_activity DATABASE [SEED]
//
// An import stamps every case with the time of the import; here each case
// gets a creation time in the last three years and a last activity after
// it, so that the digest, `list --stale` and `stats` see the ages a real
// archive has. Cases older than four months are mostly closed; the rest are
// new, open or waiting; every case but 70% of those left new has an
// assignee. About 75% have a reply (an outbound message, the first
// response); each has 0-3 comments; 2% have an embargo date.
//
// The same database and seed give the same result. It writes without
// syncing (PRAGMA synchronous = OFF: it is a benchmark's fixture, made
// again if the machine stops), so that 100,000 cases take seconds.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "../store_access.hpp"
#include "core/util.hpp"
#include "store/store.hpp"

namespace {

using cased::Store;
constexpr std::int64_t kDay = 86400;
const char* const kAnalysts[] = {"alice", "bob", "carol", "dave", "erin", "frank"};
const char* const kNotes[] = {
    "Reproduced on the current release; the parser reads past the buffer.",
    "Asked the reporter for the exact build and configuration.",
    "Vendor confirmed, fix planned for the next minor release.",
    "Not reproducible here; waiting for a proof of concept.",
    "Duplicate of an earlier report, linking the two.",
    "CVE requested; draft advisory in the shared folder.",
};

template <class T>
void check(const cased::Result<T>& r, const char* what) {
  if (!r) {
    std::cerr << "gen_activity: " << what << ": " << r.error().message << "\n";
    std::exit(1);
  }
}

struct Plan {
  std::int64_t created = 0, updated = 0;
  std::int64_t reply_after = -1;  // -1: no reply
  std::string status = "new";
  std::optional<std::string> assignee;
  int comments = 0;
  std::optional<std::string> embargo;
};

Plan plan_case(std::int64_t id, std::int64_t now, std::uint64_t seed) {
  std::mt19937_64 rng(seed * 1000003 + static_cast<std::uint64_t>(id));
  std::uniform_real_distribution<double> u(0, 1);
  Plan p;
  p.created = now - static_cast<std::int64_t>(u(rng) * 3 * 365 * kDay);
  double age_days = static_cast<double>(now - p.created) / kDay;
  // A first reply within minutes to weeks: log-normal around a day.
  std::lognormal_distribution<double> delay(std::log(86400.0), 1.3);
  if (u(rng) < 0.75) p.reply_after = std::clamp<std::int64_t>(static_cast<std::int64_t>(delay(rng)), 300, 60 * kDay);
  double closed = std::min(0.97, age_days / 120);
  double r = u(rng);
  if (r < closed) p.status = u(rng) < 0.83 ? "resolved" : "rejected";
  else p.status = r < closed + (1 - closed) * 0.3 ? "new" : (u(rng) < 0.7 ? "open" : "waiting");
  if (p.status != "new" || u(rng) < 0.3) p.assignee = kAnalysts[rng() % std::size(kAnalysts)];
  p.comments = static_cast<int>(rng() % 4);
  // Active for an hour to four months after it opened, never past now.
  p.updated = std::min(now, p.created + 3600 + static_cast<std::int64_t>(u(rng) * u(rng) * 120 * kDay));
  if (u(rng) < 0.02) p.embargo = cased::format_rfc3339(now + static_cast<std::int64_t>((u(rng) - 0.3) * 90) * kDay).substr(0, 10);
  return p;
}

// The replies and the spread of times, in one transaction each: the
// Store's outbound-message function runs inside the caller's transaction.
void replies(Store& s, const std::vector<std::int64_t>& ids, const std::vector<Plan>& plans) {
  auto& db = cased::StoreTestAccess::db(s);
  db.exec("BEGIN");
  auto& times = db.cached("UPDATE cases SET created = ?, updated = ? WHERE id = ?");
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const Plan& p = plans[i];
    times.bind(1, p.created).bind(2, p.created).bind(3, ids[i]).run();
    if (p.reply_after < 0) continue;
    std::string mid = fmt::format("reply.{}@security.example.com", ids[i]);
    std::string body = "Thank you for your report. We are looking into it and will come back to you.\n";
    std::string raw = fmt::format("From: security@example.com\r\nMessage-ID: <{}>\r\nSubject: Re: your report\r\n\r\n{}",
                                  mid, body);
    s.store_outbound(ids[i], mid, {"reporter@example.org"}, "Re: your report", body, raw, false, "", {},
                     p.created + p.reply_after);
  }
  db.exec("COMMIT");
}

void analysts(Store& s, const std::vector<std::int64_t>& ids, const std::vector<Plan>& plans) {
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const Plan& p = plans[i];
    if (p.assignee) check(s.assign(ids[i], *p.assignee, *p.assignee), "assign");
    for (int c = 0; c < p.comments; ++c)
      check(s.add_comment(ids[i], kNotes[(ids[i] + c) % std::size(kNotes)], p.assignee.value_or("alice")), "comment");
    if (p.embargo) {
      cased::DisclosureChange change;
      change.embargo = *p.embargo;
      check(s.set_disclosure(ids[i], change, p.assignee.value_or("alice")), "set");
    }
    if (p.status != "new") check(s.set_status(ids[i], p.status, p.assignee.value_or("alice")), "status");
    if (i % 10000 == 0) std::cerr << "gen_activity: " << i << " of " << ids.size() << " cases\n";
  }
}

// The last activity, and the closing time of closed cases, after the
// analysts' work above stamped them now.
void spread(Store& s, const std::vector<std::int64_t>& ids, const std::vector<Plan>& plans) {
  auto& db = cased::StoreTestAccess::db(s);
  db.exec("BEGIN");
  auto& st = db.cached(
      "UPDATE cases SET updated = ?1, closed = CASE WHEN closed IS NOT NULL THEN ?1 END WHERE id = ?2");
  for (std::size_t i = 0; i < ids.size(); ++i) st.bind(1, plans[i].updated).bind(2, ids[i]).run();
  db.exec("COMMIT");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: gen_activity DATABASE [SEED]\n";
    return 2;
  }
  std::uint64_t seed = argc > 2 ? std::stoull(argv[2]) : 1;
  auto opened = Store::open(argv[1], cased::StoreOptions{});
  check(opened, "open");
  Store& s = *opened;
  auto& db = cased::StoreTestAccess::db(s);
  db.exec("PRAGMA synchronous = OFF");
  auto start = std::chrono::steady_clock::now();
  std::vector<std::int64_t> ids;
  auto& q = db.cached("SELECT id FROM cases WHERE merged_into IS NULL ORDER BY id");
  while (q.step()) ids.push_back(q.int64(0));
  q.reset();
  std::int64_t now = cased::now_unix();
  std::vector<Plan> plans;
  for (auto id : ids) plans.push_back(plan_case(id, now, seed));
  replies(s, ids, plans);
  analysts(s, ids, plans);
  spread(s, ids, plans);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cerr << fmt::format("gen_activity: {} cases in {:.1f} s\n", ids.size(), secs);
  return 0;
}
