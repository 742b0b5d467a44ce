#include "crypto/pgp_packets.hpp"

#include <algorithm>
#include <cstdint>
#include <string>

namespace cased::pgp {
namespace {

// The position of `marker` where it starts a line, from `from` on.
std::size_t find_at_line_start(std::string_view body, std::string_view marker, std::size_t from) {
  for (auto at = body.find(marker, from); at != std::string_view::npos; at = body.find(marker, at + 1))
    if (at == 0 || body[at - 1] == '\n') return at;
  return std::string_view::npos;
}

std::size_t end_of_line(std::string_view s, std::size_t from) {
  auto nl = s.find('\n', from);
  return nl == std::string_view::npos ? s.size() : nl + 1;
}

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// The octets of armoured or binary OpenPGP data, decoded on demand: the
// census reads packet headers and skips bodies without holding them.
class Octets {
 public:
  explicit Octets(std::string_view data) : data_(data) {
    auto lead = data.find_first_not_of(" \t\r\n");
    armored_ = lead != std::string_view::npos && data.substr(lead).starts_with("-----BEGIN PGP ");
    if (armored_) pos_ = skip_armor_headers(end_of_line(data, lead));
  }

  bool bad() const { return bad_; }

  bool next(std::uint8_t& out) {
    if (!armored_) {
      if (pos_ >= data_.size()) return false;
      out = static_cast<std::uint8_t>(data_[pos_++]);
      return true;
    }
    while (bits_ < 8) {
      if (pos_ >= data_.size()) return false;
      char c = data_[pos_++];
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
      if (c == '=' || c == '-') {  // padding, the checksum line or the END line: the data ends
        pos_ = data_.size();
        return false;
      }
      int v = base64_value(c);
      if (v < 0) {
        bad_ = true;
        pos_ = data_.size();
        return false;
      }
      acc_ = (acc_ << 6) | static_cast<unsigned>(v);
      bits_ += 6;
    }
    bits_ -= 8;
    out = static_cast<std::uint8_t>((acc_ >> bits_) & 0xff);
    return true;
  }

  bool skip(std::uint64_t n) {
    if (!armored_) {
      if (n > data_.size() - pos_) return false;
      pos_ += static_cast<std::size_t>(n);
      return true;
    }
    std::uint8_t ignored = 0;
    for (std::uint64_t i = 0; i < n; ++i)
      if (!next(ignored)) return false;
    return true;
  }

 private:
  // Armour header lines ("Version: ...") run to the first empty line; a line
  // without a colon starts the data when the empty line is missing.
  std::size_t skip_armor_headers(std::size_t at) const {
    while (at < data_.size()) {
      std::size_t next = end_of_line(data_, at);
      std::string_view line = data_.substr(at, next - at);
      if (blank(line)) return next;
      if (line.find(':') == std::string_view::npos) return at;
      at = next;
    }
    return at;
  }

  std::string_view data_;
  std::size_t pos_ = 0;
  bool armored_ = false;
  bool bad_ = false;
  unsigned acc_ = 0;
  int bits_ = 0;
};

bool read_be(Octets& in, int octets, std::uint64_t& out) {
  out = 0;
  for (int i = 0; i < octets; ++i) {
    std::uint8_t b = 0;
    if (!in.next(b)) return false;
    out = (out << 8) | b;
  }
  return true;
}

struct Header {
  unsigned tag = 0;
  std::uint64_t length = 0;
  bool definite = true;  // false: partial or indeterminate length (data packets only)
};

// One packet header (RFC 4880 section 4.2, both formats).
std::optional<Header> read_header(Octets& in) {
  std::uint8_t b = 0;
  if (!in.next(b) || !(b & 0x80)) return std::nullopt;
  Header h;
  if (b & 0x40) {
    h.tag = b & 0x3f;
    std::uint64_t l1 = 0, rest = 0;
    if (!read_be(in, 1, l1)) return std::nullopt;
    if (l1 < 192) h.length = l1;
    else if (l1 < 224) {
      if (!read_be(in, 1, rest)) return std::nullopt;
      h.length = ((l1 - 192) << 8) + rest + 192;
    } else if (l1 == 255) {
      if (!read_be(in, 4, h.length)) return std::nullopt;
    } else {
      h.definite = false;
    }
    return h;
  }
  h.tag = (b >> 2) & 0x0f;
  static constexpr int kOctets[] = {1, 2, 4, 0};
  int octets = kOctets[b & 3];
  if (octets == 0) h.definite = false;
  else if (!read_be(in, octets, h.length)) return std::nullopt;
  return h;
}

constexpr unsigned kPkesk = 1, kSkesk = 3, kMarker = 10;

}  // namespace

bool blank(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; });
}

std::optional<ArmorSplit> split_armor(std::string_view body, std::string_view what, std::string_view end_what) {
  std::string begin = "-----BEGIN PGP " + std::string(what) + "-----";
  std::string end = "-----END PGP " + std::string(end_what) + "-----";
  auto b = find_at_line_start(body, begin, 0);
  if (b == std::string_view::npos) return std::nullopt;
  auto e = find_at_line_start(body, end, b + begin.size());
  if (e == std::string_view::npos) return std::nullopt;
  e += end.size();
  // The END line's own line break belongs to the block.
  if (e < body.size() && body[e] == '\r') ++e;
  if (e < body.size() && body[e] == '\n') ++e;
  return ArmorSplit{body.substr(0, b), body.substr(b, e - b), body.substr(e)};
}

std::optional<std::string_view> encrypted_data(std::string_view body) {
  if (auto split = split_armor(body, "MESSAGE", "MESSAGE")) return split->block;
  if (!body.empty() && (static_cast<unsigned char>(body.front()) & 0x80)) return body;
  return std::nullopt;
}

LeadingPackets count_leading_packets(std::string_view data, std::size_t limit) {
  LeadingPackets out;
  Octets in(data);
  for (;;) {
    auto h = read_header(in);
    if (!h) {
      out.malformed = true;  // no packet, or no encrypted data after the session keys
      return out;
    }
    if (h->tag != kPkesk && h->tag != kSkesk && h->tag != kMarker) return out;
    if (!h->definite || ++out.count > limit) {
      out.too_many = h->definite;
      out.malformed = !h->definite;
      return out;
    }
    if (!in.skip(h->length)) {
      out.malformed = true;
      return out;
    }
  }
}

}  // namespace cased::pgp
