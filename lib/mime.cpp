// MIME with libetpan: mailmime_parse gives the tree and the exact byte span
// of every entity (what multipart/signed needs), mailmime_part_parse undoes
// transfer encodings, mailimf gives typed header fields, and
// mailmime_encoded_phrase_parse decodes RFC 2047 words. RFC 2231 parameter
// continuations, charset conversion (iconv) and the choice of the body are ours.
#include "mime.hpp"

#include <iconv.h>
#include <libetpan/libetpan.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>

#include "threading.hpp"
#include "util.hpp"

namespace cased {

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

constexpr int kMaxDepth = 32;  // nesting beyond this is flattened (and flagged)

struct MimeFree {
  void operator()(mailmime* m) const { mailmime_free(m); }
};
struct MimeFieldsFree {
  void operator()(mailmime_fields* f) const { mailmime_fields_free(f); }
};

// --- UTF-8 -----------------------------------------------------------------

// Length of the valid UTF-8 sequence at s[i], or 0.
std::size_t utf8_seq(std::string_view s, std::size_t i) {
  auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return 1;
  std::size_t n = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k)
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
  unsigned cp = n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
  for (std::size_t k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
      (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  return n;
}

// Length of the run from i of ASCII bytes other than NUL, eight at a time:
// most mail text is exactly that and needs no per-character work.
std::size_t plain_ascii_run(std::string_view s, std::size_t i) {
  const std::size_t start = i;
  constexpr std::uint64_t high = 0x8080808080808080ull, ones = 0x0101010101010101ull;
  while (i + 8 <= s.size()) {
    std::uint64_t w = 0;
    std::memcpy(&w, s.data() + i, 8);
    // Stop at a byte with its high bit set, or a zero byte.
    if ((w & high) != 0 || ((w - ones) & ~w & high) != 0) break;
    i += 8;
  }
  while (i < s.size() && static_cast<unsigned char>(s[i]) < 0x80 && s[i] != '\0') ++i;
  return i - start;
}

// Valid UTF-8 without NUL: what sanitize_utf8 leaves unchanged.
bool clean_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    if (std::size_t run = plain_ascii_run(s, i)) {
      i += run;
      continue;
    }
    std::size_t n = utf8_seq(s, i);
    if (!n || s[i] == '\0') return false;
    i += n;
  }
  return true;
}

// Keeps valid UTF-8, replaces everything else (and NUL) with U+FFFD.
std::string sanitize_utf8(std::string_view s) {
  if (clean_utf8(s)) return std::string(s);
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    if (std::size_t run = plain_ascii_run(s, i)) {
      out.append(s.substr(i, run));
      i += run;
      continue;
    }
    std::size_t n = utf8_seq(s, i);
    if (!n || s[i] == '\0') {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

std::string windows1252_to_utf8(std::string_view s) {
  // 0x80-0x9F differ from latin-1; the rest maps to the same code point.
  static constexpr unsigned short cp1252[32] = {
      0x20AC, 0xFFFD, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
      0x2039, 0x0152, 0xFFFD, 0x017D, 0xFFFD, 0xFFFD, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
      0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0xFFFD, 0x017E, 0x0178};
  std::string out;
  out.reserve(s.size() + s.size() / 4);
  for (char ch : s) {
    unsigned c = static_cast<unsigned char>(ch);
    if (c >= 0x80 && c < 0xA0) c = cp1252[c - 0x80];
    if (c == 0) c = 0xFFFD;
    if (c < 0x80) {
      out += static_cast<char>(c);
    } else if (c < 0x800) {
      out += static_cast<char>(0xC0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3F));
    } else {
      out += static_cast<char>(0xE0 | (c >> 12));
      out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (c & 0x3F));
    }
  }
  return out;
}

// Undeclared or unknown 8-bit text: UTF-8 if it is valid, else windows-1252.
std::string guess_to_utf8(std::string_view s) {
  if (clean_utf8(s)) return std::string(s);
  return windows1252_to_utf8(s);
}

// --- headers ----------------------------------------------------------------

