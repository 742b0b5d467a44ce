// A message's header fields and the choice of its body. The tree itself is
// built in mime_tree.cpp, text conversions live in mime_text.cpp. Every
// header-derived field of ParsedMessage leaves here as valid UTF-8; addresses
// and Message-IDs leave only when they pass the strict checks of address.hpp.
#include "mail/mime.hpp"

#include <libetpan/libetpan.h>

#include <algorithm>
#include <cstdint>
#include <ctime>
#include <memory>
#include <unordered_set>

#include "mail/address.hpp"
#include "mail/mime_internal.hpp"
#include "core/util.hpp"

namespace cased {

using namespace mime_detail;

std::string MimePart::param(std::string_view name) const {
  for (const auto& [k, v] : params)
    if (iequals(k, name)) return v;
  return {};
}

std::string MimePart::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (iequals(k, name)) return v;
  return {};
}

namespace {

// References and In-Reply-To keep the first id and the last ones: enough to
// thread, and the store does bounded work however many a sender lists.
constexpr std::size_t kMaxThreadIds = 64;
// Addresses read from one To, Cc, From, Reply-To or Sender field.
constexpr std::size_t kMaxAddresses = 1000;

void note(ParsedMessage& msg, const std::string& what) {
  msg.malformed = true;
  if (std::find(msg.problems.begin(), msg.problems.end(), what) == msg.problems.end()) msg.problems.push_back(what);
}

std::string strip_angles(std::string_view v) {
  std::string s = trim(v);
  if (s.size() >= 2 && s.front() == '<' && s.back() == '>') s = s.substr(1, s.size() - 2);
  return trim(s);
}

// The <...> items of a header value, in order; tolerates garbage between them.
// A value with none is taken whole when it is one word with an "@".
std::vector<std::string> bracketed(std::string_view value) {
  std::vector<std::string> items;
  std::size_t pos = 0;
  while ((pos = value.find('<', pos)) != std::string_view::npos) {
    auto end = value.find('>', pos);
    if (end == std::string_view::npos) break;
    pos = value.rfind('<', end);  // the innermost "<" before the ">": "<<a@x>" is <a@x>
    std::string item = trim(value.substr(pos + 1, end - pos - 1));
    if (!item.empty()) items.push_back(std::move(item));
    pos = end + 1;
  }
  if (items.empty()) {
    std::string bare = trim(value);
    if (!bare.empty() && bare.find_first_of(" \t<>") == std::string::npos && bare.find('@') != std::string::npos)
      items.push_back(bare);
  }
  return items;
}

// Appends the valid Message-IDs of `value` not already in `ids`; invalid ones
// (controls, spaces, no "@", non-ASCII) are dropped and noted.
void add_message_ids(ParsedMessage& msg, std::string_view value, std::vector<std::string>& ids,
                     std::unordered_set<std::string>& seen) {
  for (auto& id : bracketed(value)) {
    if (!valid_msg_id(id)) {
      note(msg, "an invalid Message-ID was dropped");
      continue;
    }
    if (seen.insert(id).second) ids.push_back(std::move(id));
  }
}

// Only the first and the last ids are kept (cap_thread_ids), so a huge
// References field is cut to its head and tail before it is tokenised: 50 MB
// of ids cost 12 s and 580 MB when every one was validated and hashed first.
// A cut inside an id is harmless: bracketed() skips what has no "<".
std::string_view thread_id_window(ParsedMessage& msg, std::string_view value, std::string& buffer) {
  constexpr std::size_t kHead = 16 * 1024, kTail = 64 * 1024;
  if (value.size() <= kHead + kTail) return value;
  buffer.assign(value.substr(0, kHead));
  buffer += ' ';
  buffer.append(value.substr(value.size() - kTail));
  note(msg, "too many referenced Message-IDs; the first and the last kept");
  return buffer;
}

void cap_thread_ids(ParsedMessage& msg, std::vector<std::string>& ids) {
  if (ids.size() <= kMaxThreadIds) return;
  ids.erase(ids.begin() + 1, ids.end() - static_cast<std::ptrdiff_t>(kMaxThreadIds - 1));
  note(msg, "too many referenced Message-IDs; the first and the last kept");
}

struct Mailbox {
  std::string address;
  std::string name;
};

// Parses an address list with libetpan; falls back to <...> or bare words.
// Only addresses that pass valid_addr_spec() come out; the rest are noted.
std::vector<Mailbox> addresses(ParsedMessage& msg, std::string_view value) {
  std::vector<Mailbox> out;
  bool dropped = false;
  auto add = [&](std::string address, std::string name) {
    address = trim(address);
    if (valid_addr_spec(address)) out.push_back({std::move(address), std::move(name)});
    else dropped = true;
  };
  // Only the first addresses of a huge list are parsed: libetpan's list of
  // millions would cost far more memory than the header's own bytes.
  std::size_t commas = 0;
  for (auto i = value.find(','); i != std::string_view::npos; i = value.find(',', i + 1))
    if (++commas == kMaxAddresses) {
      value = value.substr(0, i);
      note(msg, "too many addresses in a header field; the first kept");
      break;
    }
  std::string v(value);
  std::size_t idx = 0;
  mailimf_address_list* list = nullptr;
  if (shallow_comments(v) && mailimf_address_list_parse(v.c_str(), v.size(), &idx, &list) == MAILIMF_NO_ERROR && list) {
    std::unique_ptr<mailimf_address_list, void (*)(mailimf_address_list*)> owner(list, mailimf_address_list_free);
    auto add_mb = [&](mailimf_mailbox* mb) {
      if (mb && mb->mb_addr_spec)
        add(mb->mb_addr_spec, mb->mb_display_name ? decode_header_words(mb->mb_display_name) : "");
    };
    for (clistiter* it = clist_begin(list->ad_list); it; it = clist_next(it)) {
      auto* a = static_cast<mailimf_address*>(clist_content(it));
      if (a->ad_type == MAILIMF_ADDRESS_MAILBOX) {
        add_mb(a->ad_data.ad_mailbox);
      } else if (a->ad_data.ad_group && a->ad_data.ad_group->grp_mb_list) {
        for (clistiter* g = clist_begin(a->ad_data.ad_group->grp_mb_list->mb_list); g; g = clist_next(g))
          add_mb(static_cast<mailimf_mailbox*>(clist_content(g)));
      }
    }
  }
  if (out.empty()) {
    // Broken syntax: take what looks like an address, if it is one.
    for (auto& item : bracketed(value))
      if (item.find('@') != std::string::npos) add(item, "");
    if (out.empty()) {
      std::string t = trim(value);
      if (t.find('@') != std::string::npos && t.find_first_of(" \t,;<>") == std::string::npos) add(t, "");
    }
  }
  if (dropped) note(msg, "an invalid address was dropped");
  return out;
}

// A Delivered-To or X-Original-To value: one address, or nothing.
void add_envelope_address(ParsedMessage& msg, std::string_view value, std::vector<std::string>& to) {
  std::string a = strip_angles(value);
  if (valid_addr_spec(a)) to.push_back(std::move(a));
  else note(msg, "an invalid address was dropped");
}

std::optional<std::int64_t> parse_date(std::string_view value) {
  std::string v(value);
  if (!shallow_comments(v)) return std::nullopt;
  std::size_t idx = 0;
  mailimf_date_time* dt = nullptr;
  if (mailimf_date_time_parse(v.c_str(), v.size(), &idx, &dt) != MAILIMF_NO_ERROR || !dt) return std::nullopt;
  std::tm tm{};
  tm.tm_year = dt->dt_year - 1900;
  tm.tm_mon = dt->dt_month - 1;
  tm.tm_mday = dt->dt_day;
  tm.tm_hour = dt->dt_hour;
  tm.tm_min = dt->dt_min;
  tm.tm_sec = dt->dt_sec;
  int zone = dt->dt_zone;  // e.g. -0130
  mailimf_date_time_free(dt);
  if (tm.tm_year < 0 || tm.tm_year > 8000 || tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31)
    return std::nullopt;
  // libetpan hands over whatever digits the sender wrote: a zone of
  // -1908874300 overflowed the offset (found by fuzzing, UBSan).
  if (zone < -9959 || zone > 9959 || tm.tm_hour < 0 || tm.tm_hour > 23 || tm.tm_min < 0 || tm.tm_min > 59 ||
      tm.tm_sec < 0 || tm.tm_sec > 60)
    return std::nullopt;
  std::int64_t t = timegm(&tm);
  std::int64_t offset = static_cast<std::int64_t>(zone / 100) * 3600 + static_cast<std::int64_t>(zone % 100) * 60;
  return t - offset;
}

// --- body selection ------------------------------------------------------------

struct TextBlock {
  std::string text;
  bool encrypted;
};

bool is_attachment(const MimePart& p) { return p.disposition == "attachment"; }

bool is_pgp_control(const MimePart& p) {
  return p.type == "application" && (p.subtype == "pgp-signature" || p.subtype == "pgp-encrypted");
}

std::string part_text(const MimePart& p) {
  std::string text = to_utf8(p.body, p.charset);
  if (p.subtype == "html") text = html_to_text(text);
  return text;
}

// The bytes an attachment stands for: a message or multipart as written,
// any other part transfer-decoded.
std::string_view attachment_bytes(const MimePart& p) {
  return p.type == "message" || p.type == "multipart" ? p.raw_body() : std::string_view(p.body);
}

// Lists `p` as an attachment of `msg`; its bytes go to `out` when asked for.
void add_attachment(ParsedMessage& msg, const MimePart& p, std::vector<std::string_view>* out) {
  if (out) out->push_back(attachment_bytes(p));
  Attachment a;
  a.content_type = p.type + "/" + p.subtype;
  a.filename = p.filename;
  std::string_view bytes = attachment_bytes(p);
  if (a.filename.empty() && p.type == "message" && !p.children.empty()) {
    // A forwarded message: name it after its subject.
    std::string subject;
    auto enclosed = parse_header_block(p.raw_body());
    for (const auto& list : {enclosed, p.children.front().headers})
      for (const auto& [k, v] : list)
        if (subject.empty() && iequals(k, "subject")) subject = decode_header_words(v);
    a.filename = (subject.empty() ? std::string("message") : sanitize_utf8(subject)) + ".eml";
  }
  a.size = bytes.size();
  a.sha256 = sha256_hex(bytes);
  a.encrypted = p.encrypted;
  a.is_signed = p.is_signed;
  msg.attachments.push_back(std::move(a));
}

void collect(ParsedMessage& msg, const MimePart& p, std::vector<TextBlock>& blocks, bool& any_enc, bool& any_plain,
             std::vector<std::string_view>* bytes);

void note_leaf(const MimePart& p, bool& any_enc, bool& any_plain) {
  if (is_pgp_control(p)) return;
  (p.encrypted ? any_enc : any_plain) = true;
}

// The best alternative: text/plain, else the richest other we can show.
const MimePart* choose_alternative(const MimePart& p) {
  const MimePart* best = nullptr;
  for (const auto& c : p.children)
    if (c.is("text", "plain")) best = &c;
  if (best) return best;
  for (const auto& c : p.children)
    if (c.type == "multipart") return &c;
  for (const auto& c : p.children)
    if (c.is("text", "html")) return &c;
  return p.children.empty() ? nullptr : &p.children.front();
}

void collect(ParsedMessage& msg, const MimePart& p, std::vector<TextBlock>& blocks, bool& any_enc, bool& any_plain,
             std::vector<std::string_view>* bytes) {
  if (p.type == "multipart") {
    if (p.subtype == "alternative") {
      if (const MimePart* best = choose_alternative(p)) collect(msg, *best, blocks, any_enc, any_plain, bytes);
      return;
    }
    if (p.subtype == "encrypted") {
      // Not decrypted: the ciphertext is listed, its control part is not.
      for (const auto& c : p.children)
        if (!is_pgp_control(c)) {
          add_attachment(msg, c, bytes);
          note_leaf(c, any_enc, any_plain);
        }
      return;
    }
    for (const auto& c : p.children) collect(msg, c, blocks, any_enc, any_plain, bytes);
    return;
  }
  if (p.type == "message" && !p.children.empty() && p.subtype == "rfc822") {
    add_attachment(msg, p, bytes);
    note_leaf(p, any_enc, any_plain);
    return;
  }
  note_leaf(p, any_enc, any_plain);
  if (is_pgp_control(p)) return;
  if (p.type == "text" && (p.subtype == "plain" || p.subtype == "html") && !is_attachment(p)) {
    blocks.push_back({part_text(p), p.encrypted});
    return;
  }
  add_attachment(msg, p, bytes);
}


// One header field into the message model.
void header_field(ParsedMessage& msg, const std::string& n, const std::string& value, std::vector<std::string>& seen,
                  std::unordered_set<std::string>& ids_seen, std::unordered_set<std::string>& refs_seen) {
  // The first of each of these counts; later copies are ignored.
  static const std::vector<std::string> once = {"from", "to", "cc", "reply-to", "subject", "date", "message-id"};
  if (std::find(once.begin(), once.end(), n) != once.end()) {
    if (std::find(seen.begin(), seen.end(), n) != seen.end()) return;
    seen.push_back(n);
  }
  if (n == "from") {
    auto list = addresses(msg, value);
    if (!list.empty()) {
      msg.from = list.front().address;
      msg.from_name = list.front().name;
    }
  } else if (n == "to") {
    for (auto& a : addresses(msg, value)) msg.to.push_back(a.address);
  } else if (n == "cc") {
    for (auto& a : addresses(msg, value)) msg.cc.push_back(a.address);
  } else if (n == "reply-to") {
    auto list = addresses(msg, value);
    if (!list.empty()) msg.reply_to = list.front().address;
  } else if (n == "sender") {
    auto list = addresses(msg, value);
    if (!list.empty()) msg.sender = list.front().address;
  } else if (n == "delivered-to") {
    add_envelope_address(msg, value, msg.delivered_to);
  } else if (n == "x-original-to") {
    add_envelope_address(msg, value, msg.x_original_to);
  } else if (n == "subject") {
    msg.subject = decode_header_words(value);
  } else if (n == "date") {
    msg.date = parse_date(value);
  } else if (n == "message-id") {
    std::vector<std::string> ids;
    std::unordered_set<std::string> none;
    add_message_ids(msg, value, ids, none);
    if (!ids.empty()) msg.message_id = ids.front();
  } else if (n == "in-reply-to") {
    std::string cut;
    add_message_ids(msg, thread_id_window(msg, value, cut), msg.in_reply_to, ids_seen);
  } else if (n == "references") {
    std::string cut;
    add_message_ids(msg, thread_id_window(msg, value, cut), msg.references, refs_seen);
  } else if (n == "auto-submitted") {
    msg.auto_submitted = sanitize_utf8(to_lower(trim(value.substr(0, value.find(';')))));
  } else if (n == "precedence") {
    msg.precedence = sanitize_utf8(to_lower(trim(value)));
  } else if (n == "list-id") {
    msg.list_id = sanitize_utf8(value);
  } else if (n == "autocrypt") {
    msg.autocrypt = sanitize_utf8(value);
  } else if (n == "x-cased-origin") {
    msg.cased_mark = sanitize_utf8(value);
  }
}

void header_fields(ParsedMessage& msg, const Fields& headers) {
  std::vector<std::string> seen;
  std::unordered_set<std::string> ids_seen, refs_seen;
  for (const auto& [name, value] : headers) header_field(msg, to_lower(name), value, seen, ids_seen, refs_seen);
  cap_thread_ids(msg, msg.in_reply_to);
  cap_thread_ids(msg, msg.references);
  // Subjects are one line: folding whitespace and control characters go.
  for (char& c : msg.subject)
    if (c == '\r' || c == '\n' || c == '\t') c = ' ';
}

}  // namespace

