// For tests and benchmarks only: the Store's own connection, to look at
// what it wrote (and, in a few tests, to damage it on purpose). Programs
// have no way to it; SQL stays in lib/store/.
#pragma once

#include "store/store.hpp"

namespace cased {

struct StoreTestAccess {
  static sql::Db& db(Store& store) { return store.db_; }
};

}  // namespace cased
