// Pieces shared by the MIME parser's files (mime.cpp: header fields and the
// choice of the body; mime_tree.cpp: the entity tree; mime_text.cpp: charsets
// and HTML). Not for use outside them.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mail/message.hpp"

namespace cased::mime_detail {

using Fields = std::vector<std::pair<std::string, std::string>>;

// Valid UTF-8 without NUL: what sanitize_utf8 leaves unchanged.
bool clean_utf8(std::string_view s);
// Keeps valid UTF-8, replaces everything else (and NUL) with U+FFFD.
std::string sanitize_utf8(std::string_view s);
// Undeclared or unknown 8-bit text: UTF-8 if it is valid, else windows-1252.
std::string guess_to_utf8(std::string_view s);
void append_code_point(std::string& out, unsigned cp);

// Field values nesting comments deeper than this are not given to libetpan,
// whose comment parser recurses once per level.
constexpr int kMaxCommentDepth = 32;
bool shallow_comments(std::string_view value);

// The header block of an entity, unfolded, in order (stops at the empty line).
Fields parse_header_block(std::string_view raw);

struct TreeLimits {
  int max_depth = 32;          // nesting beyond this is kept as one opaque part
  std::size_t max_parts = 1000; // parts beyond this are kept as one opaque part
};

// Builds the MIME tree of the entity source[offset, offset + length) into
// `root`, level by level (no recursion, whatever the nesting). Spans refer to
// `source`. Sets `malformed` and adds to `problems` when it had to guess or stop.
void build_tree(MimePart& root, const std::shared_ptr<const std::string>& source, bool& malformed,
                std::vector<std::string>& problems, const TreeLimits& limits = {});

}  // namespace cased::mime_detail
