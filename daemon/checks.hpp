// What `cased --check` and start-up verify beyond the configuration's own
// syntax: listen addresses, files the daemon will read, the PGP home. Also
// the configuration file itself (read and parsed here for start-up, --check
// and a SIGHUP reload alike) and the effective settings for --check --print.
#pragma once

#include <asio/ip/tcp.hpp>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/error.hpp"

namespace cased {

// Reads and parses the configuration file; also refuses one with nothing to
// do (neither lmtp.listen nor [imap]).
Result<Config> load_config(const std::string& path);

// A "host:port", "[v6]:port" or "unix:/path" listen address.
struct ListenAddress {
  bool unix_socket = false;
  std::string path;
  asio::ip::tcp::endpoint endpoint;
};
// Errc::invalid naming the address and what is wrong with it.
Result<ListenAddress> parse_listen(const std::string& spec);

struct Problem {
  // Start-up stops on a fatal problem; it only warns about the others (PGP
  // mail then waits, IMAP or SMTP fail until the file is there).
  bool fatal = false;
  std::string text;
};
// Every problem found, in the order of the configuration file. With
// `ask_gpg` (--check) gpg is asked whether gpg.home holds the alias's secret
// key; start-up only looks at the directory and learns the keys anyway.
std::vector<Problem> check_config(const Config& config, bool ask_gpg);

// The effective configuration as TOML (defaults filled in); password files
// appear by path only.
std::string print_config(const Config& config);

// The keys (section.key) whose values differ between two configurations
// and that a running daemon cannot change: all but lmtp's per-session limits
// (max_message_size, max_sessions, max_sessions_per_peer, idle_timeout,
// transaction_timeout).
std::vector<std::string> restart_keys(const Config& running, const Config& next);

}  // namespace cased
