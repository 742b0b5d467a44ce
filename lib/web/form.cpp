#include "web/form.hpp"

#include <fmt/format.h>

#include "core/text.hpp"
#include "core/util.hpp"
#include "mail/address.hpp"
#include "outbound/compose.hpp"

namespace cased::web {
namespace {

bool has_control(std::string_view s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return true;
  return false;
}

// A one-line field: valid UTF-8, no control character, not too long.
void check_line(FieldErrors& errors, const char* field, std::string_view value, std::size_t max) {
  if (value.size() > max) errors[field] = fmt::format("At most {} characters.", max);
  else if (!is_valid_utf8(value) || has_control(value)) errors[field] = "Only one line of text, please.";
}

std::string line(std::string_view label, std::string_view value) {
  return fmt::format("{:<9}{}\n", label, value.empty() ? "-" : value);
}

}  // namespace

FieldErrors check_report(const Report& r, const Limits& limits) {
  FieldErrors errors;
  check_line(errors, "name", r.name, limits.max_line_field);
  check_line(errors, "product", r.product, limits.max_line_field);
  check_line(errors, "version", r.version, limits.max_line_field);
  check_line(errors, "title", r.title, limits.max_line_field);
  if (!errors.count("title") && trim(r.title).empty()) errors["title"] = "A title is required.";
  std::string email = trim(r.email);
  if (!email.empty() && (email.size() > 254 || !valid_addr_spec(email)))
    errors["email"] = "This is not an e-mail address (like name@example.com). Leave it empty to stay anonymous.";
  if (r.description.size() > limits.max_description)
    errors["description"] = fmt::format("At most {} bytes.", limits.max_description);
  else if (!is_valid_utf8(r.description))
    errors["description"] = "The text is not valid UTF-8.";
  else if (trim(r.description).empty())
    errors["description"] = "A description is required.";
  if (r.key.size() > limits.max_key) errors["key"] = fmt::format("At most {} bytes.", limits.max_key);
  if (r.files.size() > limits.max_files) errors["attachment"] = fmt::format("At most {} files.", limits.max_files);
  return errors;
}

std::string upload_name(std::string_view filename) {
  auto slash = filename.find_last_of("/\\");
  if (slash != std::string_view::npos) filename.remove_prefix(slash + 1);
  std::string name = valid_utf8(filename);
  for (char& c : name)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '_';
  if (name.size() > 200) {
    std::size_t cut = 200;
    while (cut > 0 && (static_cast<unsigned char>(name[cut]) & 0xC0) == 0x80) --cut;  // whole code points
    name.resize(cut);
  }
  return name.empty() || name == "." || name == ".." ? "attachment" : name;
}

std::string build_message(const Report& r, const MessageContext& c) {
  const std::string email = to_lower(trim(r.email));
  std::string text = "A report made on the web form.\n\n";
  text += line("Name:", trim(r.name));
  text += line("E-mail:", email);
  text += line("Product:", trim(r.product));
  text += line("Version:", trim(r.version));
  text += line("Credit:", r.credit ? "yes, the reporter would like to be credited" : "no");
  text += line("Key:", c.key_fingerprint.empty() ? "" : c.key_fingerprint + " (attached; for this case only)");
  text += line("Receipt:", c.receipt);
  text += "\nTitle: " + trim(r.title) + "\n\n" + r.description;
  if (text.empty() || text.back() != '\n') text += '\n';

  std::vector<compose::Part> parts;
  for (const auto& f : r.files) {
    std::string name = upload_name(f.filename);
    parts.push_back({name, compose::guess_content_type(name), f.content});
  }
  if (!c.key_fingerprint.empty()) parts.push_back({"key.asc", "application/pgp-keys", r.key});

  std::string out;
  out += compose::header_field("From", email.empty() ? std::string(kAnonymousFrom) : email);
  out += compose::header_field("To", c.alias);
  out += compose::header_field("Subject", trim(r.title));
  out += compose::header_field("Date", compose::rfc5322_date(c.now));
  out += compose::header_field("Message-ID", "<" + c.message_id + ">");
  out += "MIME-Version: 1.0\r\n";
  out += fmt::format("Content-Type: multipart/mixed; boundary=\"{}\"\r\n\r\n", c.boundary);
  out += compose::mixed_body(text, parts, c.boundary);
  return out;
}

}  // namespace cased::web