// The header block of an entity, unfolded, in order.
std::vector<std::pair<std::string, std::string>> parse_header_block(std::string_view raw) {
  std::vector<std::pair<std::string, std::string>> out;
  std::size_t pos = 0;
  std::string name, value;
  auto flush = [&] {
    if (!name.empty()) out.emplace_back(name, trim(value));
    name.clear();
    value.clear();
  };
  while (pos < raw.size()) {
    std::size_t eol = raw.find('\n', pos);
    std::string_view line = raw.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
    pos = eol == std::string_view::npos ? raw.size() : eol + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;  // end of the header
    if (line.front() == ' ' || line.front() == '\t') {
      if (!name.empty()) value += " " + trim(line);
      continue;
    }
    flush();
    auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      if (out.empty()) break;  // not a header at all: the body starts here
      continue;
    }
    name = trim(line.substr(0, colon));
    value = std::string(line.substr(colon + 1));
  }
  flush();
  return out;
}

std::string from_chars(const char* s) { return s ? std::string(s) : std::string(); }

std::string strip_angles(std::string s) {
  s = trim(s);
  if (s.size() >= 2 && s.front() == '<' && s.back() == '>') s = s.substr(1, s.size() - 2);
  return trim(s);
}

// Message-IDs in a header value; tolerates garbage between them.
std::vector<std::string> message_ids(std::string_view value) {
  std::vector<std::string> ids;
  std::size_t pos = 0;
  while ((pos = value.find('<', pos)) != std::string_view::npos) {
    auto end = value.find('>', pos);
    if (end == std::string_view::npos) break;
    std::string id = trim(value.substr(pos + 1, end - pos - 1));
    if (!id.empty() && id.find_first_of(" \t<") == std::string::npos &&
        std::find(ids.begin(), ids.end(), id) == ids.end())
      ids.push_back(id);
    pos = end + 1;
  }
  if (ids.empty()) {
    std::string bare = trim(value);
    if (!bare.empty() && bare.find_first_of(" \t<>") == std::string::npos && bare.find('@') != std::string::npos)
      ids.push_back(bare);
  }
  return ids;
}

struct Mailbox {
  std::string address;
  std::string name;
};

// Parses an address list with libetpan; falls back to <...> or bare words.
std::vector<Mailbox> addresses(std::string_view value) {
  std::vector<Mailbox> out;
  std::string v(value);
  std::size_t idx = 0;
  mailimf_address_list* list = nullptr;
  if (mailimf_address_list_parse(v.c_str(), v.size(), &idx, &list) == MAILIMF_NO_ERROR && list) {
    std::unique_ptr<mailimf_address_list, void (*)(mailimf_address_list*)> owner(list, mailimf_address_list_free);
    auto add = [&](mailimf_mailbox* mb) {
      if (mb && mb->mb_addr_spec)
        out.push_back({trim(mb->mb_addr_spec), mb->mb_display_name ? decode_header_words(mb->mb_display_name) : ""});
    };
    for (clistiter* it = clist_begin(list->ad_list); it; it = clist_next(it)) {
      auto* a = static_cast<mailimf_address*>(clist_content(it));
      if (a->ad_type == MAILIMF_ADDRESS_MAILBOX) {
        add(a->ad_data.ad_mailbox);
      } else if (a->ad_data.ad_group && a->ad_data.ad_group->grp_mb_list) {
        for (clistiter* g = clist_begin(a->ad_data.ad_group->grp_mb_list->mb_list); g; g = clist_next(g))
          add(static_cast<mailimf_mailbox*>(clist_content(g)));
      }
    }
    if (!out.empty()) return out;
  }
  // Broken syntax: take what looks like an address.
  for (const auto& id : message_ids(value))
    if (id.find('@') != std::string::npos) out.push_back({id, ""});
  if (out.empty()) {
    std::string t = trim(value);
    if (t.find('@') != std::string::npos && t.find_first_of(" \t,;") == std::string::npos) out.push_back({t, ""});
  }
  return out;
}

std::optional<std::int64_t> parse_date(std::string_view value) {
  std::string v(value);
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
  std::int64_t t = timegm(&tm);
  int offset = (zone / 100) * 3600 + (zone % 100) * 60;
  return t - offset;
}

// --- parameters (RFC 2045, RFC 2231) -----------------------------------------

