// The digest's vendors section as the store counts it: vendors that owe a
// reply and contacts or notifications that bounced.
#include "store/coordination.hpp"
#include "store/store.hpp"
#include "store/store_guard.hpp"

namespace cased {

using detail::guarded;

namespace {

// Per attached vendor of a case that is neither merged nor closed: the first
// notification (not cancelled) after its last reply. It owes a reply when
// that is at or before ?1 and no analyst has recorded an answer (a state
// other than unknown or unresponsive) since (in the same second counts:
// timestamps are whole seconds and commands run one after another).
constexpr const char* kSilent =
    "SELECT case_id, vendor, waiting FROM ("
    " SELECT cv.case_id, cv.vendor,"
    "  (SELECT min(r.at) FROM vendor_outreach r JOIN outbox o ON o.id = r.outbox"
    "   WHERE r.case_id = cv.case_id AND r.vendor = cv.vendor AND r.via = 'mail' AND o.status != 'cancelled'"
    "   AND r.at > coalesce(cv.last_reply, -1)) AS waiting"
    " FROM case_vendors cv JOIN cases c ON c.id = cv.case_id"
    " WHERE cv.notified IS NOT NULL AND c.merged_into IS NULL AND c.status IN ('new', 'open', 'waiting')) w"
    " WHERE waiting IS NOT NULL AND waiting <= ?1 AND NOT EXISTS (SELECT 1 FROM vendor_status s"
    "  WHERE s.case_id = w.case_id AND s.vendor = w.vendor AND s.state NOT IN ('unknown', 'unresponsive')"
    "  AND s.updated >= w.waiting)";

// Contacts of the book a DSN marked bouncing, and notifications of open
// cases that bounced.
constexpr const char* kBouncing =
    "SELECT NULL AS case_id, vendor, address, bouncing_since AS since FROM vendor_contacts "
    "WHERE bouncing_since IS NOT NULL "
    "UNION ALL "
    "SELECT r.case_id, r.vendor, coalesce(r.delivery_detail, ''), r.at FROM vendor_outreach r "
    "JOIN cases c ON c.id = r.case_id WHERE r.delivery = 'bounced' AND c.merged_into IS NULL "
    "AND c.status IN ('new', 'open', 'waiting')";

}  // namespace

Result<VendorAlerts> Store::vendor_alerts(std::int64_t since, std::size_t limit) {
  return guarded([&]() -> Result<VendorAlerts> {
    VendorAlerts out;
    auto count = db_.prepare(std::string("SELECT count(*) FROM (") + kSilent + ")");
    count.bind(1, since);
    if (count.step()) out.silent_total = count.int64(0);
    auto silent = db_.prepare(std::string(kSilent) + " ORDER BY waiting, case_id, vendor LIMIT ?2");
    silent.bind(1, since).bind(2, static_cast<std::int64_t>(limit));
    while (silent.step()) out.silent.push_back({silent.int64(0), silent.text(1), silent.int64(2)});

    auto bcount = db_.prepare(std::string("SELECT count(*) FROM (") + kBouncing + ")");
    if (bcount.step()) out.bouncing_total = bcount.int64(0);
    auto bouncing = db_.prepare(std::string(kBouncing) + " ORDER BY since, vendor LIMIT ?1");
    bouncing.bind(1, static_cast<std::int64_t>(limit));
    while (bouncing.step())
      out.bouncing.push_back({bouncing.opt_int64(0), bouncing.text(1), bouncing.text(2), bouncing.int64(3)});
    return out;
  });
}

}  // namespace cased
