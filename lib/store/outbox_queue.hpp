// The outbox queue: the mail cased sends, as rows of the outbox table, and
// what the outbox reads of a case to address and thread it. Every function
// returns a value or an Error (temporary for busy/full/I/O faults).
//
// A row is claimed (queued -> sending, with a lease) in one statement before
// it is sent, so that cased and casectl never send the same row twice; a
// claim whose lease ran out belongs to a sender that died and is due again.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.hpp"
#include "mail/message.hpp"

namespace cased {

class Store;
struct Notification;

enum class SendStatus { queued, sending, sent, failed, cancelled };

// The database's and the JSON's word for it.
std::string_view to_string(SendStatus status);
// nullopt for a word the schema does not know.
std::optional<SendStatus> parse_send_status(std::string_view text);

// A row as `casectl outbox` lists it ("sending" shows as queued).
struct OutboxRow {
  std::int64_t id = 0;
  std::optional<std::int64_t> case_id;
  std::string kind;                     // reply | ack | digest | notify | announce
  SendStatus status = SendStatus::queued;
  std::vector<std::string> to;
  std::string subject;
  int attempts = 0;
  std::optional<std::string> last_error;
  std::int64_t created = 0;
  std::optional<std::int64_t> sent;
  std::int64_t next_attempt = 0;
};

// An outbound message's row, as `show` marks the message ("sending" shows as queued).
struct OutboxState {
  std::int64_t id = 0;
  SendStatus status = SendStatus::queued;
};

// A claimed row, as the sender needs it. An acknowledgement is queued
// before it is composed: its `raw` is empty until then.
struct OutboxItem {
  std::int64_t id = 0;
  std::optional<std::int64_t> case_id;
  std::string kind;
  std::vector<std::string> to;
  std::string raw;
  std::string message_id;
  int attempts = 0;
};

// A mail cased sent, for the case's history (a message with direction "out").
struct OutboundRecord {
  std::int64_t case_id = 0;
  std::string message_id;
  std::vector<std::string> to;
  std::string subject;                  // the inner subject
  std::string body;
  std::string raw;
  bool encrypted = false;
  std::string in_reply_to;
  std::vector<std::string> references;
  std::optional<std::string> signer;
  std::vector<std::string> cc;          // also recipients of the outbox row
  std::vector<Attachment> attachments;  // the files it carries, for `show`
};

struct CaseEvent {
  std::string kind, actor, detail;
};

struct ReplyCase {
  std::int64_t id = 0;                  // merges followed
  std::string subject;
};

// Where a mail goes in a thread: the message it answers and its references.
struct ThreadPlace {
  std::string in_reply_to;              // "" when it answers none
  std::vector<std::string> references;
};

class OutboxQueue {
 public:
  explicit OutboxQueue(Store& store) : store_(store) {}

  // The case (following merges) and its subject; not_found without it.
  Result<ReplyCase> reply_case(std::int64_t id);
  // The case's verified reporters, in the order they were added.
  Result<std::vector<std::string>> verified_reporters(std::int64_t case_id);
  // The last inbound message from one of `to` that was theirs (not marked
  // unverified), with its references; empty when there is none.
  Result<ThreadPlace> reply_place(std::int64_t case_id, const std::vector<std::string>& to);
  // The case's first inbound message, for an acknowledgement.
  Result<ThreadPlace> first_inbound(std::int64_t case_id);
  Status add_event(std::int64_t case_id, const CaseEvent& event, std::int64_t now);
  // The store's key records, for choosing the key to encrypt to: the key
  // pinned to `address`, and whether a key ever came by mail.
  Result<std::optional<std::string>> pinned_key(const std::string& address);
  Result<std::optional<std::string>> pinned_certificate(const std::string& address);  // S/MIME
  Result<bool> key_from_mail(const std::string& fingerprint);
  // The key pasted into the web form that opened `case_id`, when `address` typed it.
  Result<std::optional<std::string>> web_key(std::int64_t case_id, const std::string& address);

  // In one transaction: the reply in the case's history, its outbox row,
  // and `event`. Returns the row's id.
  Result<std::int64_t> enqueue_reply(const OutboundRecord& mail, const CaseEvent& event, std::int64_t now);
  Result<std::int64_t> enqueue_digest(const std::string& to, const std::string& subject, const std::string& message_id,
                                      const std::string& raw, std::int64_t now);
  // In one transaction: each vendor's notification in the case's history
  // (its party the vendor's), its outbox row (kind notify), the vendor
  // attached to the case, notified, of status unknown if it had none, an
  // outreach row and `event`. Returns the rows' ids (coordination.cpp).
  Result<std::vector<std::int64_t>> enqueue_notifications(std::int64_t case_id, const std::vector<Notification>& batch,
                                                          const std::string& actor, std::int64_t now);
  // The composed acknowledgement: into the case's history and onto row `id`.
  Status attach_ack(std::int64_t id, const OutboundRecord& mail, std::int64_t now);

  // Rows due at `now` (or just `only`), oldest first, at most `limit`.
  Result<std::vector<std::int64_t>> due(std::int64_t now, std::optional<std::int64_t> only, int limit = 100);
  // Claims a due row for `lease` seconds; false when another sender has it
  // or it is no longer due. Counts the attempt.
  Result<bool> claim(std::int64_t id, std::int64_t now, std::int64_t lease);
  Result<OutboxItem> item(std::int64_t id);
  // Those of `to` that were sent `max` mails or more since `since` (counted
  // per mailbox: quoted and +detail variants of it count together).
  Result<std::vector<std::string>> over_limit(const std::vector<std::string>& to, std::int64_t since, std::int64_t max);

  // The end of an attempt on a claimed row: sent (with its case events),
  // failed for good, or queued again for `next_attempt`.
  Status mark_sent(std::int64_t id, std::int64_t now, std::optional<std::int64_t> case_id,
                   const std::vector<CaseEvent>& events);
  Status mark_failed(std::int64_t id, const std::string& error);
  Status defer(std::int64_t id, const std::string& error, std::int64_t next_attempt);
  // Puts a failed (or queued) row back in the queue, due now, attempts
  // counted from zero; not_found otherwise.
  Status retry(std::int64_t id, std::int64_t now);

  // Every row, oldest first.
  Result<std::vector<OutboxRow>> list();

  // Cancels row `id` if it is still queued, in one conditional statement
  // (a sender that claimed it first wins: it is then "sending"), with an
  // event `cancel` by `actor` on its case. Returns the row's case (nullopt
  // for the digest). not_found without the row; refused, naming its
  // state, when it is not queued (outbox_cancel.cpp).
  Result<std::optional<std::int64_t>> cancel(std::int64_t id, const std::string& actor);

 private:
  // Inside the caller's transaction: `mail` in the case's history and its
  // outbox row of `kind`; returns (message id, outbox id).
  std::pair<std::int64_t, std::int64_t> insert_outbound(const OutboundRecord& mail, std::string_view kind,
                                                        std::int64_t now);

  Store& store_;
};

// Every outbox row, oldest first ("sending" shows as "queued"). Needs no key.
Result<std::vector<OutboxRow>> list_outbox(Store& store);

}  // namespace cased
