// The case store: one SQLite database, shared by cased and casectl.
// A Store owns one connection; use one per thread. Every public function
// returns a value or an Error (temporary for busy/full/I/O faults).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "mail/authres.hpp"
#include "core/config.hpp"
#include "cases/disclosure.hpp"
#include "cases/routing.hpp"
#include "core/error.hpp"
#include "intake/prepare.hpp"
#include "mail/message.hpp"
#include "store/advisories.hpp"
#include "store/coordination.hpp"
#include "store/outbox_queue.hpp"
#include "store/sqlite.hpp"
#include "store/vendors.hpp"

namespace cased {

struct StoreOptions {
  // A constructor rather than an aggregate, so that {alias, tag} and
  // {alias, tag, acknowledge} keep meaning what they did as fields are added.
  StoreOptions(std::string alias_ = "security@example.com", std::string tag_ = "CASE", bool acknowledge_ = false,
               std::string authserv_id_ = "")
      : alias(std::move(alias_)), tag(std::move(tag_)), acknowledge(acknowledge_), authserv_id(std::move(authserv_id_)) {}

  std::string alias;
  std::string tag;
  bool acknowledge;           // queue an acknowledgement for new cases (ack.enabled)
  int ack_per_day = 10;       // at most this many to one sender in 24 hours (ack.per_sender_per_day)
  int ack_per_hour = 100;     // at most this many to anyone in an hour (ack.per_hour)
  // The authserv-id of the receiving MTA's Authentication-Results field
  // (case.authserv_id); "" trusts none.
  std::string authserv_id;
  // How long a statement waits for another connection's lock (case.busy_timeout).
  std::chrono::milliseconds busy_timeout{10000};
};

// The store's options from the configuration; `acknowledge` as the caller
// decides (a backfill acknowledges nothing).
StoreOptions store_options(const Config& config, bool acknowledge);

struct IngestResult {
  std::int64_t case_id = 0;
  std::int64_t message = 0;
  bool new_case = false;
  bool duplicate = false;
  bool ack_capped = false;  // a new case whose sender had the day's acknowledgements (ack.per_sender_per_day)
  bool ack_busy = false;    // a new case past the alias's hourly acknowledgements (ack.per_hour)
};

// The text of a message just stored, kept by the writer so that indexing it
// for search does not read it back from the database.
struct IndexText {
  std::int64_t id = 0;
  std::string subject, body;
};

// How list_cases orders: by last activity (default), creation or id, newest
// first; or by embargo, the soonest first and cases without one last.
enum class CaseSort { updated, created, id, embargo };

// Empty filter: every case that is not merged into another.
struct CaseFilter {
  std::vector<std::string> statuses;  // any of these states (empty: any state)
  std::optional<std::string> assignee;
  bool unassigned = false;            // only cases nobody is assigned to
  bool embargoed = false;             // only cases with an embargo date
  std::optional<int> stale_days;      // no activity for that long; never closed cases
  std::optional<int> limit;           // at most this many, in the order asked
  CaseSort sort = CaseSort::updated;
  bool reverse = false;               // the opposite order
  std::vector<std::string> tags;      // only cases with every one of these tags
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
  std::vector<std::string> cves;       // as `set --cve` added them, oldest first
  std::optional<std::string> resolution;  // why it was closed (resolutions()); none while open
  std::vector<std::string> tags;          // sorted
};

struct MessageView {
  std::int64_t id = 0;
  std::string message_id;
  std::string direction;
  std::string from;
  std::string from_name;
  std::string source;  // lmtp | ingest | imap | web | casectl (how it came in)
  std::vector<std::string> to;
  std::vector<std::string> cc;
  std::optional<std::int64_t> date;
  std::int64_t received = 0;
  std::string subject;
  std::string body;
  bool encrypted = false;
  bool mixed = false;
  DecryptionState decryption = DecryptionState::none;
  std::optional<std::string> decryption_error;
  SignatureState signature = SignatureState::none;
  std::optional<std::string> signer;
  std::optional<std::string> signer_uid;
  std::optional<std::string> crypto;    // "pgp" | "smime"; nullopt: neither
  std::optional<SmimeSigner> smime;     // the S/MIME signer's certificate
  bool unverified = false;
  bool malformed = false;
  std::optional<std::string> problems;
  std::optional<AuthResults> auth;   // the receiving MTA's verdict, when recorded
  std::vector<Attachment> attachments;  // in MIME order: the Nth is handle ID.N
  std::optional<OutboxState> outbox;  // an outbound message's outbox row, if it has one
  std::optional<std::string> party;   // as stored: "vendor:NAME", or none (see message_party)
};

// Whose a message is (store/vendor_party.cpp): "vendor:NAME" as stored,
// else "unverified" for a message marked so, else "reporter" (the case's
// own thread: its reporter, analysts and our mail to them).
std::string message_party(const MessageView& m);

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
  std::optional<std::int64_t> merged_into;  // the case it lives in now, when merged (its status reads "merged")
  std::optional<std::int64_t> split_from;   // the case its first messages were split from
  std::vector<CaseVendorView> vendors;      // the vendors attached to it (coordination.cpp)
};

