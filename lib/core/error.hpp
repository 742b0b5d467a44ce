// Errors as values at module boundaries. One enum, one to_string; LMTP
// replies come from outcome_for() (mail/lmtp.hpp) and from nowhere else.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

namespace cased {

enum class Errc {
  temporary,     // try again later: I/O error, out of memory, a parse worker that died
  invalid,       // bad input or configuration
  not_found,     // no such case / message
  refused,       // a policy says no (e.g. a recipient without a key)
  full,          // try again later: the disk (or the database's file system) is full
  busy,          // try again later: another process holds the database's write lock
  unavailable,   // try again later: gpg-agent does not answer or cannot be reached
  internal,      // a broken invariant; stays last (the parse worker's wire checks the range)
};

const char* to_string(Errc code);

// Whether the operation may succeed if tried again later, unchanged: the
// fault is of the machine or its services (the four "try again" codes
// above), not of the input.
constexpr bool is_temporary(Errc code) {
  return code == Errc::temporary || code == Errc::full || code == Errc::busy || code == Errc::unavailable;
}

struct Error {
  Errc code = Errc::internal;
  std::string message;
};

// A thin std::expected stand-in (g++ 12 has no <expected> in C++20).
template <class T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}             // NOLINT(google-explicit-constructor): value or error, like expected
  Result(Error error) : v_(std::move(error)) {}         // NOLINT(google-explicit-constructor)
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T& operator*() { return value(); }
  T* operator->() { return &value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

struct Unit {};
using Status = Result<Unit>;
inline Status ok_status() { return Unit{}; }

// Thrown only by low layers (the SQLite wrapper) and caught at module edges.
class StoreError : public std::runtime_error {
 public:
  StoreError(Errc code, const std::string& what) : std::runtime_error(what), code_(code) {}
  Errc code() const { return code_; }

 private:
  Errc code_;
};

}  // namespace cased
