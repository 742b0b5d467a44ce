#include "outbound/compose.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <ctime>
#include <random>

#include "core/base64.hpp"
#include "core/text.hpp"
#include "core/util.hpp"
#include "mail/address.hpp"

namespace cased::compose {
namespace {

constexpr std::size_t kMaxLine = 78;       // RFC 5322 2.1.1: SHOULD
constexpr std::size_t kEncodedChunk = 40;  // bytes per encoded word: 68 characters with its markers

bool printable_ascii(std::string_view value) {
  return std::all_of(value.begin(), value.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u >= 0x20 && u < 0x7f;
  });
}

// The value folded before spaces, or nothing when a word is too long to fit a line.
std::optional<std::string> fold_ascii(std::string_view value, std::size_t used) {
  std::string out;
  std::size_t line = used;
  for (std::size_t i = 0; i < value.size();) {
    std::size_t j = value.find_first_not_of(' ', i);
    j = j == std::string_view::npos ? value.size() : value.find(' ', j);
    if (j == std::string_view::npos) j = value.size();
    std::string_view word = value.substr(i, j - i);
    // A fold goes before a space and never leaves a line of white space only.
    bool can_fold = word.front() == ' ' && word.find_first_not_of(' ') != std::string_view::npos && line > 1;
    if (line + word.size() > kMaxLine && can_fold) {
      out += "\r\n";
      line = 0;
    }
    if (line + word.size() > kMaxLine) return std::nullopt;
    out += word;
    line += word.size();
    i = j;
  }
  return out;
}

// RFC 2047 encoded words, split on code point boundaries; controls become spaces.
std::string encoded_words(std::string_view value) {
  std::string out, chunk;
  auto flush = [&] {
    if (chunk.empty()) return;
    out += (out.empty() ? "" : "\r\n ") + std::string("=?UTF-8?B?") + base64_encode(chunk) + "?=";
    chunk.clear();
  };
  for (char c : value) {
    auto u = static_cast<unsigned char>(c);
    if ((u & 0xC0) != 0x80 && chunk.size() >= kEncodedChunk) flush();
    chunk += (u < 0x20 || u == 0x7f) ? ' ' : c;
  }
  flush();
  return out;
}

// Checked addr-specs, folded between them (never encoded: RFC 2047 has no place in an address).
std::string address_field(std::string_view name, const std::vector<std::string>& addresses) {
  std::string out = std::string(name) + ":";
  std::size_t line = out.size();
  for (std::size_t i = 0; i < addresses.size(); ++i) {
    std::string item = addresses[i] + (i + 1 < addresses.size() ? "," : "");
    if (i > 0 && line + 1 + item.size() > kMaxLine) {
      out += "\r\n";
      line = 0;
    }
    out += " " + item;
    line += 1 + item.size();
  }
  return out + "\r\n";
}

}  // namespace

std::string header_field(std::string_view name, std::string_view value) {
  std::string out = std::string(name) + ": ";
  std::optional<std::string> folded;
  if (printable_ascii(value)) folded = fold_ascii(value, out.size());
  out += folded ? *folded : encoded_words(value);
  return out + "\r\n";
}

std::string quoted_printable(std::string_view text) {
  std::string out;
  std::size_t line_len = 0;
  auto put = [&](std::string_view s) {
    if (line_len + s.size() > 75) {  // 75 and the soft break's "=": 76
      out += "=\r\n";
      line_len = 0;
    }
    out += s;
    line_len += s.size();
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') continue;
    if (c == '\n') {
      out += "\r\n";
      line_len = 0;
      continue;
    }
    bool at_line_end = i + 1 == text.size() || text[i + 1] == '\n' || text[i + 1] == '\r';
    bool plain = (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !at_line_end);
    // "From " at a line start and a lone "." are escaped for old MTAs and signatures' sake.
    if (line_len == 0 && (c == '.' || (c == 'F' && text.substr(i, 5) == "From "))) plain = false;
    put(plain ? std::string(1, static_cast<char>(c)) : fmt::format("={:02X}", c));
  }
  if (!out.empty() && out.back() != '\n') out += "\r\n";
  return out;
}

std::string to_crlf(std::string_view in) {
  std::string out;
  out.reserve(in.size() + in.size() / 32);
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r')) out += '\r';
    out += in[i];
  }
  return out;
}

std::string rfc5322_date(std::int64_t unix_seconds) {
  auto tt = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buf;
}

std::string random_hex(std::size_t bytes) {
  std::random_device rd;
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < bytes; ++i) {
    unsigned v = rd() & 0xff;
    out += hex[v >> 4];
    out += hex[v & 0xf];
  }
  return out;
}