// A key as the keys table records it (keys.cpp).
struct KeyRecord {
  std::string address;
  std::string fingerprint;
  std::string source;  // attachment, inline, autocrypt, signature, keyring or analyst
  std::optional<std::int64_t> case_id;
  bool pinned = false;
  std::int64_t added = 0;
  std::optional<std::string> offered_by;  // the sender whose mail carried it
  std::string protocol = "pgp";           // pgp (an OpenPGP key) | smime (an X.509 certificate)
};

// An attachment as stored, with its handle MSG.PART (attachments.cpp).
struct StoredAttachment {
  std::int64_t case_id = 0;
  std::int64_t message = 0;
  int part = 0;  // from 1, in MIME order within the message
  Attachment info;
  std::string handle() const;  // "MSG.PART"
};

inline constexpr std::size_t kSearchLimit = 50;

struct SearchHit {
  CaseSummary summary;
  std::string snippet;  // with [ ] around matches
};

// One section of the reminder digest (lib/report/digest.hpp), as the
// store counts it: every case that is not merged and, for `stale` and
// `embargo`, not closed (resolved or rejected).
struct SectionQuery {
  enum class Kind { new_unassigned, stale, waiting, embargo };
  Kind kind = Kind::new_unassigned;
  std::int64_t idle_since = 0;  // stale: last activity at or before this
  std::string embargo_by;       // embargo: an embargo date (YYYY-MM-DD) up to this one
  std::size_t limit = 20;
};

// How many cases a section holds, and the `limit` oldest of them (by
// creation; for the embargo section by the earliest embargo date).
struct CaseSection {
  std::int64_t total = 0;
  std::vector<CaseSummary> cases;
};

// Durations in seconds over a set of cases; nullopt when there are none.
struct Durations {
  std::int64_t cases = 0;
  std::optional<std::int64_t> median, p90;
};

// `casectl stats` over [since, until) (store/stats.cpp). Counts by state
// and open cases by age and assignee are of now; opened, closed and the
// durations are of the cases opened (first response) or closed (time to
// resolution) in the period.
struct CaseStats {
  std::int64_t since = 0, until = 0, now = 0;
  std::vector<std::pair<std::string, std::int64_t>> by_status;  // every state, in case_states() order
  // Closed cases (now) by resolution: every reason in resolutions() order, then "none".
  std::vector<std::pair<std::string, std::int64_t>> by_resolution;
  std::int64_t opened = 0, closed = 0;
  Durations first_response;      // to the first outbound mail that is not an acknowledgement
  Durations time_to_resolution;  // to resolved or rejected
  std::vector<std::pair<std::string, std::int64_t>> open_by_age;  // <7d, 7-30d, 30-90d, >90d
  std::vector<std::pair<std::optional<std::string>, std::int64_t>> open_by_assignee;  // most first
};

class Store {
 public:
  // Opens the database, creating it (mode 0600) and migrating it forward.
  // A database at a schema newer than this program knows is refused
  // (Errc::refused) before anything is written to it.
  static Result<Store> open(const std::string& path, StoreOptions options);
  // For tests: apply migrations only up to `version`.
  static Result<Store> open_at_version(const std::string& path, StoreOptions options, int version);
  // Opens an existing database for reading only (SQLITE_OPEN_READONLY): it
  // never creates, migrates or writes it, so it works without write access.
  // A schema other than this program's newest is refused (Errc::refused).
  static Result<Store> open_readonly(const std::string& path, StoreOptions options);
  // The newest schema version compiled into this program.
  static int newest_schema_version();

