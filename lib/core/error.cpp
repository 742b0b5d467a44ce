#include "core/error.hpp"

namespace cased {

const char* to_string(Errc code) {
  switch (code) {
    case Errc::temporary: return "temporary failure";
    case Errc::invalid: return "invalid";
    case Errc::not_found: return "not found";
    case Errc::refused: return "refused";
    case Errc::full: return "disk full";
    case Errc::busy: return "database busy";
    case Errc::unavailable: return "gpg-agent not answering";
    case Errc::internal: return "internal error";
  }
  return "unknown error";
}

}  // namespace cased
