// Store-internal: runs a store body and turns the exceptions of the SQL
// layer into Error values at the Store's public boundary.
#pragma once

#include <new>

#include "core/error.hpp"

namespace cased::detail {

template <class F>
auto guarded(F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const StoreError& e) {
    return Error{e.code(), e.what()};
  } catch (const std::bad_alloc&) {
    return Error{Errc::temporary, "out of memory"};
  }
}

}  // namespace cased::detail
