#include "checks.hpp"

#include <unistd.h>

#include <asio/ip/address.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <toml++/toml.h>

#include "core/util.hpp"
#include "crypto/crypto.hpp"

namespace cased {

Result<Config> load_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{Errc::invalid, fmt::format("cannot read configuration {}", path)};
  std::string text(std::istreambuf_iterator<char>(in), {});
  auto config = parse_config(text, path);
  if (!config) return config.error();
  if (config->lmtp.listen.empty() && !config->imap && !config->web)
    return Error{Errc::invalid, fmt::format("{}: nothing to do: set lmtp.listen, an [imap] or a [web] section", path)};
  return config;
}

Result<ListenAddress> parse_listen(const std::string& spec) {
  auto bad = [&spec](std::string_view what) { return Error{Errc::invalid, fmt::format("lmtp.listen: '{}': {}", spec, what)}; };
  ListenAddress a;
  if (spec.rfind("unix:", 0) == 0) {
    a.unix_socket = true;
    a.path = spec.substr(5);
    if (a.path.empty()) return bad("no socket path");
    return a;
  }
  auto colon = spec.rfind(':');
  if (colon == std::string::npos) return bad("expected host:port, [v6]:port or unix:/path");
  std::string host = spec.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  std::string digits = spec.substr(colon + 1);
  int port = -1;
  if (!digits.empty() && digits.size() <= 5 && digits.find_first_not_of("0123456789") == std::string::npos)
    port = std::stoi(digits);
  if (port < 1 || port > 65535) return bad("the port must be a number from 1 to 65535");
  asio::error_code ec;
  auto addr = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (ec) return bad("not an IP address (write 127.0.0.1:PORT, [::1]:PORT or unix:/path)");
  a.endpoint = asio::ip::tcp::endpoint(addr, static_cast<unsigned short>(port));
  return a;
}

namespace {

std::string access_problem(const std::string& path, int mode) {
  if (::access(path.c_str(), mode) == 0) return {};
  return std::strerror(errno);
}

void check_readable(std::vector<Problem>& out, std::string_view key, const std::string& path, bool fatal) {
  if (path.empty()) return;
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    out.push_back({fatal, fmt::format("{}: {}: is a directory, not a file", key, path)});
  else if (auto why = access_problem(path, R_OK); !why.empty())
    out.push_back({fatal, fmt::format("{}: {}: cannot read: {}", key, path, why)});
}

void check_database(std::vector<Problem>& out, const std::string& database) {
  std::filesystem::path db(database);
  std::string dir = db.has_parent_path() ? db.parent_path().string() : ".";
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    out.push_back({true, fmt::format("case.database: {}: the directory {} does not exist", database, dir)});
  else if (std::filesystem::exists(database, ec)) {
    if (auto why = access_problem(database, R_OK | W_OK); !why.empty())
      out.push_back({true, fmt::format("case.database: {}: cannot read and write: {}", database, why)});
  } else if (auto why = access_problem(dir, W_OK | X_OK); !why.empty())
    out.push_back({true, fmt::format("case.database: {}: cannot create it in {}: {}", database, dir, why)});
}

// gpg.home exists and holds a secret key for the alias (or gpg.signing_key).
// Without it PGP mail cannot be read: a warning at start-up, plain mail flows.
void check_gpg(std::vector<Problem>& out, const Config& config, bool ask_gpg) {
  const std::string& home = config.gpg.home;
  std::error_code ec;
  if (!std::filesystem::is_directory(home, ec)) {
    out.push_back({false, fmt::format("gpg.home: {}: no such directory; encrypted reports cannot be read", home)});
    return;
  }
  if (!ask_gpg) return;
  try {
    Crypto crypto(home, std::chrono::seconds(config.gpg.timeout_seconds));
    auto key = crypto.signing_key(config.gpg.signing_key, config.case_.alias);
    if (!key)
      out.push_back({false, fmt::format("gpg.home: {}: no secret key for {}: {}; encrypted reports cannot be read", home,
                                        config.case_.alias, key.error().message)});
  } catch (const std::exception& e) {
    out.push_back({false, fmt::format("gpg.home: {}: {}; encrypted reports cannot be read", home, e.what())});
  }
}

}  // namespace

std::vector<Problem> check_config(const Config& config, bool ask_gpg) {
  std::vector<Problem> out;
  check_database(out, config.case_.database);
  for (const auto& spec : config.lmtp.listen) {
    auto a = parse_listen(spec);
    if (!a) {
      out.push_back({true, a.error().message});
    } else if (a->unix_socket) {
      auto dir = std::filesystem::path(a->path).parent_path();
      std::error_code ec;
      if (!dir.empty() && !std::filesystem::is_directory(dir, ec))
        out.push_back({true, fmt::format("lmtp.listen: '{}': the directory {} does not exist", spec, dir.string())});
    }
  }
  if (config.imap) {
    check_readable(out, "imap.password_file", config.imap->password_file, false);
    check_readable(out, "imap.ca_file", config.imap->ca_file, false);
  }
  if (config.smtp) {
    check_readable(out, "smtp.password_file", config.smtp->password_file, false);
    check_readable(out, "smtp.ca_file", config.smtp->ca_file, false);
  }
  if (config.web) {
    for (const auto& spec : config.web->listen)
      if (auto a = parse_listen(spec); !a || a->unix_socket)
        out.push_back({true, fmt::format("web.listen: '{}': expected host:port", spec)});
    check_readable(out, "web.tls_cert", config.web->tls_cert, true);
    check_readable(out, "web.tls_key", config.web->tls_key, true);
  }
  check_gpg(out, config, ask_gpg);
  if (config.smime.configured) {  // S/MIME files; the key must be the operator's alone
    const auto& sm = config.smime;
    for (const auto& f : sm.ca_files) check_readable(out, "smime.ca_files", f, true);
    for (const auto& f : sm.crl_files) check_readable(out, "smime.crl_files", f, true);
    check_readable(out, "smime.certificate", sm.certificate, true);
    check_readable(out, "smime.key", sm.key, true);
    std::error_code ec;
    auto perms = std::filesystem::status(sm.key, ec).permissions();
    if (!sm.key.empty() && !ec && (perms & (std::filesystem::perms::group_all | std::filesystem::perms::others_all)) !=
                                      std::filesystem::perms::none)
      out.push_back({true, fmt::format("smime.key: {}: others may read the key: make it mode 0600", sm.key)});
  }
  return out;
}

