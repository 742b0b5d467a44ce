#include "outbound/outbox.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "mail/address.hpp"
#include "net/smtp.hpp"
#include "core/text.hpp"
#include "cases/threading.hpp"
#include "core/util.hpp"

namespace cased {
namespace {

constexpr const char* kDefaultAck =
    "Hello,\n"
    "\n"
    "thank you for your report. It has been received and filed as {tag}.\n"
    "A member of the security team will look at it and get back to you.\n"
    "\n"
    "To add information, reply to this message and keep {tag} in the\n"
    "subject. Please encrypt what you send; our key is published for {alias}.\n"
    "{policy}"
    "\n"
    "-- \n"
    "This is an automatic acknowledgement; it repeats nothing of your report.\n";

std::string domain_of(const std::string& address) {
  auto at = address.rfind('@');
  return at == std::string::npos ? "localhost" : address.substr(at + 1);
}

std::string random_hex(std::size_t bytes) {
  std::random_device rd;
  std::string out;
  static constexpr char hex[] = "0123456789abcdef";
  for (std::size_t i = 0; i < bytes; ++i) {
    unsigned v = rd() & 0xff;
    out += hex[v >> 4];
    out += hex[v & 0xf];
  }
  return out;
}

std::string rfc5322_date(std::int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buf;
}

std::string base64(std::string_view in) {
  static constexpr char table[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                 static_cast<unsigned char>(in[i + 2]);
    out += table[(v >> 18) & 63];
    out += table[(v >> 12) & 63];
    out += table[(v >> 6) & 63];
    out += table[v & 63];
  }
  if (i < in.size()) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    out += table[(v >> 18) & 63];
    out += table[(v >> 12) & 63];
    out += i + 1 < in.size() ? table[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// RFC 2047 for a header value that is not plain ASCII.
std::string encode_header(const std::string& value) {
  bool ascii = std::all_of(value.begin(), value.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u >= 0x20 && u < 0x7f;
  });
  if (ascii) return value;
  // Split on code point boundaries so each encoded word stays short.
  std::string out, chunk;
  auto flush = [&] {
    if (chunk.empty()) return;
    out += (out.empty() ? "" : "\r\n ") + std::string("=?UTF-8?B?") + base64(chunk) + "?=";
    chunk.clear();
  };
  for (std::size_t i = 0; i < value.size(); ++i) {
    auto u = static_cast<unsigned char>(value[i]);
    if ((u & 0xC0) != 0x80 && chunk.size() >= 40) flush();
    chunk += (u < 0x20 || u == 0x7f) ? ' ' : value[i];
  }
  flush();
  return out;
}

// Quoted-printable (RFC 2045) with CRLF line ends, so the signed bytes survive transport.
std::string quoted_printable(std::string_view text) {
  std::string out;
  std::size_t line_len = 0;
  auto put = [&](const std::string& s) {
    if (line_len + s.size() > 75) {
      out += "=\r\n";
      line_len = 0;
    }
    out += s;
    line_len += s.size();
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
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
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r')) out += '\r';
    out += in[i];
  }
  return out;
}

// Drops leading "Re:" and "[tag#n]" prefixes, any number of them, in one pass.
std::string strip_tag_and_re(const std::string& subject, const std::string& tag) {
  std::string_view t = subject;
  const std::string prefix = "[" + tag + "#";
  auto skip_space = [&] {
    while (!t.empty() && (t.front() == ' ' || t.front() == '\t' || t.front() == '\r' || t.front() == '\n')) t.remove_prefix(1);
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

// Never throws on bytes that are not UTF-8 (older rows, hostile input): they become U+FFFD.
std::string json_list(const std::vector<std::string>& v) {
  return nlohmann::json(v).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::vector<std::string> parse_list(const std::string& s) {
  std::vector<std::string> out;
  auto j = nlohmann::json::parse(s, nullptr, false);
  if (j.is_array())
    for (auto& e : j)
      if (e.is_string()) out.push_back(e.get<std::string>());
  return out;
}

}  // namespace

OutboxOptions outbox_options(const Config& config) {
  OutboxOptions o;
  o.alias = config.case_.alias;
  o.tag = config.case_.tag;
  o.signing_key = config.gpg.signing_key;
  o.ack_template = config.ack.template_text.empty() ? kDefaultAck : config.ack.template_text;
  o.policy_url = config.ack.policy_url;
  if (config.smtp) o.max_per_recipient_per_day = config.smtp->max_per_recipient_per_day;
  return o;
}

Outbox::Outbox(Store& store, Crypto& crypto, OutboxOptions options)
    : store_(store), crypto_(crypto), options_(std::move(options)) {}

std::string Outbox::new_message_id(std::int64_t case_id) {
  return fmt::format("cased.{}.{}.{}@{}", case_id, now_unix(), random_hex(8), domain_of(options_.alias));
}

std::optional<std::string> Outbox::key_for(const std::string& address) {
  std::string addr = normalize_address(address);
  // A key pinned to this very address: from mail (trust on first use, for
  // its sender only) or by an analyst.
  auto pinned = store_.pinned_key(addr);
  if (!pinned) throw StoreError(pinned.error().code, pinned.error().message);
  if (auto fpr = *pinned) {
    auto k = crypto_.find_key(*fpr);
    return k && k->can_encrypt ? fpr : std::nullopt;
  }
  // Keys the operator imported into gpg.home count as pinned for the
  // addresses in their user ids. A key any mail ever brought is not one of
  // them, whatever its user ids say: it stands in for nobody but the sender
  // it was pinned to.
  for (const auto& k : crypto_.keys_for(addr))
    if (k.can_encrypt) {
      auto from_mail = store_.key_from_mail(k.fingerprint);
      if (!from_mail) throw StoreError(from_mail.error().code, from_mail.error().message);
      if (!*from_mail) return k.fingerprint;
    }
  return std::nullopt;
}

Result<std::string> Outbox::compose(const std::string& message_id, const std::vector<std::string>& to,
                                    const std::string& inner_subject, const std::string& outer_subject,
                                    const std::string& text, const std::vector<std::string>& recipient_keys,
                                    bool encrypt, const std::string& in_reply_to,
                                    const std::vector<std::string>& references, bool automatic) {
  // Nothing goes into a header or an RCPT that could end a line or a command.
  for (const auto& t : to)
    if (!valid_addr_spec(t)) return Error{Errc::invalid, "not a valid address: " + display_safe(t)};
  if (!valid_addr_spec(options_.alias)) return Error{Errc::invalid, "case.alias is not a valid address"};
  auto signer = crypto_.signing_key(options_.signing_key, options_.alias);
  if (!signer) return signer.error();
  last_signer_ = signer->fingerprint;
  std::string to_line;
  for (const auto& t : to) to_line += (to_line.empty() ? "" : ", ") + t;

  // The inner entity carries the real subject (protected headers, v1).
  std::string inner = "Content-Type: text/plain; charset=utf-8; format=fixed; protected-headers=\"v1\"\r\n"
                      "Content-Transfer-Encoding: quoted-printable\r\n";
  inner += "From: " + options_.alias + "\r\n";
  inner += "To: " + to_line + "\r\n";
  inner += "Subject: " + encode_header(inner_subject) + "\r\n";
  inner += "Message-ID: <" + message_id + ">\r\n\r\n";
  inner += quoted_printable(text);

  std::string boundary = "cased-" + random_hex(12);
  std::string head;
  head += "From: " + options_.alias + "\r\n";
  head += "To: " + to_line + "\r\n";
  head += "Subject: " + encode_header(outer_subject) + "\r\n";
  head += "Date: " + rfc5322_date(now_unix()) + "\r\n";
  head += "Message-ID: <" + message_id + ">\r\n";
  // Ids stored by older code, or from mail, that are not msg-ids are left out.
  if (valid_msg_id(in_reply_to)) head += "In-Reply-To: <" + in_reply_to + ">\r\n";
  std::string refs;
  for (const auto& r : references)
    if (valid_msg_id(r)) refs += (refs.empty() ? "" : "\r\n ") + ("<" + r + ">");
  if (!refs.empty()) head += "References: " + refs + "\r\n";
  head += "MIME-Version: 1.0\r\n";
  head += "X-Cased-Origin: " + options_.alias + "\r\n";
  if (automatic) head += "Auto-Submitted: auto-replied\r\n";

  if (encrypt) {
    std::vector<std::string> keys = recipient_keys;
    keys.push_back(signer->fingerprint);  // the team can read its own sent mail
    auto armored = crypto_.sign_encrypt(inner, signer->fingerprint, keys);
    if (!armored) return armored.error();
    head += "Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\";\r\n boundary=\"" +
            boundary + "\"\r\n\r\n";
    head += "This is an OpenPGP/MIME encrypted message (RFC 4880 and 3156)\r\n";
    head += "--" + boundary + "\r\nContent-Type: application/pgp-encrypted\r\n"
            "Content-Description: PGP/MIME version identification\r\n\r\nVersion: 1\r\n\r\n";
    head += "--" + boundary + "\r\nContent-Type: application/octet-stream; name=\"encrypted.asc\"\r\n"
            "Content-Description: OpenPGP encrypted message\r\n"
            "Content-Disposition: inline; filename=\"encrypted.asc\"\r\n\r\n";
    head += to_crlf(*armored);
    head += "\r\n--" + boundary + "--\r\n";
    return head;
  }
  auto sig = crypto_.detach_sign(inner, signer->fingerprint);
  if (!sig) return sig.error();
  head += "Content-Type: multipart/signed; micalg=" + sig->second +
          "; protocol=\"application/pgp-signature\";\r\n boundary=\"" + boundary + "\"\r\n\r\n";
  head += "This is an OpenPGP/MIME signed message (RFC 4880 and 3156)\r\n";
  head += "--" + boundary + "\r\n" + inner + "\r\n";
  head += "--" + boundary + "\r\nContent-Type: application/pgp-signature; name=\"signature.asc\"\r\n"
          "Content-Description: OpenPGP digital signature\r\n"
          "Content-Disposition: attachment; filename=\"signature.asc\"\r\n\r\n";
  head += to_crlf(sig->first);
  head += "\r\n--" + boundary + "--\r\n";
  return head;
}

Result<Queued> Outbox::queue_reply(const ReplyRequest& request) {
  auto& db = store_.db();
  try {
    auto found = store_.find_case(request.case_id);
    if (!found) return found.error();
    auto case_id = *found;
    if (!case_id) return Error{Errc::not_found, fmt::format("no such case: {}", request.case_id)};
    std::string case_subject;
    {
      auto& st = db.cached("SELECT subject FROM cases WHERE id = ?");
      st.bind(1, *case_id);
      st.step();
      case_subject = st.text(0);
      st.reset();
    }
    std::vector<std::string> to;
    if (!request.to.empty()) {
      for (const auto& t : request.to) to.push_back(normalize_address(t));
    } else {
      auto& st = db.cached(
          "SELECT address FROM participants WHERE case_id = ? AND role = 'reporter' AND verified = 1 "
          "ORDER BY added, rowid");
      st.bind(1, *case_id);
      while (st.step()) to.push_back(st.text(0));
      st.reset();
      to.erase(std::remove_if(to.begin(), to.end(), [&](auto& a) { return match_alias(a, options_.alias).ours; }),
               to.end());
    }
    if (to.empty()) return Error{Errc::invalid, "the case has no verified reporter to reply to; name one with --to"};

    std::vector<std::string> keys, keyless;
    for (const auto& t : to) {
      if (auto k = key_for(t)) keys.push_back(*k);
      else keyless.push_back(t);
    }
    std::int64_t now = now_unix();
    if (!keyless.empty() && !request.sign_only) {
      std::string names;
      for (const auto& k : keyless) names += (names.empty() ? "" : ", ") + k;
      sql::Transaction tx(db);
      store_.add_event(*case_id, "reply", request.actor, "reply refused: no usable key for " + names, now);
      tx.commit();
      return Error{Errc::refused, "no usable key for " + names + " (use --sign-only to send signed but unencrypted)"};
    }
    bool encrypt = !request.sign_only;

    // Thread under the last inbound message from one of the recipients that
    // was theirs: not an unverified one (another sender, or a forged From),
    // whose Message-ID anyone could have chosen.
    std::string in_reply_to;
    std::vector<std::string> references;
    {
      auto& st = db.cached(
          "SELECT id, message_id, from_addr FROM messages WHERE case_id = ? AND direction = 'in' AND unverified = 0 "
          "ORDER BY received DESC, id DESC");
      st.bind(1, *case_id);
      std::int64_t parent = 0;
      while (st.step()) {
        std::string from = normalize_address(st.text(2));
        if (std::find(to.begin(), to.end(), from) != to.end()) {
          parent = st.int64(0);
          in_reply_to = st.text(1);
          break;
        }
      }
      st.reset();
      if (parent) {
        auto& r = db.cached("SELECT ref FROM message_refs WHERE message = ? ORDER BY rowid");
        r.bind(1, parent);
        while (r.step()) references.push_back(r.text(0));
        r.reset();
        references.push_back(in_reply_to);
      }
    }
    std::string tag = fmt::format("[{}#{}]", options_.tag, *case_id);
    // Signed-only mail travels in clear: the tag and a neutral subject, inside and out.
    std::string outer_subject = encrypt ? tag + " Encrypted message" : tag + " Message from the security team";
    std::string inner_subject =
        encrypt ? fmt::format("Re: {} {}", tag, strip_tag_and_re(case_subject, options_.tag)) : outer_subject;
    std::string message_id = new_message_id(*case_id);
    auto raw = compose(message_id, to, inner_subject, outer_subject, request.text, keys, encrypt, in_reply_to,
                       references, false);
    if (!raw) return raw.error();

    sql::Transaction tx(db);
    std::int64_t message = store_.store_outbound(*case_id, message_id, to, inner_subject, request.text, *raw,
                                                 encrypt, in_reply_to, references, now, last_signer_);
    db.cached(
          "INSERT INTO outbox(case_id, kind, status, recipients, subject, message_id, message, raw, next_attempt, "
          "created) VALUES (?, 'reply', 'queued', ?, ?, ?, ?, ?, ?, ?)")
        .bind(1, *case_id)
        .bind(2, json_list(to))
        .bind(3, inner_subject)
        .bind(4, message_id)
        .bind(5, message)
        .bind_blob(6, *raw)
        .bind(7, now)
        .bind(8, now)
        .run();
    std::int64_t id = db.last_insert_rowid();
    std::string names;
    for (const auto& t : to) names += (names.empty() ? "" : ", ") + t;
    store_.add_event(*case_id, "reply", request.actor,
                     fmt::format("reply {} queued to {}{}", message_id, names,
                                 encrypt ? " (signed, encrypted)" : " (signed only, NOT encrypted)"),
                     now);
    tx.commit();
    return Queued{id, *case_id, to, message_id, encrypt};
  } catch (const StoreError& e) {
    return Error{e.code(), e.what()};
  }
}

Result<Queued> Outbox::queue_digest(const std::string& to_addr, const std::string& text, const std::string& bare_text) {
  auto& db = store_.db();
  try {
    std::string to = normalize_address(to_addr);
    auto key = key_for(to);
    std::string message_id = new_message_id(0);
    std::string subject = fmt::format("[{}] digest {}", options_.tag, format_rfc3339(now_unix()).substr(0, 10));
    // Without the recipient's key the digest names cases by tag, status and age only.
    auto raw = compose(message_id, {to}, subject, subject, key ? text : bare_text, key ? std::vector{*key} : std::vector<std::string>{},
                       key.has_value(), "", {}, true);
    if (!raw) return raw.error();
    std::int64_t now = now_unix();
    sql::Transaction tx(db);
    db.cached(
          "INSERT INTO outbox(case_id, kind, status, recipients, subject, message_id, raw, next_attempt, created) "
          "VALUES (NULL, 'digest', 'queued', ?, ?, ?, ?, ?, ?)")
        .bind(1, json_list({to}))
        .bind(2, subject)
        .bind(3, message_id)
        .bind_blob(4, *raw)
        .bind(5, now)
        .bind(6, now)
        .run();
    std::int64_t id = db.last_insert_rowid();
    tx.commit();
    return Queued{id, 0, {to}, message_id, key.has_value()};
  } catch (const StoreError& e) {
    return Error{e.code(), e.what()};
  }
}

Status Outbox::compose_ack(std::int64_t outbox_id) {
  auto& db = store_.db();
  auto& st = db.cached("SELECT case_id, recipients, message_id FROM outbox WHERE id = ?");
  st.bind(1, outbox_id);
  if (!st.step()) {
    st.reset();
    return Error{Errc::not_found, "no outbox row"};
  }
  std::int64_t case_id = st.int64(0);
  auto to = parse_list(st.text(1));
  std::string message_id = st.text(2);
  st.reset();
  std::string tag = fmt::format("[{}#{}]", options_.tag, case_id);
  std::string text = options_.ack_template;
  auto replace = [&](const std::string& key, const std::string& value) {
    for (auto pos = text.find(key); pos != std::string::npos; pos = text.find(key, pos + value.size()))
      text.replace(pos, key.size(), value);
  };
  replace("{tag}", tag);
  replace("{alias}", options_.alias);
  replace("{policy}", options_.policy_url.empty() ? "" : "Our disclosure policy: " + options_.policy_url + "\n");

  std::string in_reply_to;
  std::vector<std::string> references;
  {
    auto& m = db.cached("SELECT message_id FROM messages WHERE case_id = ? AND direction = 'in' ORDER BY id LIMIT 1");
    m.bind(1, case_id);
    if (m.step()) in_reply_to = m.text(0);
    m.reset();
    if (!in_reply_to.empty()) references.push_back(in_reply_to);
  }
  std::vector<std::string> keys;
  bool encrypt = true;
  for (const auto& t : to) {
    if (auto k = key_for(t)) keys.push_back(*k);
    else encrypt = false;
  }
  // The subject echoes nothing of the report: the tag and a fixed text.
  std::string subject = tag + " Your report has been received";
  auto raw = compose(message_id, to, subject, subject, text, keys, encrypt, in_reply_to, references, true);
  if (!raw) return raw.error();
  std::int64_t now = now_unix();
  sql::Transaction tx(db);
  std::int64_t message =
      store_.store_outbound(case_id, message_id, to, subject, text, *raw, encrypt, in_reply_to, references, now,
                            last_signer_);
  db.cached("UPDATE outbox SET raw = ?, subject = ?, message = ? WHERE id = ?")
      .bind_blob(1, *raw)
      .bind(2, subject)
      .bind(3, message)
      .bind(4, outbox_id)
      .run();
  tx.commit();
  return ok_status();
}

std::vector<SendAttempt> Outbox::send_due(const std::optional<SmtpConfig>& smtp, std::optional<std::int64_t> only) {
  std::vector<SendAttempt> attempts;
  if (!smtp) return attempts;
  auto& db = store_.db();
  std::string password;
  if (!smtp->password_file.empty()) {
    auto p = read_password_file(smtp->password_file);
    if (!p) {
      spdlog::error("smtp: {}", p.error().message);
      return attempts;
    }
    password = *p;
  }
  std::vector<std::int64_t> due;
  std::int64_t now = now_unix();
  {
    // 'sending' rows whose claim ran out belong to a sender that died: retry them.
    auto& st = db.cached(
        "SELECT id FROM outbox WHERE ((status = 'queued' AND next_attempt <= ?1) OR "
        "(status = 'sending' AND claimed_until < ?1)) AND (?2 IS NULL OR id = ?2) ORDER BY id LIMIT 100");
    st.bind(1, now).bind(2, only);
    while (st.step()) due.push_back(st.int64(0));
    st.reset();
  }
  for (std::int64_t id : due) {
    SendAttempt attempt{id, "queued", ""};
    try {
      {
        // Claim the row: only one sender (daemon or casectl) wins.
        sql::Transaction tx(db);
        db.cached(
              "UPDATE outbox SET status = 'sending', claimed_until = ?, attempts = attempts + 1 "
              "WHERE id = ? AND ((status = 'queued' AND next_attempt <= ?3) OR (status = 'sending' AND claimed_until < ?3))")
            .bind(1, now + 900)
            .bind(2, id)
            .bind(3, now)
            .run();
        bool claimed = db.changes() == 1;
        tx.commit();
        if (!claimed) continue;
      }
      auto& st = db.cached("SELECT kind, recipients, raw, case_id, attempts, message_id FROM outbox WHERE id = ?");
      st.bind(1, id);
      st.step();
      std::string kind = st.text(0);
      auto to = parse_list(st.text(1));
      std::string raw = st.text(2);
      auto case_id = st.opt_int64(3);
      int tries = static_cast<int>(st.int64(4));
      std::string message_id = st.text(5);
      st.reset();
      if (raw.empty() && kind == "ack") {
        if (auto s = compose_ack(id); !s) throw StoreError(Errc::internal, s.error().message);
        auto& again = db.cached("SELECT raw FROM outbox WHERE id = ?");
        again.bind(1, id);
        again.step();
        raw = again.text(0);
        again.reset();
      }
      // A per-recipient daily cap stops any loop that got past the other rules.
      std::vector<std::string> capped;
      // Counted per mailbox: quoted and +detail variants of it count together.
      for (const auto& t : to) {
        auto sent = store_.sent_to_since(t, now - 86400);
        if (!sent) throw StoreError(sent.error().code, sent.error().message);
        if (*sent >= options_.max_per_recipient_per_day) capped.push_back(t);
      }
      SmtpResult r;
      if (!capped.empty()) {
        r.kind = SmtpResult::Kind::temporary;
        r.error = "daily limit of mail to " + capped.front() + " reached";
      } else {
        r = smtp_send(*smtp, password, options_.alias, to, raw);
      }
      sql::Transaction tx(db);
      if (r.kind == SmtpResult::Kind::sent) {
        db.cached("UPDATE outbox SET status = 'sent', sent = ?, last_error = NULL, claimed_until = NULL WHERE id = ?")
            .bind(1, now_unix())
            .bind(2, id)
            .run();
        attempt.status = "sent";
        if (case_id) {
          std::string names;
          for (const auto& t : to) names += (names.empty() ? "" : ", ") + t;
          store_.add_event(*case_id, kind == "ack" ? "ack" : "reply", "cased",
                           fmt::format("{} {} sent to {}", kind, message_id, names), now_unix());
          if (!r.rejected.empty())
            store_.add_event(*case_id, "bounce", "cased",
                             fmt::format("server refused recipient(s) of {}: {}", message_id, fmt::join(r.rejected, ", ")),
                             now_unix());
        }
      } else if (r.kind == SmtpResult::Kind::permanent || tries >= 12) {
        db.cached("UPDATE outbox SET status = 'failed', last_error = ?, claimed_until = NULL WHERE id = ?")
            .bind(1, r.error)
            .bind(2, id)
            .run();
        attempt.status = "failed";
        attempt.error = r.error;
      } else {
        // Exponential back-off: 1, 2, 4 ... minutes, at most 4 hours.
        std::int64_t delay = std::min<std::int64_t>(60LL << std::min(tries - 1, 8), 4 * 3600);
        db.cached("UPDATE outbox SET status = 'queued', last_error = ?, next_attempt = ?, claimed_until = NULL WHERE id = ?")
            .bind(1, r.error)
            .bind(2, now_unix() + delay)
            .bind(3, id)
            .run();
        attempt.error = r.error;
      }
      tx.commit();
      spdlog::info("outbox {}: {} ({} recipient(s)){}{}", id, attempt.status, to.size(), attempt.error.empty() ? "" : ": ",
                   attempt.error);
    } catch (const StoreError& e) {
      attempt.error = e.what();
      spdlog::warn("outbox {}: {}", id, e.what());
    }
    attempts.push_back(attempt);
  }
  return attempts;
}

Result<std::vector<OutboxRow>> list_outbox(Store& store) {
  try {
    std::vector<OutboxRow> rows;
    auto st = store.db().prepare(
        "SELECT id, case_id, kind, status, recipients, subject, attempts, last_error, created, sent, next_attempt "
        "FROM outbox ORDER BY id");
    while (st.step()) {
      OutboxRow r;
      r.id = st.int64(0);
      r.case_id = st.opt_int64(1);
      r.kind = st.text(2);
      r.status = st.text(3) == "sending" ? "queued" : st.text(3);
      r.to = parse_list(st.text(4));
      r.subject = st.text(5);
      r.attempts = static_cast<int>(st.int64(6));
      r.last_error = st.opt_text(7);
      r.created = st.int64(8);
      r.sent = st.opt_int64(9);
      r.next_attempt = st.int64(10);
      rows.push_back(std::move(r));
    }
    return rows;
  } catch (const StoreError& e) {
    return Error{e.code(), e.what()};
  }
}

Status Outbox::retry(std::int64_t id) {
  try {
    auto& db = store_.db();
    sql::Transaction tx(db);
    db.cached("UPDATE outbox SET status = 'queued', next_attempt = ?, attempts = 0 WHERE id = ? AND status IN ('failed', 'queued')")
        .bind(1, now_unix())
        .bind(2, id)
        .run();
    bool changed = db.changes() == 1;
    tx.commit();
    if (!changed) return Error{Errc::not_found, fmt::format("no failed or queued outbox entry {}", id)};
    return ok_status();
  } catch (const StoreError& e) {
    return Error{e.code(), e.what()};
  }
}

}  // namespace cased