  Result<int> schema_version();
  const StoreOptions& options() const { return options_; }

  // Stores a batch in one transaction (one durable sync). Each message has
  // its own savepoint: one that fails does not take the others down. The
  // outer Result fails only if the commit itself failed (then nothing is stored).
  // It lets go of the decoded bodies of each message's MIME parts (the
  // message's text and attachment list stay): nothing stores them.
  Result<std::vector<Result<IngestResult>>> ingest(std::vector<PreparedMessage>& batch);
  // For a bulk import on this connection: SQLite checkpoints the WAL once
  // it holds `pages` (its default is 1,000), so the database file is
  // written and synced in fewer, larger steps. The WAL file keeps that
  // size while another connection holds the database open.
  void wal_autocheckpoint(int pages);

  Result<std::vector<CaseSummary>> list_cases(const CaseFilter& filter);
  // The case; for a merged one its own record (events, `merged_into`),
  // its messages being in that case. not_found when it does not exist.
  Result<CaseDetail> get_case(std::int64_t id);
  // Indexes what is still unindexed first (index_pending), so it finds
  // every stored message. The best `limit` cases by rank (FTS5 bm25 of
  // their best message or note), best first; search(query) gives kSearchLimit.
  Result<std::vector<SearchHit>> search(const std::string& query);
  Result<std::vector<SearchHit>> search(const std::string& query, std::size_t limit);

  // Adds every message stored since the last call to the search index
  // (schema 7), in transactions of at most 256 messages; returns how many.
  // Text comes from `known` (sorted by id) when it holds the message, from
  // the database otherwise. With `durable` false the transactions are not
  // synced: the next durable commit syncs them, and a crash before that
  // only leaves those messages to be indexed again.
  Result<std::size_t> index_pending(const std::vector<IndexText>& known = {}, bool durable = true);

  // A digest section's size and oldest cases, each read through an index
  // (schema 9) and bounded by `limit` (store/stats.cpp).
  Result<CaseSection> digest_section(const SectionQuery& query);
  Result<CaseStats> case_stats(std::int64_t since, std::int64_t until);

  // `user` nullopt unassigns (event detail ""); an empty name is invalid.
  Status assign(std::int64_t id, const std::optional<std::string>& user, const std::string& actor);
  Status set_status(std::int64_t id, const std::string& status, const std::string& actor) {
    return change_status(id, StatusChange{status, std::nullopt, std::nullopt}, actor);
  }
  Status add_comment(std::int64_t id, const std::string& text, const std::string& actor);

  // Triage (store/triage.cpp). A change of state to resolved or rejected
  // keeps `resolution` (or none); any other state clears it; the same
  // closed state with another resolution changes only that. Events
  // `status` and `resolution`; `note` is added as a comment in the same
  // transaction. A resolution with an open state is Errc::invalid.
  struct StatusChange {
    std::string state;
    std::optional<std::string> resolution;
    std::optional<std::string> note;
  };
  Status change_status(std::int64_t id, const StatusChange& change, const std::string& actor);
  // Adds (`add`) or removes each tag in order: all are checked first
  // (Errc::invalid naming the first bad one, nothing changed). Adding a tag
  // the case has, or removing one it lacks, changes nothing. One `tag`
  // event lists what changed ("+a -b"); returns those changes.
  struct TagEdit {
    bool add = true;
    std::string tag;
  };
  Result<std::vector<std::string>> edit_tags(std::int64_t id, const std::vector<TagEdit>& edits,
                                             const std::string& actor);
  // Applies a validated change; one "disclosure" event per field that changed.
  // Returns the details of those events (empty when nothing changed).
  Result<std::vector<std::string>> set_disclosure(std::int64_t id, const DisclosureChange& change,
                                                  const std::string& actor);

  // Attachments out (attachments.cpp). Every attachment of case `id`
  // (following merges), by message and part; not_found without the case.
  Result<std::vector<StoredAttachment>> case_attachments(std::int64_t id);
  // The bytes of message `message` exactly as received; not_found unless
  // case `id` (following merges) holds it.
  Result<std::string> raw_message(std::int64_t id, std::int64_t message);
  // An "attachment-saved" event naming the handles (never names or contents).
  Status attachments_saved(std::int64_t id, const std::vector<std::string>& handles, const std::string& actor);

  // The case `id` lives in now, following merges; nullopt when there is no such case.
  Result<std::optional<std::int64_t>> find_case(std::int64_t id);