MimePart parse_entity(std::string_view raw) {
  MimePart root;
  bool malformed = false;
  std::vector<std::string> problems;
  build_tree(root, std::make_shared<const std::string>(raw), malformed, problems);
  return root;
}

void extract_content(ParsedMessage& msg) {
  msg.body.clear();
  msg.attachments.clear();
  std::vector<TextBlock> blocks;
  bool any_enc = false, any_plain = false;
  collect(msg, msg.root, blocks, any_enc, any_plain, nullptr);
  msg.encrypted = any_enc && !any_plain;
  msg.mixed = any_enc && any_plain;
  bool label = std::any_of(blocks.begin(), blocks.end(), [](auto& b) { return b.encrypted; }) &&
               std::any_of(blocks.begin(), blocks.end(), [](auto& b) { return !b.encrypted; });
  if (blocks.size() == 1 && !label) {
    msg.body = std::move(blocks.front().text);  // the common case: no second copy of a large body
    return;
  }
  for (auto& b : blocks) {
    if (!msg.body.empty() && msg.body.back() != '\n') msg.body += '\n';
    if (!msg.body.empty()) msg.body += '\n';
    // Never glue text from inside and outside the encryption without saying so.
    if (label) msg.body += b.encrypted ? "[encrypted part]\n" : "[UNENCRYPTED part]\n";
    msg.body += b.text;
  }
}


