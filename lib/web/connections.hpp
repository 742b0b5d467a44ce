// The web form's live connections, for the server's watchdog: at most
// `per_client` at once from one client, and none older than `lifetime`.
// Plain bookkeeping (the server says what was accepted and what ended;
// this says what to cut), so that it is tested without sockets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace cased::web {

class ConnectionTable {
 public:
  ConnectionTable(std::size_t per_client, std::int64_t lifetime_seconds)
      : per_client_(per_client), lifetime_(lifetime_seconds) {}

  // Records connection `id` from `client` (its rate-limit key; "" for one
  // not limited per client: the proxy in front). False when that client
  // had per_client open already: the server cuts it at once.
  bool admit(std::uint64_t id, const std::string& client, std::int64_t now);
  void finish(std::uint64_t id);
  // Connections open longer than the lifetime, each returned once.
  std::vector<std::uint64_t> overdue(std::int64_t now);
  std::size_t open() const { return live_.size(); }

 private:
  struct Live {
    std::string client;
    std::int64_t since = 0;
    bool cut = false;
  };
  std::size_t per_client_;
  std::int64_t lifetime_;
  std::map<std::uint64_t, Live> live_;
  std::map<std::string, std::size_t> per_client_open_;
};

}  // namespace cased::web