  // Merge and split (merge.cpp). merge_case moves every message, comment,
  // participant, CVE id, tag, key record and outbox row of `id` into
  // `into` (followed through merges), which keeps its own fields where it
  // has them, and marks `id` merged; it returns the case they went into.
  // A cycle, an unknown case and an open case into a closed one are
  // refused with nothing changed. split_case moves `messages` (some of
  // `id`'s, with at least one received) into a new case and returns it.
  Result<std::int64_t> merge_case(std::int64_t id, std::int64_t into, const std::string& actor);
  Result<std::int64_t> split_case(std::int64_t id, const std::vector<std::int64_t>& messages,
                                  const std::string& actor);

  // An analyst vouches for `address` in case `id`: a verified participant
  // with `role` (an unverified one is promoted). not_found without the case.
  Status add_participant(std::int64_t id, const std::string& address, const std::string& role,
                         const std::string& actor);

  // Keys and pins (keys.cpp; docs/contract.md "Trust in a case"): the key pinned to `address`,
  // if any; and whether a key ever arrived by mail (such a key never counts
  // as the operator's).
  Result<std::optional<std::string>> pinned_key(const std::string& address);
  Result<bool> key_from_mail(const std::string& fingerprint);
  // The S/MIME certificate pinned to `address` (schema 20), if any.
  Result<std::optional<std::string>> pinned_certificate(const std::string& address);
  // An analyst pins `fingerprint` to `address` (any other pin of the address
  // is dropped); every case the address takes part in gets a "key" event.
  Status pin_key(const std::string& address, const std::string& fingerprint, const std::string& actor);
  // Every key recorded, by address and then age.
  Result<std::vector<KeyRecord>> list_keys();

  // Reports made on the web form (web_reports.cpp): the receipt, typed
  // address and pasted key of case `id` (nullopt: not a web report).
  struct WebReport {
    std::int64_t case_id = 0;
    std::string receipt, address, fingerprint;
    std::int64_t created = 0;
  };
  Result<std::optional<WebReport>> web_report(std::int64_t case_id);

  // The vendor contact book (vendors.cpp; schema 16). Every vendor by
  // name; one vendor (not_found naming it); save_vendor writes `v` whole
  // (its contacts replace the old ones), pins its key to each contact that
  // does not have it pinned (as pin_key) and logs `detail`; remove_vendor
  // drops a vendor and its contacts, keeping pins and the log.
  Result<std::vector<Vendor>> list_vendors();
  Result<Vendor> get_vendor(const std::string& name);
  Status save_vendor(const Vendor& v, VendorWrite how, const std::string& detail, const std::string& actor);
  Status remove_vendor(const std::string& name, const std::string& actor);
  // The vendor's log, oldest first (also after it was removed).
  Result<std::vector<VendorLogEntry>> vendor_log(const std::string& name);

  // Advisories (advisories.cpp; schema 18). advisory_init makes the case's
  // draft, allocating its tracking id PREFIX-YEAR-NNNN once (Errc::invalid
  // when the case has one already); get_advisory reads it (not_found
  // without one); set_advisory_field and add_advisory_reference change it
  // (an "advisory" event each, naming the field, never its text);
  // record_publication bumps the version with its revision (and a forced
  // publication's reason) in one transaction, inside which, after its
  // checks, `place` puts the files in the provider directory: a concurrent
  // publisher of the same version is refused before placing anything, and
  // a failed placing records nothing. queue_announce puts a signed
  // announcement in the case's history and the outbox (kind 'announce').
  Result<AdvisoryRecord> advisory_init(std::int64_t id, const std::string& prefix, const std::string& actor);
  Result<AdvisoryRecord> get_advisory(std::int64_t id);
  // Several fields in one transaction (advisory edit): all or none.
  Status set_advisory_fields(std::int64_t id, const std::vector<AdvisoryFieldValue>& changes,
                             const std::string& actor);
  Status set_advisory_field(std::int64_t id, AdvisoryField field, const std::optional<std::string>& value,
                            const std::string& actor);
  Status add_advisory_reference(std::int64_t id, const std::string& url, const std::string& actor);
  Status record_publication(std::int64_t id, const AdvisoryPublication& publication, const std::string& actor,
                            const std::function<Status()>& place);
  Result<std::int64_t> queue_announce(std::int64_t id, const AnnounceMail& mail, const std::string& actor);
  // Every vendor status row of the case (schema 17), by vendor and CVE id.
  Result<std::vector<VendorStatusRow>> vendor_statuses(std::int64_t id);
  // Coordinating with vendors (coordination.cpp; schema 17). A vendor's
  // state in case `id` (as a whole, or for one CVE id), refused unless the
  // vendor is attached to the case (notified, or an attempt recorded); a
  // manual attempt to reach a vendor of the book, which attaches it (its
  // contacts become verified participants with role vendor). Each with an
  // event. vendor_alerts: the digest's vendors section, notifications sent
  // at or before `since` still without a reply, and what bounced.
  Status set_vendor_status(std::int64_t id, const VendorStatusChange& change, const std::string& actor);
  Status add_outreach(std::int64_t id, const OutreachEntry& entry, const std::string& actor);
  Result<VendorAlerts> vendor_alerts(std::int64_t since, std::size_t limit);

