#include "web/connections.hpp"

namespace cased::web {

bool ConnectionTable::admit(std::uint64_t id, const std::string& client, std::int64_t now) {
  bool within = client.empty() || per_client_open_[client] < per_client_;
  if (!client.empty()) ++per_client_open_[client];
  live_[id] = Live{client, now, !within};
  return within;
}

void ConnectionTable::finish(std::uint64_t id) {
  auto it = live_.find(id);
  if (it == live_.end()) return;
  if (!it->second.client.empty()) {
    auto n = per_client_open_.find(it->second.client);
    if (n != per_client_open_.end() && --n->second == 0) per_client_open_.erase(n);
  }
  live_.erase(it);
}

std::vector<std::uint64_t> ConnectionTable::overdue(std::int64_t now) {
  std::vector<std::uint64_t> out;
  for (auto& [id, live] : live_) {
    if (live.cut || now - live.since < lifetime_) continue;
    live.cut = true;
    out.push_back(id);
  }
  return out;
}

}  // namespace cased::web
