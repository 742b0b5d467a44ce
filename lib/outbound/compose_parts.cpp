// Files a reply carries (`casectl reply --attach`): MIME parts inside the
// signed and encrypted entity.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <utility>

#include "core/base64.hpp"
#include "core/util.hpp"
#include "outbound/compose.hpp"

namespace cased::compose {
namespace {

constexpr std::size_t kBase64Line = 76;  // RFC 2045 6.8

// A name that can go between double quotes as it is.
bool plain_name(std::string_view name) {
  return std::all_of(name.begin(), name.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u >= 0x20 && u < 0x7f && c != '"' && c != '\\';
  });
}

// `key="value"`, or RFC 2231 `key*=utf-8''%XX` for anything else; control
// characters become '_' either way.
std::string parameter(std::string_view key, std::string_view value) {
  std::string v;
  for (char c : value) {
    auto u = static_cast<unsigned char>(c);
    v += u < 0x20 || u == 0x7f ? '_' : c;
  }
  if (plain_name(v)) return fmt::format("{}=\"{}\"", key, v);
  std::string out = std::string(key) + "*=utf-8''";
  for (char c : v) {
    auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '.' || c == '-' || c == '_') out += c;
    else out += fmt::format("%{:02X}", u);
  }
  return out;
}

std::string base64_lines(std::string_view bytes) {
  std::string b64 = base64_encode(bytes), out;
  out.reserve(b64.size() + b64.size() / kBase64Line * 2 + 2);
  for (std::size_t i = 0; i < b64.size(); i += kBase64Line) out += b64.substr(i, kBase64Line) + "\r\n";
  return out;
}

}  // namespace

std::string guess_content_type(std::string_view filename) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 22> kTypes{{
      {".txt", "text/plain"},         {".log", "text/plain"},         {".md", "text/markdown"},
      {".c", "text/x-c"},             {".h", "text/x-c"},             {".cpp", "text/x-c++"},
      {".py", "text/x-python"},       {".sh", "text/x-shellscript"},  {".patch", "text/x-diff"},
      {".diff", "text/x-diff"},       {".html", "text/html"},         {".json", "application/json"},
      {".xml", "application/xml"},    {".pdf", "application/pdf"},    {".zip", "application/zip"},
      {".gz", "application/gzip"},    {".tar", "application/x-tar"},  {".png", "image/png"},
      {".jpg", "image/jpeg"},         {".jpeg", "image/jpeg"},        {".asc", "application/pgp-keys"},
      {".pcap", "application/vnd.tcpdump.pcap"},
  }};
  auto dot = filename.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return "application/octet-stream";
  std::string ext;
  for (char c : filename.substr(dot)) ext += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const auto& [e, type] : kTypes)
    if (e == ext) return std::string(type);
  return "application/octet-stream";
}

std::string mixed_body(std::string_view text, const std::vector<Part>& parts, std::string_view boundary) {
  const std::string b(boundary);
  std::string out = "--" + b +
                    "\r\nContent-Type: text/plain; charset=utf-8; format=fixed\r\n"
                    "Content-Transfer-Encoding: quoted-printable\r\n\r\n";
  out += quoted_printable(text);
  for (const auto& p : parts) {
    out += "--" + b + "\r\n";
    out += fmt::format("Content-Type: {};\r\n {}\r\n", p.content_type, parameter("name", p.filename));
    out += fmt::format("Content-Disposition: attachment;\r\n {}\r\n", parameter("filename", p.filename));
    out += "Content-Transfer-Encoding: base64\r\n\r\n";
    out += base64_lines(p.bytes);
  }
  return out + "--" + b + "--\r\n";
}

}  // namespace cased::compose