std::string percent_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// Merges name*0*, name*1 ... and decodes charset'lang'value.
std::vector<std::pair<std::string, std::string>> merge_rfc2231(
    const std::vector<std::pair<std::string, std::string>>& raw) {
  struct Piece {
    bool encoded;
    std::string value;
  };
  std::map<std::string, std::map<int, Piece>> continued;
  std::vector<std::pair<std::string, std::string>> out;
  std::vector<std::string> order;
  for (const auto& [name, value] : raw) {
    std::string n = to_lower(name);
    auto star = n.find('*');
    if (star == std::string::npos) {
      out.emplace_back(n, value);
      continue;
    }
    std::string base = n.substr(0, star);
    std::string rest = n.substr(star + 1);
    bool encoded = !rest.empty() && rest.back() == '*';
    if (encoded) rest.pop_back();
    int index = 0;
    if (!rest.empty()) {
      if (rest.front() == '*') rest.erase(0, 1);
      try {
        index = std::stoi(rest);
      } catch (const std::exception&) {
        continue;
      }
    } else {
      encoded = true;  // name*=charset''value
    }
    if (!continued.count(base)) order.push_back(base);
    continued[base][index] = {encoded, value};
  }
  for (const auto& base : order) {
    std::string charset, bytes;
    bool first = true;
    for (const auto& [index, piece] : continued[base]) {
      std::string v = piece.value;
      if (piece.encoded) {
        if (first) {
          auto q1 = v.find('\'');
          auto q2 = q1 == std::string::npos ? q1 : v.find('\'', q1 + 1);
          if (q2 != std::string::npos) {
            charset = to_lower(v.substr(0, q1));
            v = v.substr(q2 + 1);
          }
        }
        bytes += percent_decode(v);
      } else {
        bytes += v;
      }
      first = false;
    }
    std::string decoded = charset.empty() ? guess_to_utf8(bytes) : to_utf8(bytes, charset);
    // An RFC 2231 value wins over a plain one of the same name.
    auto it = std::find_if(out.begin(), out.end(), [&](auto& p) { return p.first == base; });
    if (it != out.end()) it->second = decoded;
    else out.emplace_back(base, decoded);
  }
  return out;
}

std::string type_name(mailmime_type* t, bool& known) {
  known = true;
  if (!t) {
    known = false;
    return "text";
  }
  if (t->tp_type == MAILMIME_TYPE_DISCRETE_TYPE && t->tp_data.tp_discrete_type) {
    switch (t->tp_data.tp_discrete_type->dt_type) {
      case MAILMIME_DISCRETE_TYPE_TEXT: return "text";
      case MAILMIME_DISCRETE_TYPE_IMAGE: return "image";
      case MAILMIME_DISCRETE_TYPE_AUDIO: return "audio";
      case MAILMIME_DISCRETE_TYPE_VIDEO: return "video";
      case MAILMIME_DISCRETE_TYPE_APPLICATION: return "application";
      default: return to_lower(from_chars(t->tp_data.tp_discrete_type->dt_extension));
    }
  }
  if (t->tp_type == MAILMIME_TYPE_COMPOSITE_TYPE && t->tp_data.tp_composite_type) {
    switch (t->tp_data.tp_composite_type->ct_type) {
      case MAILMIME_COMPOSITE_TYPE_MESSAGE: return "message";
      case MAILMIME_COMPOSITE_TYPE_MULTIPART: return "multipart";
      default: return to_lower(from_chars(t->tp_data.tp_composite_type->ct_token));
    }
  }
  known = false;
  return "application";
}

std::string transfer_decode(const char* data, std::size_t len, int encoding, bool& broken) {
  if (encoding != MAILMIME_MECHANISM_BASE64 && encoding != MAILMIME_MECHANISM_QUOTED_PRINTABLE)
    return std::string(data, len);
  if (encoding == MAILMIME_MECHANISM_BASE64) {
    // libetpan skips what is not base64; say so rather than show garbage as if it were fine.
    for (std::size_t i = 0; i < len; ++i) {
      auto c = static_cast<unsigned char>(data[i]);
      if (!(std::isalnum(c) || c == '+' || c == '/' || c == '=' || c == '\r' || c == '\n' || c == ' ' || c == '\t')) {
        broken = true;
        break;
      }
    }
  }
  std::size_t idx = 0;
  char* out = nullptr;
  std::size_t out_len = 0;
  int rc = mailmime_part_parse(data, len, &idx, encoding, &out, &out_len);
  if (rc != MAILIMF_NO_ERROR || !out) {
    broken = true;
    return std::string(data, len);
  }
  std::string decoded(out, out_len);
  mailmime_decoded_part_free(out);
  return decoded;
}