namespace {

std::string_view domain_of(std::string_view alias) {
  auto at = alias.rfind('@');
  return at == std::string_view::npos ? std::string_view("localhost") : alias.substr(at + 1);
}

}  // namespace

std::string make_message_id(std::int64_t case_id, std::int64_t now, std::string_view alias) {
  return fmt::format("cased.{}.{}.{}@{}", case_id, now, random_hex(8), domain_of(alias));
}

std::string make_public_message_id(std::string_view alias) {
  return fmt::format("cased.{}@{}", random_hex(16), domain_of(alias));
}

std::string strip_tag_and_re(std::string_view subject, std::string_view tag) {
  std::string_view t = subject;
  const std::string prefix = "[" + std::string(tag) + "#";
  auto skip_space = [&] {
    while (!t.empty() && (t.front() == ' ' || t.front() == '\t' || t.front() == '\r' || t.front() == '\n'))
      t.remove_prefix(1);
  };
  for (skip_space();; skip_space()) {
    if (t.size() >= 3 && iequals(t.substr(0, 3), "re:")) {
      t.remove_prefix(3);
      continue;
    }
    if (t.size() > prefix.size() && iequals(t.substr(0, prefix.size()), prefix)) {
      auto close = t.find(']');
      if (close != std::string_view::npos) {
        t.remove_prefix(close + 1);
        continue;
      }
    }
    return trim(t);
  }
}

Subjects reply_subjects(std::string_view tag, std::int64_t case_id, std::string_view case_subject, bool encrypt) {
  std::string t = fmt::format("[{}#{}]", tag, case_id);
  if (!encrypt) return {t + " Message from the security team", t + " Message from the security team"};
  return {fmt::format("Re: {} {}", t, strip_tag_and_re(case_subject, tag)), t + " Encrypted message"};
}

Subjects notify_subjects(std::string_view tag, std::int64_t case_id, bool encrypt) {
  std::string t = fmt::format("[{}#{}]", tag, case_id);
  std::string inner = t + " Security issue notification";
  return {inner, encrypt ? t + " Encrypted message" : inner};
}

std::string ack_subject(std::string_view tag, std::int64_t case_id) {
  return fmt::format("[{}#{}] Your report has been received", tag, case_id);
}

std::string digest_subject(std::string_view tag, std::int64_t now) {
  return fmt::format("[{}] digest {}", tag, format_rfc3339(now).substr(0, 10));
}

std::string ack_text(std::string_view templ, std::string_view tag, std::string_view alias, std::string_view policy_url) {
  std::string text(templ);
  auto replace = [&](std::string_view key, const std::string& value) {
    for (auto pos = text.find(key); pos != std::string::npos; pos = text.find(key, pos + value.size()))
      text.replace(pos, key.size(), value);
  };
  replace("{tag}", std::string(tag));
  replace("{alias}", std::string(alias));
  replace("{policy}", policy_url.empty() ? "" : "Our disclosure policy: " + std::string(policy_url) + "\n");
  return text;
}

Status check_draft(const Draft& draft) {
  // Nothing goes into a header or an RCPT that could end a line or a command.
  for (const auto* list : {&draft.to, &draft.cc})
    for (const auto& t : *list)
      if (!valid_addr_spec(t)) return Error{Errc::invalid, "not a valid address: " + display_safe(t)};
  if (!valid_addr_spec(draft.from)) return Error{Errc::invalid, "case.alias is not a valid address"};
  if (!draft.reply_to.empty() && !valid_addr_spec(draft.reply_to))
    return Error{Errc::invalid, "not a valid Reply-To address: " + display_safe(draft.reply_to)};
  if (!valid_msg_id(draft.message_id)) return Error{Errc::invalid, "not a valid Message-ID: " + display_safe(draft.message_id)};
  return ok_status();
}

std::string outer_headers(const Draft& draft) {
  std::string head = address_field("From", {draft.from});
  head += address_field("To", draft.to);
  if (!draft.cc.empty()) head += address_field("Cc", draft.cc);
  if (!draft.reply_to.empty()) head += address_field("Reply-To", {draft.reply_to});
  head += header_field("Subject", draft.subject.outer);
  head += "Date: " + rfc5322_date(draft.date) + "\r\n";
  head += "Message-ID: <" + draft.message_id + ">\r\n";
  // Ids stored by older code, or from mail, that are not msg-ids are left out.
  if (valid_msg_id(draft.in_reply_to)) head += "In-Reply-To: <" + draft.in_reply_to + ">\r\n";
  std::string refs;
  for (const auto& r : draft.references)
    if (valid_msg_id(r)) refs += (refs.empty() ? "" : "\r\n ") + ("<" + r + ">");
  if (!refs.empty()) head += "References: " + refs + "\r\n";
  head += "MIME-Version: 1.0\r\n";
  head += "X-Cased-Origin: " + draft.from + "\r\n";
  if (draft.automatic) head += "Auto-Submitted: auto-replied\r\n";
  return head;
}

