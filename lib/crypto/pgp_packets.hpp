// OpenPGP text and packet framing, without gpg: where an armour block sits
// in a text body, and how many key packets lead an encrypted message. Pure
// functions over bytes, bounded and linear in their input.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace cased::pgp {

// Whether `s` holds nothing but spaces, tabs and line breaks.
bool blank(std::string_view s);

// A text body cut around its first armour block: `block` runs from a
// "-----BEGIN PGP <what>-----" that starts a line to the end of the matching
// "-----END PGP <end_what>-----" line.
struct ArmorSplit {
  std::string_view before, block, after;
  // The block is the whole text, but for white space around it.
  bool alone() const { return blank(before) && blank(after); }
};
std::optional<ArmorSplit> split_armor(std::string_view body, std::string_view what, std::string_view end_what);

// The OpenPGP data gpg is to read from the body of a PGP/MIME encrypted
// part: its "PGP MESSAGE" armour block, or the body itself when it is binary
// OpenPGP. Nothing when it is neither.
std::optional<std::string_view> encrypted_data(std::string_view body);

// The packets in front of the encrypted data of a message: public-key and
// symmetric-key encrypted session keys, and markers. gpg tries each one,
// so a message may carry only a few.
struct LeadingPackets {
  std::size_t count = 0;  // stops counting past the limit
  bool too_many = false;  // more than the limit
  bool malformed = false; // not OpenPGP framing (bad armour, bad header, truncated)
};
// `data` is armoured (from its BEGIN line) or binary. Reads the packet
// headers only, stops at the first packet that is not a session key or past
// `limit` of them.
LeadingPackets count_leading_packets(std::string_view data, std::size_t limit);

}  // namespace cased::pgp