void fill_part(MimePart& p, mailmime* m, int depth, bool& malformed, std::vector<std::string>& problems);

void fill_children(MimePart& p, mailmime* m, int depth, bool& malformed, std::vector<std::string>& problems) {
  if (m->mm_type == MAILMIME_MULTIPLE && m->mm_data.mm_multipart.mm_mp_list) {
    std::string boundary = p.param("boundary");
    std::string_view body = m->mm_body ? std::string_view(m->mm_body->dt_data.dt_text.dt_data,
                                                          m->mm_body->dt_data.dt_text.dt_length)
                                       : std::string_view();
    if (boundary.empty() || body.find("--" + boundary) == std::string_view::npos) {
      // The parts cannot be found: show the body as text rather than guess.
      malformed = true;
      problems.push_back("multipart without its boundary; shown as text");
      p.type = "text";
      p.subtype = "plain";
      p.broken = true;
      p.body = std::string(body);
      return;
    }
    for (clistiter* it = clist_begin(m->mm_data.mm_multipart.mm_mp_list); it; it = clist_next(it)) {
      MimePart child;
      fill_part(child, static_cast<mailmime*>(clist_content(it)), depth + 1, malformed, problems);
      p.children.push_back(std::move(child));
    }
  } else if (m->mm_type == MAILMIME_MESSAGE && m->mm_data.mm_message.mm_msg_mime) {
    MimePart child;
    fill_part(child, m->mm_data.mm_message.mm_msg_mime, depth + 1, malformed, problems);
    p.children.push_back(std::move(child));
  }
}

void fill_part(MimePart& p, mailmime* m, int depth, bool& malformed, std::vector<std::string>& problems) {
  if (m->mm_mime_start) p.raw.assign(m->mm_mime_start, m->mm_length);
  p.headers = parse_header_block(p.raw);
  bool known = true;
  std::vector<std::pair<std::string, std::string>> raw_params;
  if (m->mm_content_type) {
    p.type = type_name(m->mm_content_type->ct_type, known);
    p.subtype = to_lower(from_chars(m->mm_content_type->ct_subtype));
    for (clistiter* it = clist_begin(m->mm_content_type->ct_parameters); it; it = clist_next(it)) {
      auto* param = static_cast<mailmime_parameter*>(clist_content(it));
      if (param->pa_name) raw_params.emplace_back(param->pa_name, from_chars(param->pa_value));
    }
  } else if (m->mm_parent && m->mm_parent->mm_content_type &&
             iequals(from_chars(m->mm_parent->mm_content_type->ct_subtype), "digest")) {
    p.type = "message";  // RFC 2046 §5.1.5: the default in a digest
    p.subtype = "rfc822";
  }
  if (p.subtype.empty()) p.subtype = p.type == "text" ? "plain" : "octet-stream";
  int encoding = MAILMIME_MECHANISM_8BIT;
  std::vector<std::pair<std::string, std::string>> disp_params;
  if (m->mm_mime_fields) {
    for (clistiter* it = clist_begin(m->mm_mime_fields->fld_list); it; it = clist_next(it)) {
      auto* f = static_cast<mailmime_field*>(clist_content(it));
      if (f->fld_type == MAILMIME_FIELD_TRANSFER_ENCODING && f->fld_data.fld_encoding) {
        encoding = f->fld_data.fld_encoding->enc_type;
      } else if (f->fld_type == MAILMIME_FIELD_DISPOSITION && f->fld_data.fld_disposition) {
        auto* d = f->fld_data.fld_disposition;
        if (d->dsp_type)
          p.disposition = d->dsp_type->dsp_type == MAILMIME_DISPOSITION_TYPE_ATTACHMENT ? "attachment"
                          : d->dsp_type->dsp_type == MAILMIME_DISPOSITION_TYPE_INLINE   ? "inline"
                                                                                          : "";
        for (clistiter* pi = clist_begin(d->dsp_parms); pi; pi = clist_next(pi)) {
          auto* parm = static_cast<mailmime_disposition_parm*>(clist_content(pi));
          if (parm->pa_type == MAILMIME_DISPOSITION_PARM_FILENAME)
            disp_params.emplace_back("filename", from_chars(parm->pa_data.pa_filename));
          else if (parm->pa_type == MAILMIME_DISPOSITION_PARM_PARAMETER && parm->pa_data.pa_parameter &&
                   parm->pa_data.pa_parameter->pa_name)
            disp_params.emplace_back(parm->pa_data.pa_parameter->pa_name,
                                     from_chars(parm->pa_data.pa_parameter->pa_value));
        }
      }
    }
  }
  p.params = merge_rfc2231(raw_params);
  auto dparams = merge_rfc2231(disp_params);
  p.charset = to_lower(p.param("charset"));
  std::string filename;
  for (const auto& [k, v] : dparams)
    if (k == "filename") filename = v;
  if (filename.empty()) filename = p.param("name");
  p.filename = sanitize_utf8(decode_header_words(filename));

  if (depth >= kMaxDepth) {
    malformed = true;
    problems.push_back("MIME nesting too deep; inner parts kept raw");
    p.type = "application";
    p.subtype = "octet-stream";
    p.body = p.raw;
    return;
  }
  if (m->mm_type == MAILMIME_SINGLE && m->mm_data.mm_single) {
    mailmime_data* d = m->mm_data.mm_single;
    p.raw_body.assign(d->dt_data.dt_text.dt_data ? d->dt_data.dt_text.dt_data : "", d->dt_data.dt_text.dt_length);
    bool broken = false;
    p.body = transfer_decode(p.raw_body.data(), p.raw_body.size(), encoding, broken);
    if (broken) {
      p.broken = true;
      malformed = true;
      problems.push_back("a part's transfer encoding is broken; shown undecoded");
    }
    return;
  }
  if (m->mm_body) p.raw_body.assign(m->mm_body->dt_data.dt_text.dt_data, m->mm_body->dt_data.dt_text.dt_length);
  fill_children(p, m, depth, malformed, problems);
}

