// A case's advisory as the store keeps it (advisories.cpp; schema 18).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace cased {

struct AdvisoryRevision {
  int number = 0;
  std::int64_t date = 0;
  std::string summary;
  std::string actor;
};

struct AdvisoryRecord {
  std::int64_t case_id = 0;
  std::string tracking_id;                 // PREFIX-YYYY-NNNN, allocated once
  bool published = false;
  int version = 0;                         // the last published version (0: never)
  std::string title, summary, details, remediation;
  std::optional<std::string> credit;       // set by an analyst only
  std::optional<std::string> fixed;        // fixed versions
  std::vector<std::string> references;     // URLs, in the order added
  std::int64_t created = 0, updated = 0;
  std::optional<std::int64_t> initial_release, current_release;
  std::vector<AdvisoryRevision> revisions;  // oldest first
  // The case's CVSS vector exactly as stored: a document refuses one that
  // does not parse rather than leave the score out.
  std::optional<std::string> case_cvss;
};

// The advisory's text fields as `advisory set` names them.
enum class AdvisoryField { title, summary, details, remediation, credit, fixed };

// A field's new value; nullopt clears credit or fixed.
struct AdvisoryFieldValue {
  AdvisoryField field;
  std::optional<std::string> value;
};

// A vendor's status in a case (schema 17's vendor_status): cve "" for the
// case as a whole.
struct VendorStatusRow {
  std::string vendor, cve, state;
  std::optional<std::string> statement;
  std::int64_t updated = 0;
};

// What a publication records: the new version's revision, and when it was
// forced before the embargo, the analyst's reason.
struct AdvisoryPublication {
  int version = 0;
  std::int64_t date = 0;
  std::string summary;
  std::optional<std::string> forced_reason;
  std::string directory;
};

// An announcement composed and signed, for the outbox (kind 'announce').
struct AnnounceMail {
  std::string to, subject, message_id, body, raw, signer;
};

}  // namespace cased
