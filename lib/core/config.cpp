#include "core/config.hpp"
#include "core/enum_words.hpp"
#include "core/util.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <functional>
#include <map>
#include <set>
#include <toml++/toml.h>

namespace cased {

namespace {
constexpr EnumWords<TransportSecurity, 3> kSecurity = {{
    {TransportSecurity::none, "none"},
    {TransportSecurity::starttls, "starttls"},
    {TransportSecurity::tls, "tls"},
}};
}  // namespace

const char* to_string(TransportSecurity security) { return word_for(kSecurity, security); }
std::optional<TransportSecurity> parse_transport_security(std::string_view word) { return value_for(kSecurity, word); }

namespace {

// Collects the first error and the location of the node it was about.
class Reader {
 public:
  explicit Reader(std::string_view source) : source_(source) {}

  std::optional<Error> error;

  void fail(const toml::node* node, std::string_view key, std::string_view what) {
    if (error) return;
    int line = node ? static_cast<int>(node->source().begin.line) : 0;
    if (line > 0)
      error = Error{Errc::invalid, fmt::format("{}:{}: {}: {}", source_, line, key, what)};
    else
      error = Error{Errc::invalid, fmt::format("{}: {}: {}", source_, key, what)};
  }

  // Checks that `table` has only `known` keys.
  void only_keys(const toml::table& table, std::string_view prefix, const std::set<std::string>& known) {
    for (auto&& [k, v] : table) {
      if (!known.count(std::string(k.str())))
        fail(&v, join(prefix, k.str()), "unknown key");
    }
  }

  static std::string join(std::string_view prefix, std::string_view key) {
    return prefix.empty() ? std::string(key) : fmt::format("{}.{}", prefix, key);
  }

  void get(const toml::table& t, std::string_view prefix, std::string_view key, std::string& out, bool required = false,
           const toml::node* parent = nullptr) {
    const toml::node* n = t.get(key);
    if (!n) {
      if (required) fail(parent, join(prefix, key), "required key is missing");
      return;
    }
    if (auto v = n->value<std::string>(); v && n->is_string()) out = *v;
    else fail(n, join(prefix, key), "expected a string");
  }

  template <class Int>
  void get_int(const toml::table& t, std::string_view prefix, std::string_view key, Int& out, std::int64_t min,
               std::int64_t max) {
    const toml::node* n = t.get(key);
    if (!n) return;
    if (!n->is_integer()) return fail(n, join(prefix, key), "expected an integer");
    std::int64_t v = n->as_integer()->get();
    if (v < min || v > max) return fail(n, join(prefix, key), fmt::format("must be between {} and {}", min, max));
    out = static_cast<Int>(v);
  }

  void get_bool(const toml::table& t, std::string_view prefix, std::string_view key, bool& out) {
    const toml::node* n = t.get(key);
    if (!n) return;
    if (!n->is_boolean()) return fail(n, join(prefix, key), "expected true or false");
    out = n->as_boolean()->get();
  }

  void get_strings(const toml::table& t, std::string_view prefix, std::string_view key, std::vector<std::string>& out) {
    const toml::node* n = t.get(key);
    if (!n) return;
    const toml::array* arr = n->as_array();
    if (!arr) return fail(n, join(prefix, key), "expected an array of strings");
    out.clear();
    for (auto&& el : *arr) {
      if (!el.is_string()) return fail(&el, join(prefix, key), "expected an array of strings");
      out.push_back(el.as_string()->get());
    }
  }

  void one_of(const toml::table& t, std::string_view prefix, std::string_view key, const std::string& value,
              std::initializer_list<std::string_view> allowed) {
    for (auto a : allowed)
      if (value == a) return;
    std::string list;
    for (auto a : allowed) list += (list.empty() ? "" : " | ") + std::string(a);
    fail(t.get(key), join(prefix, key), fmt::format("must be one of {}", list));
  }