  // Rate limits compare rate_key()s, so quoted and +detail variants of one
  // mailbox count together: how many sent mails went to `address` since `since`.
  Result<std::int64_t> sent_to_since(const std::string& address, std::int64_t since);

  // IMAP state (imap_state.cpp), per "user@host/mailbox": the UIDVALIDITY
  // seen last (0 if never), and recording it with the last UID handled.
  Result<std::uint32_t> imap_uidvalidity(const std::string& mailbox);
  Status save_imap_state(const std::string& mailbox, std::uint32_t uidvalidity, std::uint32_t last_uid);

  // For the outbox queue (outbox_queue.hpp), inside its transactions: the
  // event log and outbound messages.
  void add_event(std::int64_t case_id, std::string_view kind, std::string_view actor, std::string_view detail,
                 std::int64_t now);
  std::int64_t store_outbound(std::int64_t case_id, const std::string& message_id, const std::vector<std::string>& to,
                              const std::string& subject, const std::string& body, const std::string& raw,
                              bool encrypted, const std::string& in_reply_to, const std::vector<std::string>& references,
                              std::int64_t now, const std::optional<std::string>& signer = std::nullopt);

 private:
  friend class OutboxQueue;  // the outbox's statements, in outbox_queue.cpp
  // Tests and benchmarks look into the database through this (it is
  // defined only under tests/: tests/store_access.hpp); nothing in lib/,
  // daemon/ or cli/ reaches the connection.
  friend struct StoreTestAccess;
  Store(sql::Db db, StoreOptions options) : db_(std::move(db)), options_(std::move(options)) {}
  void migrate(int up_to);
  // Store-internal forms that throw StoreError, for use inside a transaction
  // of the store's own; the public forms above wrap them in Result.
  int user_version();
  // Follows merged_into; nullopt when there is no such case.
  std::optional<std::int64_t> resolve_case(std::int64_t id);
  // Merge and split (merge.cpp): `id` when a command may change it (throws
  // not_found, or an error naming the case it was merged into); the cases
  // it was split from, followed through merges; get_case's merge fields.
  std::int64_t case_to_change(std::int64_t id);
  std::vector<std::int64_t> split_origins(std::int64_t id);
  void merge_links(CaseDetail& detail);
  std::optional<std::string> pinned_fingerprint(const std::string& address, std::string_view protocol = "pgp");
  // pin_key's work inside the caller's transaction (keys.cpp).
  void pin_in_transaction(const std::string& address, const std::string& fingerprint, const std::string& actor,
                          std::int64_t now);
  std::optional<Vendor> read_vendor(const std::string& name);
  // Vendors in a case (coordination.cpp), inside the caller's transaction.
  bool vendor_attached(std::int64_t case_id, const std::string& vendor);
  void attach_vendor(std::int64_t case_id, const std::string& vendor, std::int64_t now);
  std::vector<CaseVendorView> case_vendor_views(std::int64_t case_id);
  // How many acknowledgements were queued for `address` (by rate_key) since `since`.
  std::int64_t acknowledgements_since(const std::string& address, std::int64_t since);
  std::int64_t all_acknowledgements_since(std::int64_t since);
  // SQL functions the queries use: cased_rate_key(address).
  void register_functions();
  // Ingest (ingest.cpp): route_message() decides where a message goes, the
  // steps below record that decision.
  IngestResult ingest_one(PreparedMessage& msg, std::int64_t now);
  // The copy of the message already stored with the same bytes, if any.
  std::optional<IngestResult> already_stored(const PreparedMessage& msg, const std::string& message_id,
                                             std::int64_t now);
  // Whether a message with this Message-ID is stored (with other bytes).
  bool message_id_stored(const std::string& message_id);
  // The threading decision, its questions answered by RoutingQueries from
  // the database (store_trust.cpp).
  class RoutingQueries;
  RoutingDecision route(const RoutingInput& in);
  std::int64_t open_case(const ParsedMessage& pm, const std::string& message_id, std::int64_t now);
  void record_refs_and_attachments(std::int64_t message, const std::vector<std::string>& refs,
                                   const std::vector<Attachment>& attachments);
  // Marks the recipients a bounce names as bouncing in the case, with events.
  void record_bounce(std::int64_t case_id, const Bounce& bounce, std::int64_t now);
  // What ingest_one decided about a message, for record_arrival.
  struct Arrival {
    std::int64_t case_id = 0;
    const std::string& message_id;
    const RoutingDecision& route;
    bool new_case = false, same_id_other_bytes = false;
  };
  void record_arrival(const PreparedMessage& msg, const Arrival& arrival, std::int64_t now);
  void record_acknowledgement(const PreparedMessage& msg, std::int64_t case_id, const Acknowledgement& ack,
                              std::int64_t now);
  std::int64_t insert_message(PreparedMessage& msg, std::int64_t case_id, const std::string& message_id,
                              bool unverified, const std::optional<AuthResults>& auth, std::int64_t now);
  std::optional<CaseSummary> summary(std::int64_t id);
  // The message's text is raw's bytes from `offset`: kept once (schema 6).
  void record_body_in_raw(std::int64_t message, std::size_t offset, std::size_t length);
  void touch(std::int64_t case_id, std::int64_t now);
  // A comment with its search entry and event (cases.cpp); returns its id.
  std::int64_t insert_comment(std::int64_t case_id, const std::string& text, const std::string& actor,
                              std::int64_t now);
  // New mail from a person to a resolved or rejected case sets it back to
  // open, without its resolution, with a `reopen` event (store/triage.cpp).
  void reopen_if_closed(const PreparedMessage& msg, const RoutingDecision& route, std::int64_t case_id,
                        std::int64_t now);
  // Records every key the message carried (all their addresses, unpinned)
  // and pins the sender's own on first use unless `no_pin` says why not.
  void record_keys(const PreparedMessage& msg, std::int64_t case_id, std::string_view no_pin, std::int64_t now);
  // The web form's receipt and key for the case just opened (web_reports.cpp).
  void record_web_report(const WebSubmission& web, const IngestResult& result, std::int64_t now);
  // Notes the message's keys as having come by mail (no case needed).
  void note_mail_keys(const PreparedMessage& msg, std::optional<std::int64_t> case_id, std::int64_t now);

