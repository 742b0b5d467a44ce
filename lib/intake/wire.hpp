// A plain binary encoding of what the daemon hands its parse workers (raw
// message and envelope) and what they hand back (the prepared message, or
// an error). Both ends are the same binary, so there is no versioning; the
// decoder still checks every length, since a worker can die mid-reply.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "intake/prepare.hpp"

namespace cased::wire {

class WireError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Request {
  std::string raw;
  Envelope envelope;
};

std::string encode_request(std::string_view raw, const Envelope& envelope);
Request decode_request(std::string_view bytes);  // throws WireError

std::string encode_reply(const Result<PreparedMessage>& reply);
Result<PreparedMessage> decode_reply(std::string_view bytes);  // throws WireError

}  // namespace cased::wire
