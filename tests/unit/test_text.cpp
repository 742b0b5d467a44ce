#include <catch2/catch.hpp>

#include "core/text.hpp"
#include "core/util.hpp"

using namespace cased;

TEST_CASE("valid_utf8 keeps well-formed text and replaces every ill-formed sequence", "[text]") {
  CHECK(valid_utf8("plain ascii") == "plain ascii");
  CHECK(valid_utf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x94\x92") == "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x94\x92");
  CHECK(valid_utf8("<\xff@x>") == "<\uFFFD@x>");
  CHECK(valid_utf8("\xC0\xAF") == "\uFFFD\uFFFD");          // overlong '/'
  CHECK(valid_utf8("\xED\xA0\x80") == "\uFFFD\uFFFD\uFFFD");  // a surrogate
  CHECK(valid_utf8("\xF4\x90\x80\x80") == "\uFFFD\uFFFD\uFFFD\uFFFD");  // past U+10FFFF
  CHECK(valid_utf8("ab\xE2\x82") == "ab\uFFFD\uFFFD");      // truncated at the end
  CHECK(is_valid_utf8("caf\xC3\xA9"));
  CHECK_FALSE(is_valid_utf8("\x80"));
}

TEST_CASE("display_safe makes C0, DEL, C1 and bidi controls visible and inert", "[text]") {
  CHECK(display_safe("\x1b" "c reset") == "^[c reset");
  CHECK(display_safe("a\x7f" "b") == "a^?b");
  CHECK(display_safe("\xC2\x9B" "31m") == "<U+009B>31m");        // CSI
  CHECK(display_safe("\xC2\x9D" "0;x\x07") == "<U+009D>0;x^G");  // OSC ... BEL
  CHECK(display_safe("evil\xE2\x80\xAE" "gpj.exe") == "evil<U+202E>gpj.exe");
  CHECK(display_safe("\xE2\x81\xA6x\xE2\x81\xA9") == "<U+2066>x<U+2069>");
  CHECK(display_safe("line\nnext") == "line^Jnext");
  CHECK(display_safe("line\r\nnext\ttab", true) == "line\nnext\ttab");
  CHECK(display_safe("bare\rCR", true) == "bare^MCR");
  CHECK(display_safe("\xff", true) == "\uFFFD");
  CHECK(display_safe("caf\xC3\xA9") == "caf\xC3\xA9");
}

TEST_CASE("clip cuts sanitized text by code points", "[text]") {
  CHECK(clip("\x1b[2Jhello", 100) == "^[[2Jhello");
  CHECK(clip("a\tb\nc", 10) == "a b c");
  CHECK(clip("abcdef", 4) == "abc\u2026");
  CHECK(clip("\xC2\x9B" "x", 100) == "<U+009B>x");
}