  // `prefix`.security, one of the words in `allowed` (listed in that order
  // when it is not).
  void get_security(const toml::table& t, std::string_view prefix, TransportSecurity& value,
                    std::initializer_list<std::string_view> allowed) {
    std::string word = to_string(value);
    get(t, prefix, "security", word);
    one_of(t, prefix, "security", word, allowed);
    if (auto parsed = parse_transport_security(word)) value = *parsed;
  }

  const toml::table* section(const toml::table& root, std::string_view name) {
    const toml::node* n = root.get(name);
    if (!n) return nullptr;
    if (!n->is_table()) {
      fail(n, name, "expected a table");
      return nullptr;
    }
    return n->as_table();
  }

 private:
  std::string source_;
};

bool valid_address(std::string_view a) {
  auto at = a.find('@');
  return at != std::string_view::npos && at > 0 && at + 1 < a.size() && a.find_first_of(" <>\t\r\n") == a.npos &&
         a.find('@', at + 1) == a.npos;
}

}  // namespace

bool is_loopback_host(std::string_view host) {
  if (host == "localhost" || host == "::1" || host == "[::1]") return true;
  if (host.substr(0, 4) != "127.") return false;
  int parts = 0, value = -1;
  for (std::size_t i = 0; i <= host.size(); ++i) {
    if (i == host.size() || host[i] == '.') {
      if (value < 0 || value > 255) return false;
      ++parts;
      value = -1;
    } else if (host[i] >= '0' && host[i] <= '9') {
      value = (value < 0 ? 0 : value * 10) + (host[i] - '0');
      if (value > 255) return false;
    } else {
      return false;
    }
  }
  return parts == 4;
}

namespace {

// One reader per section; each records its first error in `r`.
void read_case_section(Reader& r, const toml::table& root, Config& cfg) {
  if (const toml::table* t = r.section(root, "case")) {
    r.only_keys(*t, "case", {"database", "alias", "tag", "analysts", "authserv_id", "busy_timeout"});
    r.get(*t, "case", "database", cfg.case_.database, true, root.get("case"));
    r.get(*t, "case", "alias", cfg.case_.alias, true, root.get("case"));
    r.get(*t, "case", "tag", cfg.case_.tag);
    r.get_strings(*t, "case", "analysts", cfg.case_.analysts);
    r.get(*t, "case", "authserv_id", cfg.case_.authserv_id);
    r.get_int(*t, "case", "busy_timeout", cfg.case_.busy_timeout_seconds, 1, 3600);
    if (!r.error && !valid_address(cfg.case_.alias)) r.fail(t->get("alias"), "case.alias", "not an e-mail address");
    if (!r.error && (cfg.case_.tag.empty() || cfg.case_.tag.find_first_of("#[] ") != std::string::npos))
      r.fail(t->get("tag"), "case.tag", "must be a word without '#', '[', ']' or spaces");
    if (!r.error && cfg.case_.database.empty()) r.fail(t->get("database"), "case.database", "must not be empty");
  } else if (!r.error) {
    r.fail(nullptr, "case", "required section is missing (case.database, case.alias)");
  }
}

void read_lmtp(Reader& r, const toml::table& root, Config& cfg) {
  if (const toml::table* t = r.section(root, "lmtp")) {
    r.only_keys(*t, "lmtp", {"listen", "max_message_size", "max_sessions", "idle_timeout", "transaction_timeout",
                            "max_sessions_per_peer"});
    if (const toml::node* n = t->get("listen"); n && n->is_string())
      cfg.lmtp.listen = {n->as_string()->get()};
    else
      r.get_strings(*t, "lmtp", "listen", cfg.lmtp.listen);
    r.get_int(*t, "lmtp", "max_message_size", cfg.lmtp.max_message_size, 1024, std::int64_t{1} << 40);
    r.get_int(*t, "lmtp", "max_sessions", cfg.lmtp.max_sessions, 1, 100000);
    r.get_int(*t, "lmtp", "idle_timeout", cfg.lmtp.idle_timeout_seconds, 1, 86400);
    r.get_int(*t, "lmtp", "transaction_timeout", cfg.lmtp.transaction_timeout_seconds, 1, 86400);
    r.get_int(*t, "lmtp", "max_sessions_per_peer", cfg.lmtp.max_sessions_per_peer, 1, 100000);
  }
}

// What IMAP and SMTP servers share: where, how securely, whose CA. Plain
// text only to a loopback host.
template <class Server>
void read_server(Reader& r, const toml::table& root, const toml::table& t, std::string_view name, Server& server,
                 std::initializer_list<std::string_view> security_words) {
  r.get(t, name, "host", server.host, true, root.get(name));
  r.get_int(t, name, "port", server.port, 1, 65535);
  r.get_security(t, name, server.security, security_words);
  r.get(t, name, "ca_file", server.ca_file);
  if (!r.error && server.security == TransportSecurity::none && !is_loopback_host(server.host))
    r.fail(t.get("security"), fmt::format("{}.security", name), "\"none\" is allowed only for a loopback host");
}

void read_imap(Reader& r, const toml::table& root, Config& cfg) {
  if (const toml::table* t = r.section(root, "imap")) {
    ImapConfig imap;
    r.only_keys(*t, "imap", {"host", "port", "security", "user", "password_file", "mailbox", "done_mailbox", "idle",
                             "poll_seconds", "ca_file"});
    read_server(r, root, *t, "imap", imap, {"tls", "starttls", "none"});
    r.get(*t, "imap", "user", imap.user, true, root.get("imap"));
    r.get(*t, "imap", "password_file", imap.password_file, true, root.get("imap"));
    r.get(*t, "imap", "mailbox", imap.mailbox);
    r.get(*t, "imap", "done_mailbox", imap.done_mailbox);
    r.get_bool(*t, "imap", "idle", imap.idle);
    r.get_int(*t, "imap", "poll_seconds", imap.poll_seconds, 1, 86400);
    cfg.imap = imap;
  }
}

void read_gpg(Reader& r, const toml::table& root, Config& cfg) {
  if (const toml::table* t = r.section(root, "gpg")) {
    r.only_keys(*t, "gpg", {"home", "signing_key", "timeout"});
    r.get(*t, "gpg", "home", cfg.gpg.home);
    r.get(*t, "gpg", "signing_key", cfg.gpg.signing_key);
    r.get_int(*t, "gpg", "timeout", cfg.gpg.timeout_seconds, 1, 3600);
  }
}

void read_smtp(Reader& r, const toml::table& root, Config& cfg) {
  if (const toml::table* t = r.section(root, "smtp")) {
    SmtpConfig smtp;
    r.only_keys(*t, "smtp", {"host", "port", "security", "user", "password_file", "ca_file", "max_per_recipient_per_day"});
    r.get_int(*t, "smtp", "max_per_recipient_per_day", smtp.max_per_recipient_per_day, 1, 100000);
    read_server(r, root, *t, "smtp", smtp, {"starttls", "tls", "none"});
    r.get(*t, "smtp", "user", smtp.user);
    r.get(*t, "smtp", "password_file", smtp.password_file);
    if (!r.error && !smtp.user.empty() && smtp.password_file.empty())
      r.fail(t->get("user"), "smtp.password_file", "required when smtp.user is set");
    cfg.smtp = smtp;
  }
}

void read_ack(Reader& r, const toml::table& root, Config& cfg) {
  if (const toml::table* t = r.section(root, "ack")) {
    r.only_keys(*t, "ack", {"enabled", "template", "policy_url", "per_sender_per_day", "per_hour"});
    r.get_bool(*t, "ack", "enabled", cfg.ack.enabled);
    r.get(*t, "ack", "template", cfg.ack.template_text);
    r.get(*t, "ack", "policy_url", cfg.ack.policy_url);
    r.get_int(*t, "ack", "per_sender_per_day", cfg.ack.per_sender_per_day, 1, 1000);
    r.get_int(*t, "ack", "per_hour", cfg.ack.per_hour, 1, 100000);
  }
}

void read_digest(Reader& r, const toml::table& root, Config& cfg) {
  if (const toml::table* t = r.section(root, "digest")) {
    DigestConfig d;
    r.only_keys(*t, "digest", {"stale_days", "to"});
    r.get_int(*t, "digest", "stale_days", d.stale_days, 1, 3650);
    r.get(*t, "digest", "to", d.to);
    cfg.digest = d;
  }
}

void read_securitytxt(Reader& r, const toml::table& root, Config& cfg) {
  if (const toml::table* t = r.section(root, "securitytxt")) {
    auto& st = cfg.securitytxt;
    r.only_keys(*t, "securitytxt",
                {"contact", "encryption", "expires", "expires_days", "preferred_languages", "policy", "canonical"});
    r.get_strings(*t, "securitytxt", "contact", st.contact);
    r.get(*t, "securitytxt", "encryption", st.encryption);
    std::string expires;
    r.get(*t, "securitytxt", "expires", expires);
    if (!r.error && !expires.empty()) {
      std::int64_t when = 0;
      if (parse_rfc3339(expires, when)) st.expires = when;
      else r.fail(t->get("expires"), "securitytxt.expires", "expected a date-time like 2027-11-23T00:00:00Z");
    }
    r.get_int(*t, "securitytxt", "expires_days", st.expires_days, 1, 3650);
    r.get(*t, "securitytxt", "preferred_languages", st.preferred_languages);
    r.get(*t, "securitytxt", "policy", st.policy);
    r.get_strings(*t, "securitytxt", "canonical", st.canonical);
  }
}

void read_vendors(Reader& r, const toml::table& root, Config& cfg) {
  if (const toml::table* t = r.section(root, "vendors")) {
    r.only_keys(*t, "vendors", {"ca_file", "fetch_timeout"});
    r.get(*t, "vendors", "ca_file", cfg.vendors.ca_file);
    r.get_int(*t, "vendors", "fetch_timeout", cfg.vendors.fetch_timeout_seconds, 1, 120);
  }
}

void read_smime(Reader& r, const toml::table& root, Config& cfg) {
  if (const toml::table* t = r.section(root, "smime")) {
    auto& sm = cfg.smime;
    sm.configured = true;
    r.only_keys(*t, "smime", {"ca_files", "certificate", "key", "system_store", "crl_files"});
    r.get_strings(*t, "smime", "ca_files", sm.ca_files);
    r.get(*t, "smime", "certificate", sm.certificate);
    r.get(*t, "smime", "key", sm.key);
    r.get_bool(*t, "smime", "system_store", sm.system_store);
    r.get_strings(*t, "smime", "crl_files", sm.crl_files);
    if (!r.error && sm.certificate.empty() != sm.key.empty())
      r.fail(t->get(sm.key.empty() ? "certificate" : "key"), sm.key.empty() ? "smime.key" : "smime.certificate",
             "smime.certificate and smime.key go together");
  }
}

void read_web(Reader& r, const toml::table& root, Config& cfg) {
  if (const toml::table* t = r.section(root, "web")) {
    WebConfig w;
    r.only_keys(*t, "web", {"listen", "tls_cert", "tls_key", "public_url", "max_upload", "rate_per_hour"});
    r.get_strings(*t, "web", "listen", w.listen);
    r.get(*t, "web", "tls_cert", w.tls_cert);
    r.get(*t, "web", "tls_key", w.tls_key);
    r.get(*t, "web", "public_url", w.public_url);
    r.get_int(*t, "web", "max_upload", w.max_upload, 4096, std::int64_t{1} << 32);
    r.get_int(*t, "web", "rate_per_hour", w.rate_per_hour, 1, 1000000);
    if (!r.error && w.tls_cert.empty() != w.tls_key.empty())
      r.fail(t->get(w.tls_cert.empty() ? "tls_key" : "tls_cert"), "web.tls_cert",
             "tls_cert and tls_key are set together or not at all");
    if (!r.error && w.listen.empty()) r.fail(t, "web.listen", "names no address");
    cfg.web = w;
  }
}

// A version 4 UUID as the CVE JSON 5 schema's uuidType (orgId) writes it:
// ^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-4[0-9A-Fa-f]{3}-[89ABab][0-9A-Fa-f]{3}-[0-9A-Fa-f]{12}$
bool is_uuid4(std::string_view s) {
  if (s.size() != 36 || s[14] != '4' || std::string_view("89ABab").find(s[19]) == std::string_view::npos) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

void read_advisory(Reader& r, const toml::table& root, Config& cfg) {
  const toml::table* t = r.section(root, "advisory");
  if (!t) return;
  auto& a = cfg.advisory;
  r.only_keys(*t, "advisory",
              {"publisher", "namespace", "base_url", "id_prefix", "category", "contact", "vendor", "cve_org_id"});
  r.get(*t, "advisory", "publisher", a.publisher);
  r.get(*t, "advisory", "namespace", a.namespace_);
  r.get(*t, "advisory", "base_url", a.base_url);
  r.get(*t, "advisory", "id_prefix", a.id_prefix);
  r.get(*t, "advisory", "category", a.category);
  r.get(*t, "advisory", "contact", a.contact);
  r.get(*t, "advisory", "vendor", a.vendor);
  r.get(*t, "advisory", "cve_org_id", a.cve_org_id);
  while (!a.base_url.empty() && a.base_url.back() == '/') a.base_url.pop_back();
  auto url = [](const std::string& u) { return u.empty() || u.starts_with("https://") || u.starts_with("http://"); };
  if (!url(a.namespace_)) r.fail(t->get("namespace"), "advisory.namespace", "expected an http(s) URL");
  if (!url(a.base_url)) r.fail(t->get("base_url"), "advisory.base_url", "expected an http(s) URL");
  bool prefix_ok = !a.id_prefix.empty() && a.id_prefix.size() <= 32 &&
                   std::all_of(a.id_prefix.begin(), a.id_prefix.end(), [](char c) {
                     return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
                   });
  if (!prefix_ok) r.fail(t->get("id_prefix"), "advisory.id_prefix", "expected letters, digits and - (at most 32)");
  // CSAF's "translator" obliges document/source_lang (CSAF 2.0 6.1.15): an
  // advisory translated from someone else's, which cased never publishes.
  static const std::set<std::string> categories{"coordinator", "discoverer", "other", "user", "vendor"};
  if (a.category == "translator")
    r.fail(t->get("category"), "advisory.category",
           "translator is not possible: cased publishes its own advisories, not translations of another "
           "publisher's (a CSAF translator's document must name its source language)");
  else if (!categories.count(a.category))
    r.fail(t->get("category"), "advisory.category", "expected coordinator, discoverer, other, user or vendor");
  if (!a.cve_org_id.empty() && !is_uuid4(a.cve_org_id))
    r.fail(t->get("cve_org_id"), "advisory.cve_org_id",
           "expected the CVE Program's UUID of your CNA (a version 4 UUID like "
           "00000000-0000-4000-8000-000000000000)");
}

}  // namespace

Result<Config> parse_config(std::string_view toml_text, std::string_view source_name) {
  Config cfg;
  cfg.source = std::string(source_name);
  toml::table root;
  try {
    root = toml::parse(toml_text, source_name);
  } catch (const toml::parse_error& e) {
    return Error{Errc::invalid,
                 fmt::format("{}:{}: {}", source_name, e.source().begin.line, std::string(e.description()))};
  }
  Reader r(source_name);
  r.only_keys(root, "", {"case", "lmtp", "imap", "gpg", "smtp", "ack", "digest", "securitytxt", "vendors", "smime",
                         "web", "advisory"});

  read_case_section(r, root, cfg);
  read_lmtp(r, root, cfg);
  read_imap(r, root, cfg);
  read_gpg(r, root, cfg);
  read_smtp(r, root, cfg);
  read_ack(r, root, cfg);
  read_digest(r, root, cfg);
  read_securitytxt(r, root, cfg);
  read_vendors(r, root, cfg);
  read_smime(r, root, cfg);
  read_web(r, root, cfg);
  read_advisory(r, root, cfg);
  if (r.error) return *r.error;
  return cfg;
}

}  // namespace cased