  // Coordinating with vendors as mail arrives (vendor_party.cpp): the
  // routing's questions about vendors of a case (following merges), the
  // vendor's reply recorded (last_reply, events), the party of our own
  // mail, the recipients a bounce may name, and a notification's delivery.
  std::vector<std::int64_t> vendor_case_rows(std::int64_t case_id, const std::string& vendor);
  std::vector<std::string> case_vendors_with(std::int64_t case_id, bool by_key, const std::string& value);
  std::optional<RoutingLookup::Notification> notification_of(const std::string& message_id);
  void record_party(std::int64_t case_id, std::int64_t message, const std::string& message_id, const RoutingDecision& d,
                    std::int64_t now);
  void record_outbound_party(std::int64_t case_id, std::int64_t message, const std::vector<std::string>& to);
  std::vector<std::string> bounced_recipients(const std::string& message_id, const std::vector<std::string>& named);
  void record_notification_delivery(std::int64_t case_id, const Bounce& bounce, const std::vector<std::string>& failed,
                                    const std::vector<std::string>& delivered, std::int64_t now);

  // Folds the decision's `join` cases into `target`; tells both sides of
  // each `not_merged` case (store_trust.cpp).
  void join_cases(std::int64_t target, const RoutingDecision& route, const std::string& message_id, std::int64_t now);

  sql::Db db_;
  StoreOptions options_;
};

const std::vector<std::string>& case_states();

}  // namespace cased