std::vector<std::pair<Attachment, std::string_view>> attachment_parts(const MimePart& root) {
  ParsedMessage listed;
  std::vector<TextBlock> blocks;
  std::vector<std::string_view> bytes;
  bool any_enc = false, any_plain = false;
  collect(listed, root, blocks, any_enc, any_plain, &bytes);
  std::vector<std::pair<Attachment, std::string_view>> out;
  for (std::size_t i = 0; i < listed.attachments.size() && i < bytes.size(); ++i)
    out.emplace_back(std::move(listed.attachments[i]), bytes[i]);
  return out;
}

ParsedMessage parse_message(std::string_view raw) { return parse_message(std::make_shared<const std::string>(raw)); }

ParsedMessage parse_message(const std::shared_ptr<const std::string>& source) {
  std::string_view raw = *source;
  ParsedMessage msg;
  try {
    build_tree(msg.root, source, msg.malformed, msg.problems);
    auto headers = parse_header_block(raw);
    msg.root.headers = headers;
    if (headers.empty()) note(msg, "no header fields");
    header_fields(msg, headers);
    extract_content(msg);
  } catch (const std::bad_alloc&) {
    throw;
  } catch (const std::exception&) {
    msg.malformed = true;
    msg.problems.push_back("parser error; stored raw");
    msg.body = sanitize_utf8(std::string(raw));
  }
  return msg;
}

}  // namespace cased
