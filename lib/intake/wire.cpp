#include "intake/wire.hpp"

#include <cstdint>
#include <cstring>

namespace cased::wire {
namespace {

// Integers are 8 bytes little-endian; strings are a length and the bytes.
class Writer {
 public:
  std::string out;

  void put(std::uint64_t v) {
    char b[8];
    for (int i = 0; i < 8; ++i) b[i] = static_cast<char>((v >> (8 * i)) & 0xff);
    out.append(b, 8);
  }
  void put(std::int64_t v) { put(static_cast<std::uint64_t>(v)); }
  void put(bool v) { out.push_back(v ? '\1' : '\0'); }
  void put(std::string_view s) {
    put(static_cast<std::uint64_t>(s.size()));
    out.append(s);
  }
  void put(const std::string& s) { put(std::string_view(s)); }
  // States travel as the words the database stores.
  void put(DecryptionState v) { put(std::string_view(to_string(v))); }
  void put(SignatureState v) { put(std::string_view(to_string(v))); }
  void put(MessageSource v) { put(std::string_view(to_string(v))); }
  template <class T>
  void put(const std::optional<T>& v) {
    put(v.has_value());
    if (v) put(*v);
  }
  template <class A, class B>
  void put(const std::pair<A, B>& p) {
    put(p.first);
    put(p.second);
  }
  template <class T>
  void put(const std::vector<T>& v) {
    put(static_cast<std::uint64_t>(v.size()));
    for (const auto& e : v) put(e);
  }

  void put(const Envelope& e) {
    put(e.source);
    put(e.mail_from);
    put(e.recipients);
  }
  void put(const Attachment& a) {
    put(a.filename);
    put(a.content_type);
    put(static_cast<std::uint64_t>(a.size));
    put(a.sha256);
    put(a.encrypted);
    put(a.is_signed);
  }
  void put(const MimePart& p) {
    put(p.type);
    put(p.subtype);
    put(p.params);
    put(p.headers);
    put(p.charset);
    put(p.disposition);
    put(p.filename);
    // The source spans stay behind: after prepare_message nothing reads them.
    put(p.body);
    put(p.children);
    put(p.encrypted);
    put(p.is_signed);
    put(p.broken);
  }
  void put(const ParsedMessage& m) {
    put(m.message_id);
    put(m.in_reply_to);
    put(m.references);
    put(m.from);
    put(m.from_name);
    put(m.reply_to);
    put(m.sender);
    put(m.to);
    put(m.cc);
    put(m.delivered_to);
    put(m.x_original_to);
    put(m.subject);
    put(m.outer_subject);
    put(m.date);
    put(m.auto_submitted);
    put(m.precedence);
    put(m.list_id);
    put(m.autocrypt);
    put(m.cased_mark);
    put(m.body);
    put(m.attachments);
    put(m.root);
    put(m.malformed);
    put(m.problems);
    put(m.encrypted);
    put(m.mixed);
    put(m.decryption);
    put(m.decryption_error);
    put(m.signature);
    put(m.signer);
    put(m.signer_uid);
    put(m.keys_offered);
    put(m.crypto);
    put(m.smime);
  }
  void put(const SmimeSigner& c) {
    put(c.fingerprint);
    put(c.subject);
    put(c.issuer);
    put(c.addresses);
    put(c.chain);
    put(c.revocation);
    put(c.reason);
  }
  void put(const KeyInfo& k) {
    put(k.fingerprint);
    put(k.addresses);
    put(k.uid);
    put(k.expires);
    put(k.can_encrypt);
    put(k.secret);
  }
  void put(const ImportedKey& k) {
    put(k.key);
    put(k.source);
    put(k.held_before);
  }
  void put(const PreparedMessage& p) {
    put(p.raw);
    put(p.sha256);
    put(p.envelope);
    put(p.parsed);
    put(p.keys);
  }
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}

  void get(std::uint64_t& v) {
    need(8);
    v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(static_cast<unsigned char>(in_[pos_ + i])) << (8 * i);
    pos_ += 8;
  }
  void get(std::int64_t& v) {
    std::uint64_t u = 0;
    get(u);
    v = static_cast<std::int64_t>(u);
  }
  void get(bool& v) {
    need(1);
    char c = in_[pos_++];
    if (c != '\0' && c != '\1') throw WireError("bad boolean");
    v = c == '\1';
  }
  void get(std::string& s) {
    std::uint64_t n = 0;
    get(n);
    need(n);
    s.assign(in_.substr(pos_, n));
    pos_ += n;
  }
  void get(DecryptionState& v) { word(v, parse_decryption_state, "bad decryption state"); }
  void get(SignatureState& v) { word(v, parse_signature_state, "bad signature state"); }
  void get(MessageSource& v) { word(v, parse_message_source, "bad message source"); }
  template <class T>
  void get(std::optional<T>& v) {
    bool present = false;
    get(present);
    if (!present) {
      v.reset();
      return;
    }
    T value{};
    get(value);
    v = std::move(value);
  }
  template <class A, class B>
  void get(std::pair<A, B>& p) {
    get(p.first);
    get(p.second);
  }
  template <class T>
  void get(std::vector<T>& v) {
    std::uint64_t n = 0;
    get(n);
    // Every element takes at least one byte: a corrupt count fails here,
    // not in a huge allocation. Elements are made as they are read, so a
    // count cannot make sizeof(T) bytes of objects per byte of input.
    need(n);
    v.clear();
    for (std::uint64_t i = 0; i < n; ++i) get(v.emplace_back());
  }

