// Mail we send: replies, acknowledgements and the digest. The Outbox
// coordinates three parts: composition (compose.hpp: PGP/MIME, signed with
// the alias key, encrypted to every recipient and the alias), the queue in
// the database (store/outbox_queue.hpp: a row is claimed atomically before
// it is sent, so casectl and the daemon never send the same mail twice) and
// the transport (net/smtp.hpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/error.hpp"
#include "crypto/crypto.hpp"
#include "outbound/compose.hpp"
#include "store/outbox_queue.hpp"
#include "store/store.hpp"

namespace cased {

struct OutboxOptions {
  std::string alias;
  std::string tag = "CASE";
  std::string signing_key;              // gpg.signing_key ("" = the alias's key)
  std::string ack_template;             // with {tag}, {alias}, {policy}
  std::string policy_url;
  int max_per_recipient_per_day = 50;   // stops a loop that got past everything else
};

OutboxOptions outbox_options(const Config& config);

struct ReplyRequest {
  std::int64_t case_id = 0;
  std::string text;
  std::vector<std::string> to;          // empty: the case's verified reporters
  bool sign_only = false;
  std::string actor;
};

// What a reply carries besides its text (casectl reply --cc, --attach).
struct ReplyExtras {
  std::vector<std::string> cc;             // also encrypted to: each needs a usable key
  std::vector<compose::Part> attachments;  // only inside the encryption (refused with sign_only)
};

struct Queued {
  std::int64_t outbox_id = 0;
  std::int64_t case_id = 0;
  std::vector<std::string> to;
  std::string message_id;
  bool encrypted = false;
  std::vector<std::string> cc;
};

// A notification to vendors (casectl notify; notify.cpp): the same text,
// the files inside the encryption, each vendor its own mail.
struct NotifyRequest {
  std::int64_t case_id = 0;
  std::string text;
  std::vector<compose::Part> attachments;  // refused with sign_only
  bool sign_only = false;                  // a vendor without a key gets signed mail in clear
  std::string actor;
};

struct SendAttempt {
  std::int64_t outbox_id = 0;
  SendStatus status = SendStatus::queued;  // sent | queued | failed
  std::string error;
};

// A composed mail as the case's history records it (outbox.cpp).
OutboundRecord record_of(std::int64_t case_id, const compose::Draft& d, const compose::Composed& c, bool encrypted);

class Outbox {
 public:
  Outbox(Store& store, Crypto& crypto, OutboxOptions options);

  // Composes and queues a reply. Errc::refused (naming the recipients) when
  // one has no usable key and !sign_only: nothing is queued, an event says so.
  Result<Queued> queue_reply(const ReplyRequest& request, const ReplyExtras& extras = {});
  // What queue_reply would refuse before composing (no case, no recipient,
  // a recipient without a usable key), checked before the analyst writes
  // the text in an editor.
  Status check_reply(const ReplyRequest& request, const ReplyExtras& extras);

  // Checks every vendor first (contacts; a key that can encrypt, unless
  // sign_only: Errc::refused naming each vendor without one), then composes
  // one mail per vendor (From the alias, To its contacts only, encrypted to
  // its key and the alias's, Reply-To alias+ID.NAME) and queues them all in
  // one transaction. One Queued per vendor, in order (notify.cpp).
  Result<std::vector<Queued>> queue_notifications(const NotifyRequest& request, const std::vector<Vendor>& vendors);
  Status check_notifications(const NotifyRequest& request, const std::vector<Vendor>& vendors);

  // Queues the digest to `to` (encrypted when its key is known).
  Result<Queued> queue_digest(const std::string& to, const std::string& text, const std::string& bare_text);

  // Sends every due row (or just `only`), once each. Without SMTP
  // configuration nothing is sent and rows stay queued.
  std::vector<SendAttempt> send_due(const std::optional<SmtpConfig>& smtp, std::optional<std::int64_t> only = std::nullopt);

  // Puts a failed row back in the queue.
  Status retry(std::int64_t id);

  // The key to encrypt to for `address`, per docs/contract.md "Trust in a case"; nullopt when none is usable.
  std::optional<std::string> key_for(const std::string& address);

 private:
  struct Keys {
    std::vector<std::string> found;    // fingerprints, for the recipients that have one
    std::vector<std::string> missing;  // recipients without a usable key
    // S/MIME instead: when some recipient has no PGP key and every one has
    // a pinned, usable certificate, their fingerprints (found and missing
    // are then empty).
    std::vector<std::string> certificates;
  };
  Result<Keys> keys_for(const std::vector<std::string>& to);
  // A reply's case, subject, recipients and their keys; refused (with an
  // event) when one has no usable key and the reply is not sign-only.
  struct Addressed {
    std::int64_t case_id = 0;
    std::string subject;
    std::vector<std::string> to, cc;
    Keys keys;
  };
  Result<Addressed> address_reply(const ReplyRequest& request, const ReplyExtras& extras);
  Result<std::optional<std::string>> usable_key(const std::string& address);
  // A vendor's key when gpg.home has it and it can encrypt (notify.cpp).
  std::optional<std::string> vendor_key(const Vendor& v);
  // Every vendor checked as queue_notifications says; each one's key (nullopt without one).
  Result<std::vector<std::optional<std::string>>> notification_keys(const NotifyRequest& request,
                                                                    const std::vector<Vendor>& vendors);
  // Composes an acknowledgement queued by the store, onto its row.
  Result<std::string> compose_ack(const OutboxItem& item);
  SendAttempt send_one(const SmtpConfig& smtp, const std::string& password, std::int64_t id, std::int64_t now);

  OutboxQueue queue_;
  Crypto& crypto_;
  OutboxOptions options_;
};

}  // namespace cased