// --- HTML --------------------------------------------------------------------

void append_code_point(std::string& out, unsigned cp) {
  if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
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

void add_attachment(ParsedMessage& msg, const MimePart& p) {
  Attachment a;
  a.content_type = p.type + "/" + p.subtype;
  a.filename = p.filename;
  const std::string& bytes = p.type == "message" || p.type == "multipart" ? p.raw_body : p.body;
  if (a.filename.empty() && p.type == "message" && !p.children.empty()) {
    // A forwarded message: name it after its subject.
    std::string subject;
    auto enclosed = parse_header_block(p.raw_body);
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

void collect(ParsedMessage& msg, const MimePart& p, std::vector<TextBlock>& blocks, bool& any_enc, bool& any_plain);

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

void collect(ParsedMessage& msg, const MimePart& p, std::vector<TextBlock>& blocks, bool& any_enc, bool& any_plain) {
  if (p.type == "multipart") {
    if (p.subtype == "alternative") {
      if (const MimePart* best = choose_alternative(p)) collect(msg, *best, blocks, any_enc, any_plain);
      return;
    }
    if (p.subtype == "encrypted") {
      // Not decrypted: the ciphertext is listed, its control part is not.
      for (const auto& c : p.children)
        if (!is_pgp_control(c)) {
          add_attachment(msg, c);
          note_leaf(c, any_enc, any_plain);
        }
      return;
    }
    for (const auto& c : p.children) collect(msg, c, blocks, any_enc, any_plain);
    return;
  }
  if (p.type == "message" && !p.children.empty() && p.subtype == "rfc822") {
    add_attachment(msg, p);
    note_leaf(p, any_enc, any_plain);
    return;
  }
  note_leaf(p, any_enc, any_plain);
  if (is_pgp_control(p)) return;
  if (p.type == "text" && (p.subtype == "plain" || p.subtype == "html") && !is_attachment(p)) {
    blocks.push_back({part_text(p), p.encrypted});
    return;
  }
  add_attachment(msg, p);
}

}  // namespace

std::string to_utf8(std::string_view bytes, std::string_view charset_in) {
  std::string charset = to_lower(trim(charset_in));
  if (charset.size() >= 2 && charset.front() == '"' && charset.back() == '"') charset = charset.substr(1, charset.size() - 2);
  if (charset.empty() || charset == "us-ascii" || charset == "ascii" || charset == "utf-8" || charset == "utf8" ||
      charset == "unknown-8bit" || charset == "x-unknown") {
    if (clean_utf8(bytes)) return std::string(bytes);  // the common case: one copy
    return sanitize_utf8(guess_to_utf8(bytes));
  }
  if (charset == "iso-8859-1" || charset == "latin1" || charset == "latin-1" || charset == "windows-1252" ||
      charset == "cp1252" || charset == "iso8859-1")
    return sanitize_utf8(windows1252_to_utf8(bytes));
  iconv_t cd = iconv_open("UTF-8", charset.c_str());
  if (cd == reinterpret_cast<iconv_t>(-1)) return sanitize_utf8(guess_to_utf8(bytes));
  std::unique_ptr<void, int (*)(iconv_t)> owner(cd, iconv_close);
  std::string out;
  out.reserve(bytes.size() * 2 + 16);
  std::string in(bytes);
  char* inp = in.data();
  std::size_t inleft = in.size();
  char buf[8192];
  while (inleft > 0) {
    char* outp = buf;
    std::size_t outleft = sizeof buf;
    std::size_t rc = iconv(cd, &inp, &inleft, &outp, &outleft);
    out.append(buf, sizeof buf - outleft);
    if (rc == static_cast<std::size_t>(-1)) {
      if (errno == E2BIG) continue;
      // Invalid or truncated input: mark it and skip one byte.
      out += "\xEF\xBF\xBD";
      ++inp;
      --inleft;
      iconv(cd, nullptr, nullptr, nullptr, nullptr);
    }
  }
  char* outp = buf;
  std::size_t outleft = sizeof buf;
  iconv(cd, nullptr, nullptr, &outp, &outleft);  // flush shift state (ISO-2022-JP)
  out.append(buf, sizeof buf - outleft);
  return sanitize_utf8(out);
}

std::string decode_header_words(std::string_view value) {
  std::string v(value);
  if (v.find("=?") == std::string::npos) return sanitize_utf8(guess_to_utf8(v));
  std::size_t idx = 0;
  char* out = nullptr;
  // Undeclared 8-bit bytes around encoded words: read as latin-1 then checked.
  int rc = mailmime_encoded_phrase_parse("utf-8", v.c_str(), v.size(), &idx, "utf-8", &out);
  if (rc != MAILIMF_NO_ERROR || !out) return sanitize_utf8(guess_to_utf8(v));
  std::string decoded(out);
  free(out);  // NOLINT(cppcoreguidelines-no-malloc): libetpan allocates with malloc
  return sanitize_utf8(decoded);
}

std::string html_to_text(std::string_view html) {
  std::string out;
  out.reserve(html.size() / 2);
  auto newline = [&](int n) {
    while (!out.empty() && out.back() == ' ') out.pop_back();
    int have = 0;
    for (auto it = out.rbegin(); it != out.rend() && *it == '\n'; ++it) ++have;
    if (out.empty()) return;
    for (; have < n; ++have) out += '\n';
  };
  std::size_t i = 0;
  bool space = false;
  while (i < html.size()) {
    char c = html[i];
    if (c == '<') {
      auto end = html.find('>', i);
      if (end == std::string_view::npos) break;
      std::string tag = to_lower(html.substr(i + 1, end - i - 1));
      bool closing = !tag.empty() && tag.front() == '/';
      std::string name = tag.substr(closing ? 1 : 0);
      name = name.substr(0, name.find_first_of(" \t\r\n/"));
      if (!closing && (name == "script" || name == "style" || name == "head" || name == "title")) {
        // Skip the element's content entirely.
        auto close = to_lower(html.substr(end)).find("</" + name);
        i = close == std::string::npos ? html.size() : end + close;
        auto gt = html.find('>', i);
        i = gt == std::string_view::npos ? html.size() : gt + 1;
        continue;
      }
      if (name == "!--") {
        auto close = html.find("-->", i + 4);
        i = close == std::string_view::npos ? html.size() : close + 3;
        continue;
      }
      if (name == "br") newline(1);
      else if (name == "p" || name == "div" || name == "tr" || name == "table" || name == "blockquote" ||
               name == "pre" || (name.size() == 2 && name[0] == 'h' && name[1] >= '1' && name[1] <= '6'))
        newline(closing ? 2 : (name == "div" || name == "tr" ? 1 : 2));
      else if (name == "li" && !closing) {
        newline(1);
        out += "* ";
      } else if ((name == "td" || name == "th") && closing) out += "\t";
      i = end + 1;
      space = false;
      continue;
    }
    if (c == '&') {
      auto semi = html.find(';', i);
      if (semi != std::string_view::npos && semi - i <= 10) {
        std::string ent(html.substr(i + 1, semi - i - 1));
        unsigned cp = 0;
        if (!ent.empty() && ent[0] == '#') {
          try {
            cp = ent.size() > 1 && (ent[1] == 'x' || ent[1] == 'X') ? std::stoul(ent.substr(2), nullptr, 16)
                                                                    : std::stoul(ent.substr(1));
          } catch (const std::exception&) {
            cp = 0xFFFD;
          }
        } else {
          static const std::map<std::string, unsigned> named = {
              {"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}, {"nbsp", ' '},
              {"copy", 0xA9}, {"reg", 0xAE}, {"hellip", 0x2026}, {"mdash", 0x2014}, {"ndash", 0x2013},
              {"rsquo", 0x2019}, {"lsquo", 0x2018}, {"rdquo", 0x201D}, {"ldquo", 0x201C}, {"euro", 0x20AC},
              {"eacute", 0xE9}, {"egrave", 0xE8}, {"agrave", 0xE0}, {"aacute", 0xE1}, {"auml", 0xE4},
              {"ouml", 0xF6}, {"uuml", 0xFC}, {"Auml", 0xC4}, {"Ouml", 0xD6}, {"Uuml", 0xDC}, {"szlig", 0xDF},
              {"ccedil", 0xE7}, {"ntilde", 0xF1}, {"laquo", 0xAB}, {"raquo", 0xBB}, {"middot", 0xB7},
              {"bull", 0x2022}, {"trade", 0x2122}, {"times", 0xD7}, {"deg", 0xB0}, {"shy", 0xAD}};
          auto it = named.find(ent);
          if (it != named.end()) cp = it->second;
        }
        if (cp) {
          append_code_point(out, cp);
          i = semi + 1;
          space = false;
          continue;
        }
      }
    }
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      if (!space && !out.empty() && out.back() != '\n') out += ' ';
      space = true;
      ++i;
      continue;
    }
    out += c;
    space = false;
    ++i;
  }
  while (!out.empty() && (out.back() == ' ' || out.back() == '\n')) out.pop_back();
  if (!out.empty()) out += '\n';
  return sanitize_utf8(out);
}

MimePart parse_entity(std::string_view raw) {
  MimePart root;
  bool malformed = false;
  std::vector<std::string> problems;
  std::size_t idx = 0;
  mailmime* m = nullptr;
  // mailmime_parse needs the header to end; a body-only entity still parses.
  int rc = mailmime_parse(raw.data(), raw.size(), &idx, &m);
  std::unique_ptr<mailmime, MimeFree> owner(m);
  if (rc != MAILIMF_NO_ERROR || !m) {
    root.raw = std::string(raw);
    root.body = std::string(raw);
    root.broken = true;
    return root;
  }
  // The root of mailmime_parse is the message; its body is the entity we want.
  mailmime* body = m->mm_type == MAILMIME_MESSAGE && m->mm_data.mm_message.mm_msg_mime ? m->mm_data.mm_message.mm_msg_mime : m;
  fill_part(root, body, 0, malformed, problems);
  root.raw = std::string(raw);
  root.headers = parse_header_block(raw);
  return root;
}

void extract_content(ParsedMessage& msg) {
  msg.body.clear();
  msg.attachments.clear();
  std::vector<TextBlock> blocks;
  bool any_enc = false, any_plain = false;
  collect(msg, msg.root, blocks, any_enc, any_plain);
  msg.encrypted = any_enc && !any_plain;
  msg.mixed = any_enc && any_plain;
  bool label = std::any_of(blocks.begin(), blocks.end(), [](auto& b) { return b.encrypted; }) &&
               std::any_of(blocks.begin(), blocks.end(), [](auto& b) { return !b.encrypted; });
  for (const auto& b : blocks) {
    if (!msg.body.empty() && msg.body.back() != '\n') msg.body += '\n';
    if (!msg.body.empty()) msg.body += '\n';
    // Never glue text from inside and outside the encryption without saying so.
    if (label) msg.body += b.encrypted ? "[encrypted part]\n" : "[UNENCRYPTED part]\n";
    msg.body += b.text;
  }
}

ParsedMessage parse_message(std::string_view raw) {
  ParsedMessage msg;
  try {
    std::size_t idx = 0;
    mailmime* m = nullptr;
    int rc = mailmime_parse(raw.data(), raw.size(), &idx, &m);
    std::unique_ptr<mailmime, MimeFree> owner(m);
    auto headers = parse_header_block(raw);
    if (rc != MAILIMF_NO_ERROR || !m) {
      msg.malformed = true;
      msg.problems.push_back("not parseable as MIME; stored raw");
      msg.root.body = std::string(raw);
      msg.root.raw = std::string(raw);
    } else {
      mailmime* body = m->mm_type == MAILMIME_MESSAGE && m->mm_data.mm_message.mm_msg_mime
                           ? m->mm_data.mm_message.mm_msg_mime
                           : m;
      fill_part(msg.root, body, 0, msg.malformed, msg.problems);
      msg.root.raw = std::string(raw);
      msg.root.headers = headers;
    }
    if (headers.empty()) {
      msg.malformed = true;
      msg.problems.push_back("no header fields");
    }
    bool seen_from = false, seen_to = false, seen_cc = false, seen_reply = false, seen_subject = false,
         seen_date = false, seen_id = false;
    for (const auto& [name, value] : headers) {
      std::string n = to_lower(name);
      if (n == "from" && !seen_from) {
        seen_from = true;
        auto list = addresses(value);
        if (!list.empty()) {
          msg.from = list.front().address;
          msg.from_name = list.front().name;
        }
      } else if (n == "to" && !seen_to) {
        seen_to = true;
        for (auto& a : addresses(value)) msg.to.push_back(a.address);
      } else if (n == "cc" && !seen_cc) {
        seen_cc = true;
        for (auto& a : addresses(value)) msg.cc.push_back(a.address);
      } else if (n == "reply-to" && !seen_reply) {
        seen_reply = true;
        auto list = addresses(value);
        if (!list.empty()) msg.reply_to = list.front().address;
      } else if (n == "sender") {
        auto list = addresses(value);
        if (!list.empty()) msg.sender = list.front().address;
      } else if (n == "delivered-to") {
        msg.delivered_to.push_back(strip_angles(value));
      } else if (n == "x-original-to") {
        msg.x_original_to.push_back(strip_angles(value));
      } else if (n == "subject" && !seen_subject) {
        seen_subject = true;
        msg.subject = decode_header_words(value);
      } else if (n == "date" && !seen_date) {
        seen_date = true;
        msg.date = parse_date(value);
      } else if (n == "message-id" && !seen_id) {
        seen_id = true;
        auto ids = message_ids(value);
        if (!ids.empty()) msg.message_id = ids.front();
      } else if (n == "in-reply-to") {
        for (auto& id : message_ids(value)) msg.in_reply_to.push_back(id);
      } else if (n == "references") {
        for (auto& id : message_ids(value)) msg.references.push_back(id);
      } else if (n == "auto-submitted") {
        msg.auto_submitted = to_lower(trim(value.substr(0, value.find(';'))));
      } else if (n == "precedence") {
        msg.precedence = to_lower(trim(value));
      } else if (n == "list-id") {
        msg.list_id = sanitize_utf8(value);
      } else if (n == "autocrypt") {
        msg.autocrypt = value;
      } else if (n == "x-cased-origin") {
        msg.cased_mark = sanitize_utf8(value);
      }
    }
    // Subjects are one line: folding whitespace and control characters go.
    for (char& c : msg.subject)
      if (c == '\r' || c == '\n' || c == '\t') c = ' ';
    msg.from = sanitize_utf8(msg.from);
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
