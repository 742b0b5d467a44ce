// The case store: one SQLite database, shared by cased and casectl.
// A Store owns one connection; use one per thread. Every public function
// returns a value or an Error (temporary for busy/full/I/O faults).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "crypto.hpp"
#include "disclosure.hpp"
#include "error.hpp"
#include "message.hpp"
#include "sqlite.hpp"

namespace cased {

struct StoreOptions {
  std::string alias = "security@example.com";
  std::string tag = "CASE";
  bool acknowledge = false;   // queue an acknowledgement for new cases (ack.enabled)
};

// How a message reached us. For LMTP the envelope decides plus-routing;
// for `ingest` and IMAP the headers do (SPEC "Envelope and routing").
struct Envelope {
  std::string source = "ingest";            // lmtp | ingest | imap
  std::optional<std::string> mail_from;     // "" = null sender; nullopt = unknown
  std::vector<std::string> recipients;      // LMTP RCPT TO addresses

  bool operator==(const Envelope&) const = default;
};

// A message parsed (and later decrypted) off the database thread.
struct PreparedMessage {
  std::string raw;                          // exactly as received
  std::string sha256;                       // of the bytes with CRLF line ends
  Envelope envelope;
  ParsedMessage parsed;
  std::vector<ImportedKey> keys;            // keys it carried, now in the keyring

  bool operator==(const PreparedMessage&) const = default;
};

// Parses (and with `crypto`, decrypts and verifies) the message; no
// database, safe on any thread that owns its Crypto.
PreparedMessage prepare_message(std::string raw, Envelope envelope, Crypto* crypto = nullptr);

// SHA-256 of the bytes with every line end made CRLF (SPEC "Identity").
std::string normalized_sha256(std::string_view raw);

struct IngestResult {
  std::int64_t case_id = 0;
  std::int64_t message = 0;
  bool new_case = false;
  bool duplicate = false;
};

// The text of a message just stored, kept by the writer so that indexing it
// for search does not read it back from the database.
struct IndexText {
  std::int64_t id = 0;
  std::string subject, body;
};

struct CaseFilter {
  std::optional<std::string> status;
  std::optional<std::string> assignee;
  std::optional<int> stale_days;
};

struct CaseSummary {
  std::int64_t id = 0;
  std::string subject;
  std::string status;
  std::optional<std::string> assignee;
  std::int64_t created = 0;
  std::int64_t updated = 0;
  int messages = 0;
  std::vector<std::string> participants;
  std::optional<std::string> embargo;  // YYYY-MM-DD, for the digest
};

struct MessageView {
  std::int64_t id = 0;
  std::string message_id;
  std::string direction;
  std::string from;
  std::string from_name;
  std::vector<std::string> to;
  std::vector<std::string> cc;
  std::optional<std::int64_t> date;
  std::int64_t received = 0;
  std::string subject;
  std::string body;
  bool encrypted = false;
  bool mixed = false;
  std::string decryption;
  std::optional<std::string> decryption_error;
  std::string signature;
  std::optional<std::string> signer;
  std::optional<std::string> signer_uid;
  bool unverified = false;
  bool malformed = false;
  std::optional<std::string> problems;
  std::vector<Attachment> attachments;
};

struct CommentView {
  std::string author;
  std::string text;
  std::int64_t created = 0;
};

struct EventView {
  std::string kind;
  std::string actor;
  std::int64_t created = 0;
  std::string detail;
};

struct ParticipantView {
  std::string address;
  std::string name;
  std::string role;
  bool verified = true;
  bool bouncing = false;
};

struct CaseDetail {
  CaseSummary summary;
  std::vector<MessageView> messages;
  std::vector<CommentView> comments;
  std::vector<EventView> events;
  std::vector<ParticipantView> participants;
  Disclosure disclosure;
};

struct SearchHit {
  CaseSummary summary;
  std::string snippet;  // with [ ] around matches
};

class Store {
 public:
  // Opens the database, creating it (mode 0600) and migrating it forward.
  static Result<Store> open(const std::string& path, StoreOptions options);
  // For tests: apply migrations only up to `version`.
  static Result<Store> open_at_version(const std::string& path, StoreOptions options, int version);

  int schema_version();
  const StoreOptions& options() const { return options_; }

  // Stores a batch in one transaction (one durable sync). Each message has
  // its own savepoint: one that fails does not take the others down. The
  // outer Result fails only if the commit itself failed (then nothing is stored).
  Result<std::vector<Result<IngestResult>>> ingest(std::vector<PreparedMessage>& batch);

  Result<std::vector<CaseSummary>> list_cases(const CaseFilter& filter);
  // The case, following merges; not_found when it does not exist.
  Result<CaseDetail> get_case(std::int64_t id);
  // Indexes what is still unindexed first (index_pending), so it finds
  // every stored message.
  Result<std::vector<SearchHit>> search(const std::string& query);

  // Adds every message stored since the last call to the search index
  // (schema 7), in transactions of at most 256 messages; returns how many.
  // Text comes from `known` (sorted by id) when it holds the message, from
  // the database otherwise. With `durable` false the transactions are not
  // synced: the next durable commit syncs them, and a crash before that
  // only leaves those messages to be indexed again.
  Result<std::size_t> index_pending(const std::vector<IndexText>& known = {}, bool durable = true);

  Status assign(std::int64_t id, const std::string& user, const std::string& actor);
  Status set_status(std::int64_t id, const std::string& status, const std::string& actor);
  Status add_comment(std::int64_t id, const std::string& text, const std::string& actor);
  // Applies a validated change; one "disclosure" event per field that changed.
  // Returns the details of those events (empty when nothing changed).
  Result<std::vector<std::string>> set_disclosure(std::int64_t id, const DisclosureChange& change,
                                                  const std::string& actor);

  // Follows merged_into; nullopt when there is no such case.
  std::optional<std::int64_t> resolve_case(std::int64_t id);

  sql::Db& db() { return db_; }

  // For the outbox, inside its transaction: the event log and outbound messages.
  void add_event(std::int64_t case_id, std::string_view kind, std::string_view actor, std::string_view detail,
                 std::int64_t now);
  std::int64_t store_outbound(std::int64_t case_id, const std::string& message_id, const std::vector<std::string>& to,
                              const std::string& subject, const std::string& body, const std::string& raw,
                              bool encrypted, const std::string& in_reply_to, const std::vector<std::string>& references,
                              std::int64_t now, const std::optional<std::string>& signer = std::nullopt);

 private:
  Store(sql::Db db, StoreOptions options) : db_(std::move(db)), options_(std::move(options)) {}
  void migrate(int up_to);
  IngestResult ingest_one(PreparedMessage& msg, std::int64_t now);
  std::optional<CaseSummary> summary(std::int64_t id);
  void queue_acknowledgement(const PreparedMessage& msg, std::int64_t case_id, std::int64_t now);
  // The message's text is raw's bytes from `offset`: kept once (schema 6).
  void record_body_in_raw(std::int64_t message, std::size_t offset, std::size_t length);
  void touch(std::int64_t case_id, std::int64_t now);
  void record_keys(const PreparedMessage& msg, std::int64_t case_id, std::int64_t now);

  sql::Db db_;
  StoreOptions options_;
};

const std::vector<std::string>& case_states();

}  // namespace cased
