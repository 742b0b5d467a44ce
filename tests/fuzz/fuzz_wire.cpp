// The parse-worker wire format. The first byte picks what is decoded: a
// request, a reply, or (as the worker does) the rest is parsed as a message
// and its reply is encoded. Whatever decodes must encode back to the same
// value; anything else must be a WireError, never a crash or a huge allocation.
#include <cstdlib>

#include "fuzz_common.hpp"
#include "intake/wire.hpp"

namespace {

void request(std::string_view bytes) {
  cased::wire::Request r;
  try {
    r = cased::wire::decode_request(bytes);
  } catch (const cased::wire::WireError&) {
    return;
  }
  auto again = cased::wire::decode_request(cased::wire::encode_request(r.raw, r.envelope));
  if (again.raw != r.raw || !(again.envelope == r.envelope)) std::abort();
}

bool same(const cased::Result<cased::PreparedMessage>& a, const cased::Result<cased::PreparedMessage>& b) {
  if (a.ok() != b.ok()) return false;
  if (a.ok()) return a.value() == b.value();
  return a.error().code == b.error().code && a.error().message == b.error().message;
}

void reply(std::string_view bytes) {
  std::optional<cased::Result<cased::PreparedMessage>> r;
  try {
    r = cased::wire::decode_reply(bytes);
  } catch (const cased::wire::WireError&) {
    return;
  }
  if (!same(*r, cased::wire::decode_reply(cased::wire::encode_reply(*r)))) std::abort();
}

// What a worker sends back for a message: it must arrive unchanged.
void round_trip(std::string_view raw) {
  cased::Envelope envelope{cased::MessageSource::lmtp, "rita@example.org", {"security@example.com"}};
  auto request = cased::wire::decode_request(cased::wire::encode_request(raw, envelope));
  if (request.raw != raw || !(request.envelope == envelope)) std::abort();
  cased::Result<cased::PreparedMessage> prepared = cased::prepare_message(request.raw, request.envelope, nullptr);
  if (!same(prepared, cased::wire::decode_reply(cased::wire::encode_reply(prepared)))) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  cased::fuzz::quiet();
  if (size == 0) return 0;
  std::string_view rest = cased::fuzz::as_view(data + 1, size - 1);
  switch (data[0] % 3) {
    case 0: request(rest); break;
    case 1: reply(rest); break;
    default: round_trip(rest); break;
  }
  return 0;
}
