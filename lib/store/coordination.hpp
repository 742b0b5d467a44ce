// Coordinating a case with vendors as the store keeps it (schema 17;
// store/coordination.cpp): the vendors attached to a case, their status as
// a whole and per CVE id, and the outreach log (each notification with its
// outbox row, and the attempts an analyst records by hand).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/outbox_queue.hpp"

namespace cased {

// The states of vendor-status, in the order the schema lists them.
const std::vector<std::string>& vendor_states();
// The ways of reaching a vendor an outreach row records.
const std::vector<std::string>& outreach_ways();

struct VendorStatusView {
  std::string cve;  // "" for the vendor's status as a whole
  std::string state;
  std::optional<std::string> statement;
  std::string actor;
  std::int64_t updated = 0;
};

struct OutreachView {
  std::int64_t id = 0;
  std::string via;  // mail | phone | post | form | other
  std::int64_t at = 0;
  std::string actor, text;
  std::optional<std::int64_t> outbox;          // a notification's outbox row
  std::optional<SendStatus> outbox_status;     // its state ("sending" shows as queued)
  std::optional<std::string> last_error;       // why it failed or waits
  std::optional<std::string> delivery;         // bounced | delivered, from a DSN
  std::optional<std::string> delivery_detail;
};

struct CaseVendorView {
  std::string name;
  std::int64_t added = 0;
  std::optional<std::int64_t> notified, last_contact, last_reply;
  std::vector<VendorStatusView> status;   // the whole ("") first, then by CVE id
  std::vector<OutreachView> outreach;     // oldest first
};

// One vendor's notification, composed, for the store to queue.
struct Notification {
  std::string vendor;
  OutboundRecord mail;  // to: the vendor's contacts
  CaseEvent event;
};

// A vendor change of an analyst's: its state (for a CVE id or, with cve
// "", as a whole) and an optional statement.
struct VendorStatusChange {
  std::string vendor, cve, state;
  std::optional<std::string> statement;
};

// A manual attempt to reach a vendor.
struct OutreachEntry {
  std::string vendor, via, text;
};

// The digest's vendors section (report/digest): vendors that owe a reply
// (notified, in a case that is not closed, at or before `since` with no
// reply after it) and what bounced.
struct SilentVendor {
  std::int64_t case_id = 0;
  std::string vendor;
  std::int64_t waiting_since = 0;  // the first notification without a reply after it
};
struct BouncingContact {
  std::optional<std::int64_t> case_id;  // a bounced notification's case; none for a contact of the book
  std::string vendor, address;          // address: the contact, or the DSN's detail
  std::int64_t since = 0;
};
struct VendorAlerts {
  std::int64_t silent_total = 0, bouncing_total = 0;
  std::vector<SilentVendor> silent;       // the longest waiting first, at most `limit`
  std::vector<BouncingContact> bouncing;  // the oldest first, at most `limit`
};

}  // namespace cased
