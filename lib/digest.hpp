// The reminder digest (SPEC "Digest"): new and unassigned cases, cases idle
// for stale_days, and cases waiting on someone, oldest first.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "store.hpp"

namespace cased {

struct DigestSection {
  std::string name;                  // new-unassigned | stale | waiting
  std::string title;
  std::vector<CaseSummary> cases;    // oldest first
};

struct Digest {
  std::int64_t now = 0;
  int stale_days = 7;
  std::vector<DigestSection> sections;
  bool empty() const;
};

Result<Digest> build_digest(Store& store, int stale_days);

// With subjects: for an analyst's screen or an encrypted mail.
std::string render_digest(const Digest& d, const std::string& tag);
// Tag, status, assignee and age only: for cron's mail and unencrypted digests.
std::string render_digest_bare(const Digest& d, const std::string& tag);
nlohmann::json digest_json(const Digest& d);

}  // namespace cased
