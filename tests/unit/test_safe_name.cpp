#include <catch2/catch.hpp>

#include <string>

#include "core/safe_name.hpp"
#include "core/text.hpp"

using namespace cased;

namespace {

std::string safe(std::string_view name) { return safe_file_name(name, "attachment-3.1"); }

// Nothing a terminal or a path would act on: no separator, control, escape,
// bidi control, no leading dot or dash, at most kMaxSafeName bytes, and
// display_safe() has nothing to change.
void check_inert(const std::string& s) {
  CHECK(!s.empty());
  CHECK(s.size() <= kMaxSafeName);
  CHECK(s.find('/') == std::string::npos);
  CHECK(s.find('\\') == std::string::npos);
  CHECK(s.front() != '.');
  CHECK(s.front() != '-');
  CHECK(s != "..");
  CHECK(is_valid_utf8(s));
  CHECK(display_safe(s) == s);
}

}  // namespace

TEST_CASE("safe_file_name keeps an ordinary name as it is", "[safe_name]") {
  CHECK(safe("poc.c") == "poc.c");
  CHECK(safe("exploit v2.tar.gz") == "exploit v2.tar.gz");
  CHECK(safe("r\xC3\xA9sum\xC3\xA9.pdf") == "r\xC3\xA9sum\xC3\xA9.pdf");
}

TEST_CASE("safe_file_name keeps only the base name and no leading dots", "[safe_name]") {
  CHECK(safe("../../.bashrc") == "bashrc");
  CHECK(safe("/etc/passwd") == "passwd");
  CHECK(safe("..\\..\\windows\\win.ini") == "win.ini");
  CHECK(safe("a/b\\c.txt") == "c.txt");
  CHECK(safe("dir/") == "attachment-3.1");
  CHECK(safe("-rf") == "rf");
  CHECK(safe("  . hidden ") == "hidden");
  CHECK(safe("trailing...") == "trailing");
}

TEST_CASE("safe_file_name falls back when nothing is left", "[safe_name]") {
  for (auto name : {"", ".", "..", "...", "......", "/", "\\", "../..", " ", "\x1b[31m", "\x01\x02\x7f", "-", "--."})
    CHECK(safe(name) == "attachment-3.1");
}

TEST_CASE("safe_file_name drops escape sequences whole and every control", "[safe_name]") {
  CHECK(safe("\x1b[31mred\x1b[0m.txt") == "red.txt");
  CHECK(safe("\x1b]0;owned\x07name.c") == "name.c");              // OSC ... BEL
  CHECK(safe("\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\.c") == "link.c");  // OSC 8 hyperlink, ST
  CHECK(safe("\xC2\x9B" "2Jclear.c") == "clear.c");              // C1 CSI
  CHECK(safe("\x1b" "cx.c") == "x.c");                           // ESC c: reset
  CHECK(safe("a\tb\nc\rd\x7f.c") == "abcd.c");
  CHECK(safe("evil\xE2\x80\xAE" "gpj.exe") == "evilgpj.exe");    // RIGHT-TO-LEFT OVERRIDE
  CHECK(safe("zero\xE2\x80\x8Bwidth\xEF\xBB\xBF.c") == "zerowidth.c");
  CHECK(safe("line\xE2\x80\xA8sep.c") == "linesep.c");
  CHECK(safe("bad\xff\xfe.c") == "bad\uFFFD\uFFFD.c");
  check_inert(safe("\x1b[2J\x1b[H../\x1b]0;t\x07.\xC2\x9B" "1m"));
}

TEST_CASE("safe_file_name cuts a long name at a character boundary and keeps its extension", "[safe_name]") {
  std::string long_name(5000, 'a');
  std::string cut = safe(long_name + ".c");
  CHECK(cut.size() == kMaxSafeName);
  CHECK(cut.substr(cut.size() - 2) == ".c");
  std::string wide;
  for (int i = 0; i < 300; ++i) wide += "\xE2\x82\xAC";  // three bytes each
  std::string w = safe(wide + ".txt");
  CHECK(w.size() <= kMaxSafeName);
  CHECK(is_valid_utf8(w));
  CHECK(w.substr(w.size() - 4) == ".txt");
  check_inert(safe(std::string(300, '.') + std::string(300, 'x')));
}

TEST_CASE("numbered_name puts the number before the extension", "[safe_name]") {
  CHECK(numbered_name("poc.c", 0) == "poc.c");
  CHECK(numbered_name("poc.c", 1) == "poc-1.c");
  CHECK(numbered_name("poc.tar.gz", 2) == "poc.tar-2.gz");
  CHECK(numbered_name("README", 3) == "README-3");
  CHECK(numbered_name("attachment-3.1", 1) == "attachment-3-1.1");
}