std::string inner_entity(const Draft& draft) {
  const std::string boundary = "cased-mixed-" + random_hex(12);
  std::string inner = draft.attachments.empty()
                          ? "Content-Type: text/plain; charset=utf-8; format=fixed; protected-headers=\"v1\"\r\n"
                            "Content-Transfer-Encoding: quoted-printable\r\n"
                          : "Content-Type: multipart/mixed; protected-headers=\"v1\";\r\n boundary=\"" + boundary +
                                "\"\r\n";
  inner += address_field("From", {draft.from});
  inner += address_field("To", draft.to);
  if (!draft.cc.empty()) inner += address_field("Cc", draft.cc);
  if (!draft.reply_to.empty()) inner += address_field("Reply-To", {draft.reply_to});
  inner += header_field("Subject", draft.subject.inner);
  inner += "Message-ID: <" + draft.message_id + ">\r\n\r\n";
  if (draft.attachments.empty()) return inner + quoted_printable(draft.text);
  return inner + mixed_body(draft.text, draft.attachments, boundary);
}

std::string multipart_encrypted(std::string_view armored, std::string_view boundary) {
  const std::string b(boundary);
  std::string out = "Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\";\r\n boundary=\"" + b +
                    "\"\r\n\r\n";
  out += "This is an OpenPGP/MIME encrypted message (RFC 4880 and 3156)\r\n";
  out += "--" + b + "\r\nContent-Type: application/pgp-encrypted\r\n"
         "Content-Description: PGP/MIME version identification\r\n\r\nVersion: 1\r\n\r\n";
  out += "--" + b + "\r\nContent-Type: application/octet-stream; name=\"encrypted.asc\"\r\n"
         "Content-Description: OpenPGP encrypted message\r\n"
         "Content-Disposition: inline; filename=\"encrypted.asc\"\r\n\r\n";
  out += to_crlf(armored);
  return out + "\r\n--" + b + "--\r\n";
}

std::string multipart_signed(std::string_view inner, std::string_view signature, std::string_view micalg,
                             std::string_view boundary) {
  const std::string b(boundary);
  std::string out = "Content-Type: multipart/signed; micalg=" + std::string(micalg) +
                    "; protocol=\"application/pgp-signature\";\r\n boundary=\"" + b + "\"\r\n\r\n";
  out += "This is an OpenPGP/MIME signed message (RFC 4880 and 3156)\r\n";
  out += "--" + b + "\r\n" + std::string(inner) + "\r\n";
  out += "--" + b + "\r\nContent-Type: application/pgp-signature; name=\"signature.asc\"\r\n"
         "Content-Description: OpenPGP digital signature\r\n"
         "Content-Disposition: attachment; filename=\"signature.asc\"\r\n\r\n";
  out += to_crlf(signature);
  return out + "\r\n--" + b + "--\r\n";
}

namespace {

Result<Composed> compose_smime(const Draft& draft, const Sealing& sealing, Crypto& crypto) {
  auto signer = crypto.smime_signer(draft.from);
  if (!signer) return signer.error();
  auto sealed = crypto.smime_seal(inner_entity(draft), signer->fingerprint, sealing.certificates);
  if (!sealed) return sealed.error();
  return Composed{outer_headers(draft) + *sealed, signer->fingerprint};
}

}  // namespace

Result<Composed> compose(const Draft& draft, const Sealing& sealing, Crypto& crypto) {
  if (auto ok = check_draft(draft); !ok) return ok.error();
  if (sealing.encrypt && !sealing.certificates.empty()) return compose_smime(draft, sealing, crypto);
  auto signer = crypto.signing_key(sealing.signing_key, draft.from);
  if (!signer) return signer.error();
  std::string inner = inner_entity(draft);
  std::string boundary = "cased-" + random_hex(12);
  Composed out{outer_headers(draft), signer->fingerprint};
  if (sealing.encrypt) {
    std::vector<std::string> keys = sealing.recipient_keys;
    keys.push_back(signer->fingerprint);  // the team can read its own sent mail
    auto armored = crypto.sign_encrypt(inner, signer->fingerprint, keys);
    if (!armored) return armored.error();
    out.raw += multipart_encrypted(*armored, boundary);
    return out;
  }
  auto sig = crypto.detach_sign(inner, signer->fingerprint);
  if (!sig) return sig.error();
  out.raw += multipart_signed(inner, sig->first, sig->second, boundary);
  return out;
}

}  // namespace cased::compose
