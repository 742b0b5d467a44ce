// The numbered schema migrations from schema/, compiled in (see cmake/embed_migrations.cmake).
#pragma once

#include <string_view>
#include <vector>

namespace cased {

struct Migration {
  int version;
  std::string_view name;
  std::string_view sql;
};

const std::vector<Migration>& migrations();

}  // namespace cased