namespace {

toml::array strings(const std::vector<std::string>& values) {
  toml::array a;
  for (const auto& v : values) a.push_back(v);
  return a;
}

template <class Server>
void server_keys(toml::table& t, const Server& s) {
  t.insert("host", s.host);
  t.insert("port", s.port);
  t.insert("security", to_string(s.security));
  t.insert("user", s.user);
  t.insert("password_file", s.password_file);
  t.insert("ca_file", s.ca_file);
}

}  // namespace

std::string print_config(const Config& c) {
  toml::table root;
  root.insert("case", toml::table{{"database", c.case_.database}, {"alias", c.case_.alias}, {"tag", c.case_.tag},
                                  {"analysts", strings(c.case_.analysts)}, {"authserv_id", c.case_.authserv_id},
                                  {"busy_timeout", c.case_.busy_timeout_seconds}});
  root.insert("lmtp", toml::table{{"listen", strings(c.lmtp.listen)},
                                  {"max_message_size", static_cast<std::int64_t>(c.lmtp.max_message_size)},
                                  {"max_sessions", c.lmtp.max_sessions},
                                  {"max_sessions_per_peer", c.lmtp.max_sessions_per_peer},
                                  {"idle_timeout", c.lmtp.idle_timeout_seconds},
                                  {"transaction_timeout", c.lmtp.transaction_timeout_seconds}});
  if (c.imap) {
    toml::table t;
    server_keys(t, *c.imap);
    t.insert("mailbox", c.imap->mailbox);
    t.insert("done_mailbox", c.imap->done_mailbox);
    t.insert("idle", c.imap->idle);
    t.insert("poll_seconds", c.imap->poll_seconds);
    root.insert("imap", std::move(t));
  }
  root.insert("gpg", toml::table{{"home", c.gpg.home}, {"signing_key", c.gpg.signing_key},
                                 {"timeout", c.gpg.timeout_seconds}});
  if (c.smtp) {
    toml::table t;
    server_keys(t, *c.smtp);
    t.insert("max_per_recipient_per_day", c.smtp->max_per_recipient_per_day);
    root.insert("smtp", std::move(t));
  }
  root.insert("ack", toml::table{{"enabled", c.ack.enabled}, {"template", c.ack.template_text},
                                 {"policy_url", c.ack.policy_url},
                                 {"per_sender_per_day", c.ack.per_sender_per_day},
                                 {"per_hour", c.ack.per_hour}});
  if (c.digest) root.insert("digest", toml::table{{"stale_days", c.digest->stale_days}, {"to", c.digest->to}});
  const SecurityTxtConfig& st = c.securitytxt;
  toml::table securitytxt{{"contact", strings(st.contact)}, {"encryption", st.encryption},
                          {"expires_days", st.expires_days}, {"preferred_languages", st.preferred_languages},
                          {"policy", st.policy}, {"canonical", strings(st.canonical)}};
  if (st.expires) securitytxt.insert("expires", format_rfc3339(*st.expires));
  root.insert("securitytxt", std::move(securitytxt));
  if (c.web)
    root.insert("web", toml::table{{"listen", strings(c.web->listen)}, {"tls_cert", c.web->tls_cert},
                                   {"tls_key", c.web->tls_key}, {"public_url", c.web->public_url},
                                   {"max_upload", static_cast<std::int64_t>(c.web->max_upload)},
                                   {"rate_per_hour", c.web->rate_per_hour}});
  std::ostringstream out;
  out << "# effective configuration from " << c.source << "\n" << root << "\n";
  return out.str();
}

namespace {

// "section.key" -> its printed value.
std::map<std::string, std::string> printed_keys(const Config& c) {
  std::map<std::string, std::string> keys;
  std::istringstream in(print_config(c));
  std::string line, section;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    if (line[0] == '[') {
      section = line.substr(1, line.find(']') - 1);
    } else if (auto eq = line.find(" = "); eq != std::string::npos) {
      keys[section + "." + line.substr(0, eq)] = line.substr(eq + 3);
    }
  }
  return keys;
}

}  // namespace

std::vector<std::string> restart_keys(const Config& running, const Config& next) {
  static const std::set<std::string> live = {"lmtp.max_message_size", "lmtp.max_sessions", "lmtp.max_sessions_per_peer",
                                             "lmtp.idle_timeout", "lmtp.transaction_timeout"};
  auto a = printed_keys(running), b = printed_keys(next);
  std::set<std::string> all;
  for (const auto& [k, v] : a) all.insert(k);
  for (const auto& [k, v] : b) all.insert(k);
  std::vector<std::string> out;
  for (const auto& k : all)
    if (!live.count(k) && (!a.count(k) || !b.count(k) || a[k] != b[k])) out.push_back(k);
  return out;
}

}  // namespace cased
