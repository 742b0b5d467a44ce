// The MIME entity tree, built level by level without recursion: our own
// header-block and boundary scan finds each entity's bytes, libetpan parses
// the MIME header fields of one entity at a time (mailmime_content_parse,
// mailmime_encoding_parse, mailmime_disposition_parse: none of them recurse)
// and undoes transfer encodings. libetpan's own mailmime_parse recurses once
// per nesting level with no limit, so hostile nesting never reaches it.
// Nesting and part count are bounded before any work is done on the excess:
// what lies beyond the limits is kept as one opaque part, flagged.
#include <libetpan/libetpan.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <map>
#include <memory>

#include "mail/mime.hpp"
#include "mail/mime_internal.hpp"
#include "core/util.hpp"

namespace cased::mime_detail {

bool shallow_comments(std::string_view value) {
  int depth = 0;
  for (char c : value) {
    if (c == '(' && ++depth > kMaxCommentDepth) return false;
    if (c == ')' && depth > 0) --depth;
  }
  return true;
}

Fields parse_header_block(std::string_view raw) {
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


namespace {

std::string from_chars(const char* s) { return s ? std::string(s) : std::string(); }

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


// --- one entity ----------------------------------------------------------------

// Parameters read per field: RFC 2231 continuations of a long file name
// need a few dozen; merging them is quadratic in their number.
constexpr std::size_t kMaxParams = 256;

template <typename T, void (*Free)(T*)>
struct Freer {
  void operator()(T* p) const { Free(p); }
};
using ContentPtr = std::unique_ptr<mailmime_content, Freer<mailmime_content, mailmime_content_free>>;
using MechanismPtr = std::unique_ptr<mailmime_mechanism, Freer<mailmime_mechanism, mailmime_mechanism_free>>;
using DispositionPtr = std::unique_ptr<mailmime_disposition, Freer<mailmime_disposition, mailmime_disposition_free>>;

// Runs one of libetpan's field-value parsers on `value`; null when it fails
// or when the value nests comments deeper than anyone writes them.
template <typename Ptr, typename Parse>
Ptr parse_value(const std::string& value, Parse parse) {
  if (value.empty() || !shallow_comments(value)) return Ptr();
  std::size_t idx = 0;
  typename Ptr::pointer out = nullptr;
  if (parse(value.c_str(), value.size(), &idx, &out) != MAILIMF_NO_ERROR) return Ptr();
  return Ptr(out);
}

// Length of the header block at the start of an entity, with the empty line
// that ends it. Like libetpan, the block ends at the first line that is not a
// field or a continuation; an entity that starts with such a line has none.
std::size_t header_length(std::string_view e) {
  std::size_t pos = 0;
  while (pos < e.size()) {
    std::size_t eol = e.find('\n', pos);
    std::size_t next = eol == std::string_view::npos ? e.size() : eol + 1;
    std::string_view line = e.substr(pos, next - pos);
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
    if (line.empty()) return next;
    if (line.front() == ' ' || line.front() == '\t') {
      if (pos == 0) return 0;
    } else {
      auto colon = line.find(':');
      if (colon == std::string_view::npos || colon == 0) return pos;
    }
    pos = next;
  }
  return e.size();
}

struct Span {
  std::size_t offset = 0, length = 0;
};

// The body parts of a multipart body (RFC 2046 §5.1.1): a delimiter is
// "--boundary" at the start of a line followed by optional white space, and
// the line break before it belongs to it; "--boundary--" closes. At most
// `max_parts` spans; `rest` is then where the parts not returned begin.
std::vector<Span> split_multipart(std::string_view body, const std::string& boundary, std::size_t max_parts,
                                  std::optional<std::size_t>& rest) {
  std::vector<Span> parts;
  const std::string dash = "--" + boundary;
  std::optional<std::size_t> open;  // start of the part being read
  for (std::size_t d = body.find(dash); d != std::string_view::npos; d = body.find(dash, d + 1)) {
    if (d > 0 && body[d - 1] != '\n') continue;
    std::size_t after = d + dash.size();
    bool close = body.substr(after, 2) == "--";
    std::size_t eol = body.find('\n', after);
    std::size_t line_end = eol == std::string_view::npos ? body.size() : eol + 1;
    if (!close) {
      std::string_view padding = body.substr(after, line_end - after);
      if (padding.find_first_not_of(" \t\r\n") != std::string_view::npos) continue;  // "--boundaryX" is text
    }
    if (open) {
      std::size_t end = d;
      if (end > *open && body[end - 1] == '\n') --end;
      if (end > *open && body[end - 1] == '\r') --end;
      parts.push_back({*open, end - *open});
      open.reset();
    }
    if (close) return parts;
    if (parts.size() == max_parts) {
      rest = line_end;
      return parts;
    }
    open = line_end;
  }
  if (open) parts.push_back({*open, body.size() - *open});  // no close delimiter: the last part runs to the end
  return parts;
}

struct Task {
  MimePart* part;
  Span span;
  int depth;
  bool digest_child;  // default type message/rfc822 (RFC 2046 §5.1.5)
};

class TreeBuilder {
 public:
  TreeBuilder(const std::shared_ptr<const std::string>& source, bool& malformed, std::vector<std::string>& problems,
              const TreeLimits& limits)
      : source_(source), malformed_(malformed), problems_(problems), limits_(limits) {}

  void run(MimePart& root) {
    std::vector<Task> work{{&root, {0, source_->size()}, 0, false}};
    parts_ = 1;
    while (!work.empty()) {
      Task t = work.back();
      work.pop_back();
      entity(t, work);
    }
  }

 private:
  std::string_view bytes(Span s) const { return std::string_view(*source_).substr(s.offset, s.length); }
  SourceSpan span(Span s) const { return SourceSpan(source_, s.offset, s.length); }

  void problem(const std::string& what) {
    malformed_ = true;
    if (std::find(problems_.begin(), problems_.end(), what) == problems_.end()) problems_.push_back(what);
  }

  // Bytes kept whole and unparsed: beyond the nesting or part limits.
  void opaque(MimePart& p, Span s, const char* why) {
    problem(why);
    p.type = "application";
    p.subtype = "octet-stream";
    p.broken = true;
    p.raw_span = span(s);
    p.raw_body_span = span(s);
    p.body = std::string(bytes(s));
  }

  void entity(const Task& t, std::vector<Task>& work);
  void header_fields(MimePart& p, bool digest_child, int& encoding);
  void multipart(const Task& t, Span body, std::vector<Task>& work);

  std::shared_ptr<const std::string> source_;
  bool& malformed_;
  std::vector<std::string>& problems_;
  TreeLimits limits_;
  std::size_t parts_ = 0;
};

// Type, parameters, transfer encoding and disposition from the entity's own fields.
void TreeBuilder::header_fields(MimePart& p, bool digest_child, int& encoding) {
  Fields raw_params, disp_params;
  auto content = parse_value<ContentPtr>(p.header("content-type"), mailmime_content_parse);
  if (content) {
    bool known = true;
    p.type = sanitize_utf8(type_name(content->ct_type, known));
    p.subtype = sanitize_utf8(to_lower(from_chars(content->ct_subtype)));
    for (clistiter* it = clist_begin(content->ct_parameters); it; it = clist_next(it)) {
      auto* param = static_cast<mailmime_parameter*>(clist_content(it));
      if (param->pa_name && raw_params.size() < kMaxParams) raw_params.emplace_back(param->pa_name, from_chars(param->pa_value));
    }
  } else if (digest_child) {
    p.type = "message";
    p.subtype = "rfc822";
  }
  if (p.subtype.empty()) p.subtype = p.type == "text" ? "plain" : "octet-stream";
  if (auto mech = parse_value<MechanismPtr>(p.header("content-transfer-encoding"), mailmime_encoding_parse))
    encoding = mech->enc_type;
  if (auto d = parse_value<DispositionPtr>(p.header("content-disposition"), mailmime_disposition_parse)) {
    if (d->dsp_type)
      p.disposition = d->dsp_type->dsp_type == MAILMIME_DISPOSITION_TYPE_ATTACHMENT ? "attachment"
                      : d->dsp_type->dsp_type == MAILMIME_DISPOSITION_TYPE_INLINE   ? "inline"
                                                                                      : "";
    for (clistiter* pi = clist_begin(d->dsp_parms); pi; pi = clist_next(pi)) {
      auto* parm = static_cast<mailmime_disposition_parm*>(clist_content(pi));
      if (disp_params.size() >= kMaxParams) break;
      if (parm->pa_type == MAILMIME_DISPOSITION_PARM_FILENAME)
        disp_params.emplace_back("filename", from_chars(parm->pa_data.pa_filename));
      else if (parm->pa_type == MAILMIME_DISPOSITION_PARM_PARAMETER && parm->pa_data.pa_parameter &&
               parm->pa_data.pa_parameter->pa_name)
        disp_params.emplace_back(parm->pa_data.pa_parameter->pa_name, from_chars(parm->pa_data.pa_parameter->pa_value));
    }
  }
  p.params = merge_rfc2231(raw_params);
  auto dparams = merge_rfc2231(disp_params);
  p.charset = sanitize_utf8(to_lower(p.param("charset")));
  std::string filename;
  for (const auto& [k, v] : dparams)
    if (k == "filename") filename = v;
  if (filename.empty()) filename = p.param("name");
  p.filename = sanitize_utf8(decode_header_words(filename));
}

void TreeBuilder::entity(const Task& t, std::vector<Task>& work) {
  MimePart& p = *t.part;
  std::string_view e = bytes(t.span);
  std::size_t hlen = header_length(e);
  Span body{t.span.offset + hlen, t.span.length - hlen};
  p.raw_span = span(t.span);
  p.raw_body_span = span(body);
  p.headers = parse_header_block(e.substr(0, hlen));
  int encoding = MAILMIME_MECHANISM_8BIT;
  header_fields(p, t.digest_child, encoding);
  if (t.depth >= limits_.max_depth) {
    problem("MIME nesting too deep; inner parts kept raw");
    p.type = "application";
    p.subtype = "octet-stream";
    p.broken = true;
    p.body = std::string(e);
    return;
  }
  if (p.type == "multipart" && !p.param("boundary").empty()) return multipart(t, body, work);
  bool encoded = encoding == MAILMIME_MECHANISM_BASE64 || encoding == MAILMIME_MECHANISM_QUOTED_PRINTABLE;
  if (p.is("message", "rfc822") && !encoded) {
    p.children.resize(1);
    if (parts_ >= limits_.max_parts) return opaque(p.children.front(), body, "too many MIME parts; the rest kept raw");
    ++parts_;
    work.push_back({&p.children.front(), body, t.depth + 1, false});
    return;
  }
  bool broken = false;
  std::string_view raw_body = bytes(body);
  p.body = transfer_decode(raw_body.data(), raw_body.size(), encoding, broken);
  if (broken) {
    p.broken = true;
    problem("a part's transfer encoding is broken; shown undecoded");
  }
}

void TreeBuilder::multipart(const Task& t, Span body, std::vector<Task>& work) {
  MimePart& p = *t.part;
  std::string_view text = bytes(body);
  std::optional<std::size_t> rest;
  std::size_t room = parts_ < limits_.max_parts ? limits_.max_parts - parts_ : 0;
  auto spans = split_multipart(text, p.param("boundary"), room, rest);
  if (spans.empty() && !rest) {
    // The parts cannot be found: show the body as text rather than guess.
    problem("multipart without its boundary; shown as text");
    p.type = "text";
    p.subtype = "plain";
    p.broken = true;
    p.body = std::string(text);
    return;
  }
  parts_ += spans.size();
  p.children.resize(spans.size() + (rest ? 1 : 0));
  if (rest) {
    ++parts_;
    opaque(p.children.back(), {body.offset + *rest, body.length - *rest}, "too many MIME parts; the rest kept raw");
  }
  bool digest = p.subtype == "digest";
  // Pushed last to first, so that parts are filled in document order.
  for (std::size_t i = spans.size(); i-- > 0;)
    work.push_back({&p.children[i], {body.offset + spans[i].offset, spans[i].length}, t.depth + 1, digest});
}

}  // namespace

void build_tree(MimePart& root, const std::shared_ptr<const std::string>& source, bool& malformed,
                std::vector<std::string>& problems, const TreeLimits& limits) {
  TreeBuilder(source, malformed, problems, limits).run(root);
}

}  // namespace cased::mime_detail
