// Configuration values (docs/contract.md "Configuration"). The core never reads files:
// programs read the TOML text and hand it to parse_config.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace cased {

// How a connection to a mail server is protected. Written "none" |
// "starttls" | "tls" in the configuration (to_string / parse below are the
// only place those words are read or written).
enum class TransportSecurity {
  none,      // plain text: only to a loopback host
  starttls,  // plain, then STARTTLS before anything else is sent
  tls,       // TLS from the first byte
};
const char* to_string(TransportSecurity security);
std::optional<TransportSecurity> parse_transport_security(std::string_view word);

struct CaseConfig {
  std::string database;
  std::string alias;                 // security@example.com
  std::string tag = "CASE";
  std::vector<std::string> analysts;
  // The authserv-id the receiving MTA writes in its Authentication-Results
  // field; only the topmost such field with this id is believed. "" = none.
  std::string authserv_id;
  // How long a write waits for another process's lock on the database (an
  // analyst's open transaction) before it gives up: LMTP answers 451 4.3.0.
  int busy_timeout_seconds = 10;
};

struct LmtpConfig {
  std::vector<std::string> listen;   // "127.0.0.1:2424", "[::1]:2424", "unix:/run/cased/lmtp.sock"
  std::uint64_t max_message_size = 52428800;
  int max_sessions = 64;
  int idle_timeout_seconds = 300;
  // From the first byte of a command after a pause to the end of its DATA
  // (MAIL..end of DATA included): a client that trickles bytes gets 421.
  int transaction_timeout_seconds = 600;
  // Concurrent sessions from one IP address; unix-socket peers (the local
  // MTA, behind the socket directory's permissions) only count globally.
  int max_sessions_per_peer = 32;
};

struct ImapConfig {
  std::string host;
  int port = 993;
  TransportSecurity security = TransportSecurity::tls;
  std::string user;
  std::string password_file;
  std::string mailbox = "INBOX";
  std::string done_mailbox = "Processed";
  bool idle = true;
  int poll_seconds = 60;
  std::string ca_file;
};

struct GpgConfig {
  std::string home = "/var/lib/cased/gnupg";
  std::string signing_key;
  int timeout_seconds = 60;  // a gpg operation running longer is cancelled (hung gpg-agent)
};

struct SmtpConfig {
  std::string host;
  int port = 587;
  TransportSecurity security = TransportSecurity::starttls;
  std::string user;
  std::string password_file;
  std::string ca_file;
  int max_per_recipient_per_day = 50;
};

struct AckConfig {
  bool enabled = true;
  std::string template_text;         // "" = the built-in text; {tag}, {alias}, {policy}
  std::string policy_url;
  // At most this many acknowledgements to one sender in any 24 hours,
  // counted from the outbox (so a restart does not reset it).
  int per_sender_per_day = 10;
  // At most this many acknowledgements to anyone in any hour: mail forged
  // from many addresses cannot make the alias a spam reflector.
  int per_hour = 100;
};

struct DigestConfig {
  int stale_days = 7;
  std::string to;
};

// RFC 9116 security.txt (casectl securitytxt); defaults derive from the alias.
struct SecurityTxtConfig {
  std::vector<std::string> contact;     // URIs; default mailto:<alias>
  std::string encryption;               // URI of the published key; default the alias's WKD URL
  std::optional<std::int64_t> expires;  // Expires of the copy published; default now + expires_days
  int expires_days = 365;
  std::string preferred_languages = "en";
  std::string policy;                   // default ack.policy_url
  std::vector<std::string> canonical;
};

// Outbound HTTPS for the vendor book (casectl vendor: a security.txt or a
// key by URL). "" = the system's trust store.
struct VendorsConfig {
  std::string ca_file;            // PEM file of the CAs trusted instead of the system store
  int fetch_timeout_seconds = 10;  // connect, and each read; the whole fetch gets three times this
};

// S/MIME (X.509) through gpgsm in gpg.home. Absent section: no alias
// certificate, no configured anchors; incoming S/MIME is still read.
struct SmimeConfig {
  bool configured = false;             // the section is present
  std::vector<std::string> ca_files;   // PEM files of trusted root certificates
  std::string certificate;             // the alias's certificate, PEM
  std::string key;                     // its private key, PEM, no passphrase, mode 0600
  bool system_store = true;            // also trust /etc/ssl/certs/ca-certificates.crt
  std::vector<std::string> crl_files;  // CRLs (PEM or DER) checked against a signer's certificate
};

// The web report form ([web]): served when `listen` names an address.
struct WebConfig {
  std::vector<std::string> listen;      // "127.0.0.1:8080", "[::1]:8080"
  std::string tls_cert, tls_key;        // PEM files: both set, cased speaks HTTPS itself
  std::string public_url;               // where reporters reach it (https://security.example.com)
  std::uint64_t max_upload = 10485760;  // bytes for the whole submission (413 above)
  int rate_per_hour = 10;               // accepted submissions per client address and hour
};

// [advisory] (casectl advisory): who publishes, where the provider
// directory is served, and the tracking ids' prefix.
struct AdvisoryConfig {
  std::string publisher;           // CSAF document.publisher.name
  std::string namespace_;          // CSAF document.publisher.namespace
  std::string base_url;            // where DIR is served (canonical URLs), without a trailing /
  std::string id_prefix = "SA";    // tracking ids PREFIX-YYYY-NNNN
  std::string category = "vendor";  // CSAF publisher category
  std::string contact;             // CSAF publisher contact_details
  std::string vendor;              // the product's vendor name ("" = publisher)
  std::string cve_org_id;          // the CNA's UUID in the CVE Program (CVE records)
};

struct Config {
  std::string source;                // the file it came from, for messages
  CaseConfig case_;
  LmtpConfig lmtp;
  std::optional<ImapConfig> imap;
  GpgConfig gpg;
  std::optional<SmtpConfig> smtp;
  AckConfig ack;
  std::optional<DigestConfig> digest;
  SecurityTxtConfig securitytxt;
  VendorsConfig vendors;
  SmimeConfig smime;
  std::optional<WebConfig> web;
  AdvisoryConfig advisory;
};

// Parses and validates. Errors name the key, the file and the line:
// "cased.toml:12: case.tag: expected a string".
Result<Config> parse_config(std::string_view toml_text, std::string_view source_name);

// True for localhost, 127.0.0.0/8 and ::1 (docs/contract.md "Mail out").
bool is_loopback_host(std::string_view host);

}  // namespace cased