  void get(Envelope& e) {
    get(e.source);
    get(e.mail_from);
    get(e.recipients);
  }
  void get(Attachment& a) {
    get(a.filename);
    get(a.content_type);
    get(a.size);
    get(a.sha256);
    get(a.encrypted);
    get(a.is_signed);
  }
  void get(MimePart& p) {
    // The parser bounds nesting; a reply nested deeper is corrupt.
    if (++depth_ > 1000) throw WireError("MIME tree too deep");
    get(p.type);
    get(p.subtype);
    get(p.params);
    get(p.headers);
    get(p.charset);
    get(p.disposition);
    get(p.filename);
    get(p.body);
    get(p.children);
    get(p.encrypted);
    get(p.is_signed);
    get(p.broken);
    --depth_;
  }
  void get(ParsedMessage& m) {
    get(m.message_id);
    get(m.in_reply_to);
    get(m.references);
    get(m.from);
    get(m.from_name);
    get(m.reply_to);
    get(m.sender);
    get(m.to);
    get(m.cc);
    get(m.delivered_to);
    get(m.x_original_to);
    get(m.subject);
    get(m.outer_subject);
    get(m.date);
    get(m.auto_submitted);
    get(m.precedence);
    get(m.list_id);
    get(m.autocrypt);
    get(m.cased_mark);
    get(m.body);
    get(m.attachments);
    get(m.root);
    get(m.malformed);
    get(m.problems);
    get(m.encrypted);
    get(m.mixed);
    get(m.decryption);
    get(m.decryption_error);
    get(m.signature);
    get(m.signer);
    get(m.signer_uid);
    get(m.keys_offered);
    get(m.crypto);
    get(m.smime);
  }
  void get(SmimeSigner& c) {
    get(c.fingerprint);
    get(c.subject);
    get(c.issuer);
    get(c.addresses);
    get(c.chain);
    get(c.revocation);
    get(c.reason);
  }
  void get(KeyInfo& k) {
    get(k.fingerprint);
    get(k.addresses);
    get(k.uid);
    get(k.expires);
    get(k.can_encrypt);
    get(k.secret);
  }
  void get(ImportedKey& k) {
    get(k.key);
    get(k.source);
    get(k.held_before);
  }
  void get(PreparedMessage& p) {
    get(p.raw);
    get(p.sha256);
    get(p.envelope);
    get(p.parsed);
    get(p.keys);
  }

  void finish() const {
    if (pos_ != in_.size()) throw WireError("trailing bytes");
  }

 private:
  // A state's word; any word the program does not know is corrupt.
  template <class Enum>
  void word(Enum& v, std::optional<Enum> (*parse)(std::string_view), const char* what) {
    std::string w;
    get(w);
    auto parsed = parse(w);
    if (!parsed) throw WireError(what);
    v = *parsed;
  }
  void need(std::uint64_t n) const {
    if (n > in_.size() - pos_) throw WireError("truncated");
  }
  std::string_view in_;
  std::size_t pos_ = 0;
  int depth_ = 0;
};

enum Status : std::uint64_t { ok = 0, failed = 1 };

}  // namespace

std::string encode_request(std::string_view raw, const Envelope& envelope) {
  Writer w;
  w.out.reserve(raw.size() + 256);
  w.put(raw);
  w.put(envelope);
  return std::move(w.out);
}

Request decode_request(std::string_view bytes) {
  Reader r(bytes);
  Request req;
  r.get(req.raw);
  r.get(req.envelope);
  r.finish();
  return req;
}

std::string encode_reply(const Result<PreparedMessage>& reply) {
  Writer w;
  if (reply) {
    w.out.reserve(2 * reply.value().raw.size() + 1024);
    w.put(static_cast<std::uint64_t>(Status::ok));
    w.put(reply.value());
  } else {
    w.put(static_cast<std::uint64_t>(Status::failed));
    w.put(static_cast<std::uint64_t>(reply.error().code));
    w.put(reply.error().message);
  }
  return std::move(w.out);
}

Result<PreparedMessage> decode_reply(std::string_view bytes) {
  Reader r(bytes);
  std::uint64_t status = 0;
  r.get(status);
  if (status == Status::ok) {
    PreparedMessage p;
    r.get(p);
    r.finish();
    return p;
  }
  if (status != Status::failed) throw WireError("bad reply status");
  std::uint64_t code = 0;
  Error e;
  r.get(code);
  r.get(e.message);
  r.finish();
  if (code > static_cast<std::uint64_t>(Errc::internal)) throw WireError("bad error code");
  e.code = static_cast<Errc>(code);
  return e;
}

}  // namespace cased::wire
