// The threading decision (docs/contract.md "Threading", "Trust in a case"): which
// case a message goes to and by which rule, whether its sender is trusted
// there, which other cases it joins, whether it bounces mail we sent and
// whether it is acknowledged. Pure: what it must know of the stored cases
// it asks a RoutingLookup, which the store answers from its database.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "cases/vendor_address.hpp"
#include "intake/prepare.hpp"
#include "mail/authres.hpp"

namespace cased {

// The questions routing asks about what is stored. Case numbers are as
// stored: route_message() follows merges itself, with resolve_case().
class RoutingLookup {
 public:
  virtual ~RoutingLookup() = default;
  // The case `id` was merged into, or `id` itself; nullopt when there is none.
  virtual std::optional<std::int64_t> resolve_case(std::int64_t id) = 0;
  // The case of an outbound message of ours with this Message-ID.
  virtual std::optional<std::int64_t> outbound_case(const std::string& message_id) = 0;
  // The cases of the stored messages (in or out) with this Message-ID.
  virtual std::vector<std::int64_t> cases_of_message(const std::string& message_id) = 0;
  // The cases of the stored messages whose In-Reply-To/References name it.
  virtual std::vector<std::int64_t> cases_referencing(const std::string& message_id) = 0;
  // Whether `address` (normalised) is a verified participant of the case
  // or a recipient of its outbound mail other than an acknowledgement.
  virtual bool verified_participant(std::int64_t case_id, const std::string& address) = 0;
  // Every such address of the case.
  virtual std::set<std::string> verified_people(std::int64_t case_id) = 0;
  // How many acknowledgements were queued for this mailbox (any variant)
  // after `since`, counted from what is stored (a restart resets nothing).
  virtual std::int64_t acknowledgements_since(const std::string& address, std::int64_t since) = 0;
  // Acknowledgements queued to anyone since then.
  virtual std::int64_t all_acknowledgements_since(std::int64_t since) = 0;
  // The cases an analyst split this one from (casectl split), nearest
  // first, each followed through merges; none by default.
  virtual std::vector<std::int64_t> split_origins(std::int64_t /*case_id*/) { return {}; }

  // Coordinating with vendors; none by default. A vendor is attached to a
  // case when it has a case_vendors row there or in a case merged into it.
  virtual bool case_has_vendor(std::int64_t /*case_id*/, const std::string& /*vendor*/) { return false; }
  // The vendors attached to the case that list `address` as a contact in
  // the book; whose key (fingerprint) is `fingerprint`. Sorted by name.
  virtual std::vector<std::string> case_vendors_with_contact(std::int64_t /*case_id*/, const std::string& /*address*/) {
    return {};
  }
  virtual std::vector<std::string> case_vendors_with_key(std::int64_t /*case_id*/, const std::string& /*fingerprint*/) {
    return {};
  }
  // The case (as stored) and vendor of our notification (an outbox row of
  // kind notify) with this Message-ID.
  struct Notification {
    std::int64_t case_id = 0;
    std::string vendor;
  };
  virtual std::optional<Notification> notification(const std::string& /*message_id*/) { return std::nullopt; }
};

struct RoutingOptions {
  std::string_view alias;        // security@example.com
  std::string_view tag;          // CASE in [CASE#42]
  std::string_view authserv_id;  // whose Authentication-Results count; "" none
  bool acknowledge = false;      // acknowledge new cases at all
  int ack_per_day = 10;          // at most this many acknowledgements to one mailbox in 24 hours (ack.per_sender_per_day)
  int ack_per_hour = 100;        // at most this many to anyone in an hour (ack.per_hour)
};

struct RoutingInput {
  const PreparedMessage& msg;
  const std::string& message_id;  // as it is stored (never empty)
  bool same_id_stored = false;    // a message with this Message-ID and other bytes is stored
  std::int64_t now = 0;           // for the acknowledgements' daily cap
};

// The rule that found the case, first match wins. A bounce of our own mail
// goes before the rules.
enum class RouteRule { bounce, plus_address, subject_tag, references, new_case };

// "bounce", "plus-address", "subject tag", "references", "new case".
std::string_view rule_name(RouteRule rule);

// A delivery failure of a message we sent.
struct Bounce {
  std::string message_id;               // ours, as the bounce quotes it
  std::vector<std::string> recipients;  // whom it failed to reach
  std::vector<std::string> delivered;   // whom it reached (a success report)
};

struct Acknowledgement {
  enum class Kind {
    none,          // not a new case, acknowledgements off, or no address (RFC 3834)
    forged_from,   // the From failed DMARC: an acknowledgement would be backscatter
    capped,        // `address` had its daily cap of acknowledgements (ack.per_sender_per_day)
    busy,          // the alias sent its hourly cap of acknowledgements (ack.per_hour)
    queue,         // queue one for `address`
  };
  Kind kind = Kind::none;
  std::string address;
};

struct RoutingDecision {
  std::optional<std::int64_t> case_id;  // nullopt: a new case
  RouteRule rule = RouteRule::new_case;
  std::string sender;                   // From, normalised
  std::optional<AuthResults> auth;      // the trusted MTA's verdict, if it gave one
  bool forged = false;                  // the From failed DMARC
  bool unverified = false;              // the sender is not a verified participant of the case
  bool participant = false;             // the sender joins the case's participants (verified unless `unverified`)
  std::vector<std::int64_t> join;       // same thread, same verified people: folded into case_id
  std::vector<std::int64_t> not_merged; // also named by the references, left alone
  std::optional<Bounce> bounce;
  std::vector<std::string> refs;        // what message_refs() keeps, to be stored
  Acknowledgement ack;
  // Coordinating with vendors (decide_party() in routing.cpp). `vendor`:
  // the message is that vendor's (party "vendor:NAME"), proven by the
  // sender being its contact or by its key's good signature. `vendor_claim`:
  // it was addressed to alias+ID.NAME or answers a notification to NAME
  // but proves neither, so it is unverified. `stray_vendor_address`: an
  // alias+ID.NAME whose NAME is no vendor of case ID, ignored as a route.
  std::optional<std::string> vendor;
  std::optional<std::string> vendor_claim;
  std::optional<PlusTarget> stray_vendor_address;
  bool participant_verified = false;    // the sender joins the participants verified
};

// Where `in.msg` goes and what that grants its sender. Asks `lookup` a
// bounded number of questions: per reference kept, two; per case they find,
// at most three more.
RoutingDecision route_message(const RoutingInput& in, const RoutingOptions& options, RoutingLookup& lookup);

// Why the sender's own keys in the message are not pinned ("" when they may be).
std::string_view no_pin_reason(const RoutingDecision& decision);

// In-Reply-To and References without repeats or the message's own id: at
// most 256, the In-Reply-To ids and the closest ancestors, the References
// in their written order after In-Reply-To.
std::vector<std::string> message_refs(const ParsedMessage& pm, const std::string& message_id);

}  // namespace cased
