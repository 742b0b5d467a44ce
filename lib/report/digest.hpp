// The reminder digest (docs/analyst.md): new and unassigned cases, cases idle
// for stale_days, cases waiting on someone, and embargoes ending within 7
// days or past; oldest first, grouped by assignee. A section of more than
// 20 cases shows its count and its oldest 20.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "store/store.hpp"

namespace cased {

struct DigestSection {
  std::string name;                  // new-unassigned | stale | waiting | embargo
  std::string title;
  std::vector<CaseSummary> cases;    // the oldest kDigestSectionCases, by assignee (unassigned last), then oldest first
  std::int64_t total = 0;            // how many cases the section holds
};

struct Digest {
  std::int64_t now = 0;
  int stale_days = 7;
  std::vector<DigestSection> sections;
  std::vector<std::string> warnings;  // e.g. security.txt about to expire
  VendorAlerts vendors;               // vendors without a reply for stale_days, bouncing contacts (digest_vendors.cpp)
  bool empty() const;                 // no cases, vendors or warnings
};

inline constexpr int kEmbargoWarningDays = 7;
// A longer section is summarised: its count and its oldest cases.
inline constexpr std::size_t kDigestSectionCases = 20;

Result<Digest> build_digest(Store& store, int stale_days);

// With subjects and embargo dates: for an analyst's screen or an encrypted mail.
std::string render_digest(const Digest& d, const std::string& tag);
// Tag, status, assignee and age only: for cron's mail and unencrypted digests.
std::string render_digest_bare(const Digest& d, const std::string& tag);
nlohmann::json digest_json(const Digest& d);

// The vendors section (digest_vendors.cpp): vendor names and contacts only
// when `confidential`, else counts; "" when there is nothing to say.
std::string render_vendor_alerts(const VendorAlerts& v, std::int64_t now, const std::string& tag, bool confidential);
nlohmann::json vendor_alerts_json(const VendorAlerts& v);

}  // namespace cased
