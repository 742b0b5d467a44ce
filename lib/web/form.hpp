// A report typed into the web form: its fields as the HTTP layer parsed
// them, their checks, and the RFC 5322 message cased makes of it, which
// then takes the same way into the store as mail. No network, no database.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace cased::web {

struct UploadedFile {
  std::string filename;      // as the browser sent it; only its base name is kept
  std::string content_type;  // as the browser sent it; checked before use
  std::string content;
};

// The form's fields (a contract: these names are what scripts post).
struct Report {
  std::string name, email, key, product, version, title, description;
  bool credit = false;
  std::vector<UploadedFile> files;
};

struct Limits {
  std::size_t max_line_field = 300;        // name, email, product, version, title
  std::size_t max_key = 256 * 1024;        // an armored public key with its signatures
  std::size_t max_description = 1 << 20;
  std::size_t max_files = 10;
  std::size_t max_parts = 64;              // every multipart part, files included
};

// Field name -> what is wrong with it, in words for the reporter; empty
// when the report can be stored. The key is checked by OpenPGP (the caller)
// and the upload's total size by the HTTP layer.
using FieldErrors = std::map<std::string, std::string>;
FieldErrors check_report(const Report& report, const Limits& limits);

// What cased adds to the message it makes.
struct MessageContext {
  std::string alias;            // To:
  std::string message_id;       // without angle brackets
  std::string receipt;          // the code the reporter is given
  std::string key_fingerprint;  // of the pasted key ("" = none)
  std::int64_t now = 0;
  std::string boundary;         // for multipart/mixed; must not occur in the parts (base64 and QP cannot hold it)
};

// The From of an anonymous report: a robot name, so nothing answers it.
inline constexpr std::string_view kAnonymousFrom = "noreply@web-form.invalid";

// An RFC 5322 message with CRLF line ends: From the typed address (or
// kAnonymousFrom), To the alias, the title as Subject, a text/plain part
// listing the fields and each file (and the pasted key) as an attachment.
// Nothing a reporter typed can end a header line.
std::string build_message(const Report& report, const MessageContext& context);

// The base name of an uploaded file's name, at most 200 bytes of UTF-8.
std::string upload_name(std::string_view filename);

}  // namespace cased::web
