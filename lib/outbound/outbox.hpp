// Mail we send: replies, acknowledgements and the digest. Composes PGP/MIME
// (signed with the alias key, encrypted to every recipient and the alias),
// queues it in the database, and sends what is due over SMTP. A row is
// claimed atomically before it is sent, so casectl and the daemon never send
// the same mail twice.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "crypto/crypto.hpp"
#include "core/error.hpp"
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

struct Queued {
  std::int64_t outbox_id = 0;
  std::int64_t case_id = 0;
  std::vector<std::string> to;
  std::string message_id;
  bool encrypted = false;
};

struct SendAttempt {
  std::int64_t outbox_id = 0;
  std::string status;                   // sent | queued | failed
  std::string error;
};

struct OutboxRow {
  std::int64_t id = 0;
  std::optional<std::int64_t> case_id;
  std::string kind;
  std::string status;
  std::vector<std::string> to;
  std::string subject;
  int attempts = 0;
  std::optional<std::string> last_error;
  std::int64_t created = 0;
  std::optional<std::int64_t> sent;
  std::int64_t next_attempt = 0;
};

class Outbox {
 public:
  Outbox(Store& store, Crypto& crypto, OutboxOptions options);

  // Composes and queues a reply. Errc::refused (naming the recipients) when
  // one has no usable key and !sign_only: nothing is queued, an event says so.
  Result<Queued> queue_reply(const ReplyRequest& request);

  // Queues the digest to `to` (encrypted when its key is known).
  Result<Queued> queue_digest(const std::string& to, const std::string& text, const std::string& bare_text);

  // Sends every due row (or just `only`), once each. Without SMTP
  // configuration nothing is sent and rows stay queued.
  std::vector<SendAttempt> send_due(const std::optional<SmtpConfig>& smtp, std::optional<std::int64_t> only = std::nullopt);

  // Puts a failed row back in the queue.
  Status retry(std::int64_t id);

  // The key to encrypt to for `address`, per contract: "Keys"; nullopt when none is usable.
  std::optional<std::string> key_for(const std::string& address);

 private:
  Result<std::string> compose(const std::string& message_id, const std::vector<std::string>& to,
                              const std::string& inner_subject, const std::string& outer_subject,
                              const std::string& text, const std::vector<std::string>& recipient_keys,
                              bool encrypt, const std::string& in_reply_to, const std::vector<std::string>& references,
                              bool automatic);
  Status compose_ack(std::int64_t outbox_id);
  std::string new_message_id(std::int64_t case_id);

  Store& store_;
  Crypto& crypto_;
  OutboxOptions options_;
  std::optional<std::string> last_signer_;  // the key compose() signed with, for the stored copy
};

// Every outbox row, oldest first ("sending" shows as "queued"). Needs no key.
Result<std::vector<OutboxRow>> list_outbox(Store& store);

}  // namespace cased
