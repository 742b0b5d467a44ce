#include "core/base64.hpp"

#include <gnutls/gnutls.h>

#include <limits>
#include <memory>
#include <new>

namespace cased {
namespace {

struct DatumFree {
  void operator()(unsigned char* p) const { gnutls_free(p); }
};

gnutls_datum_t datum_of(std::string_view s) {
  // GnuTLS takes a non-const pointer but only reads input datums.
  return {const_cast<unsigned char*>(reinterpret_cast<const unsigned char*>(s.data())),  // NOLINT
          static_cast<unsigned>(s.size())};
}

}  // namespace

std::string base64_encode(std::string_view bytes) {
  if (bytes.empty()) return {};
  if (bytes.size() > std::numeric_limits<unsigned>::max() / 2) throw std::bad_alloc();
  gnutls_datum_t in = datum_of(bytes), out{nullptr, 0};
  if (gnutls_base64_encode2(&in, &out) != 0) throw std::bad_alloc();
  std::unique_ptr<unsigned char, DatumFree> owner(out.data);
  return {reinterpret_cast<const char*>(out.data), out.size};
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) return std::string();
  if (text.size() > std::numeric_limits<unsigned>::max()) return std::nullopt;
  gnutls_datum_t in = datum_of(text), out{nullptr, 0};
  if (gnutls_base64_decode2(&in, &out) != 0) return std::nullopt;
  std::unique_ptr<unsigned char, DatumFree> owner(out.data);
  return std::string(reinterpret_cast<const char*>(out.data), out.size);
}

}  // namespace cased
