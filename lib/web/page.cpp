#include "web/page.hpp"

#include <fmt/format.h>

namespace cased::web {
namespace {

const std::string kHead =
    "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<meta name=\"referrer\" content=\"no-referrer\">\n"
    "<link rel=\"stylesheet\" href=\"/form.css\">\n";

std::string page(std::string_view title, std::string_view body) {
  return fmt::format("{}<title>{}</title>\n</head>\n<body>\n<main>\n{}</main>\n</body>\n</html>\n", kHead,
                     html_escape(title), body);
}

struct Field {
  const char* name;
  const char* label;
  const char* hint;
  const char* type;  // "text", "email", "textarea"
  bool required;
  std::string value;
  std::string error;
};

std::string field(const Field& f, const char* extra = "") {
  std::string id = f.name;
  std::string describe;
  std::string out = fmt::format("<div class=\"field{}\">\n<label for=\"{}\">{}{}</label>\n", f.error.empty() ? "" : " invalid",
                                id, f.label, f.required ? " <span class=\"req\">(required)</span>" : "");
  if (*f.hint) {
    out += fmt::format("<p class=\"hint\" id=\"{}-hint\">{}</p>\n", id, f.hint);
    describe += id + "-hint";
  }
  if (!f.error.empty()) {
    out += fmt::format("<p class=\"error\" id=\"{}-error\"><strong>Error:</strong> {}</p>\n", id, html_escape(f.error));
    describe += (describe.empty() ? "" : " ") + id + "-error";
  }
  std::string attrs = fmt::format("id=\"{0}\" name=\"{0}\"{1}{2}{3}{4}", id, f.required ? " required" : "",
                                  describe.empty() ? "" : " aria-describedby=\"" + describe + "\"",
                                  f.error.empty() ? "" : " aria-invalid=\"true\"", extra);
  if (std::string_view(f.type) == "textarea")
    out += fmt::format("<textarea {} rows=\"{}\">{}</textarea>\n", attrs, id == "key" ? 6 : 14, html_escape(f.value));
  else
    out += fmt::format("<input type=\"{}\" {} value=\"{}\">\n", f.type, attrs, html_escape(f.value));
  return out + "</div>\n";
}

std::string error_of(const FieldErrors* errors, const char* name) {
  if (!errors) return "";
  auto it = errors->find(name);
  return it == errors->end() ? "" : it->second;
}

std::string reporter_fieldset(const FormPage& p) {
  const Report empty;
  const Report& t = p.typed ? *p.typed : empty;
  std::string out = "<fieldset>\n<legend>About you (optional)</legend>\n"
                    "<p class=\"hint\">Leave these empty to report anonymously; then nobody can answer you.</p>\n";
  out += field({"name", "Name", "", "text", false, t.name, error_of(p.errors, "name")}, " autocomplete=\"name\"");
  out += field({"email", "E-mail address", "We send an acknowledgement with the case tag here.", "email", false,
                t.email, error_of(p.errors, "email")},
               " autocomplete=\"email\"");
  out += field({"key", "Your OpenPGP public key",
                "Paste an armored public key to have our mail to you encrypted; it is used for this report only.",
                "textarea", false, t.key, error_of(p.errors, "key")});
  out += fmt::format(
      "<div class=\"field check\">\n<input type=\"checkbox\" id=\"credit\" name=\"credit\" value=\"yes\"{}>\n"
      "<label for=\"credit\">Credit me by name in the advisory</label>\n</div>\n",
      t.credit ? " checked" : "");
  return out + "</fieldset>\n";
}

std::string report_fieldset(const FormPage& p) {
  const Report empty;
  const Report& t = p.typed ? *p.typed : empty;
  std::string out = "<fieldset>\n<legend>The vulnerability</legend>\n";
  out += field({"product", "Product", "", "text", false, t.product, error_of(p.errors, "product")});
  out += field({"version", "Version", "", "text", false, t.version, error_of(p.errors, "version")});
  out += field({"title", "Title", "One line: what is wrong, and where.", "text", true, t.title,
                error_of(p.errors, "title")});
  out += field({"description", "Description",
                "How to reproduce it, what an attacker gains, and anything else we should know.", "textarea", true,
                t.description, error_of(p.errors, "description")});
  std::string files_error = error_of(p.errors, "attachment");
  out += fmt::format(
      "<div class=\"field{}\">\n<label for=\"attachment\">Attachments</label>\n"
      "<p class=\"hint\" id=\"attachment-hint\">Up to {} files: proof of concept, logs, screenshots.{}</p>\n{}"
      "<input type=\"file\" id=\"attachment\" name=\"attachment\" multiple aria-describedby=\"attachment-hint\">\n"
      "</div>\n",
      files_error.empty() ? "" : " invalid", p.max_files,
      p.typed ? " Files chosen before are not kept: choose them again." : "",
      files_error.empty() ? "" : "<p class=\"error\"><strong>Error:</strong> " + html_escape(files_error) + "</p>\n");
  return out + "</fieldset>\n";
}

}  // namespace

std::vector<std::pair<std::string, std::string>> security_headers() {
  return {
      {"Content-Security-Policy",
       "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; "
       "base-uri 'none'"},
      {"X-Content-Type-Options", "nosniff"},
      {"Referrer-Policy", "no-referrer"},
      {"X-Frame-Options", "DENY"},
      {"Cache-Control", "no-store"},
      {"Cross-Origin-Opener-Policy", "same-origin"},
      {"Cross-Origin-Resource-Policy", "same-origin"},
  };
}

std::string form_page(const FormPage& p) {
  std::string body = fmt::format(
      "<h1>Report a security vulnerability</h1>\n"
      "<p>This form goes straight to the security team ({}), over an encrypted connection. "
      "Everything you send, attachments included, may be at most <strong>{}</strong> in all.</p>\n",
      html_escape(p.alias), human_size(p.max_upload));
  if (!p.notice.empty()) body += "<p class=\"notice\" role=\"alert\">" + html_escape(p.notice) + "</p>\n";
  if (p.errors && !p.errors->empty())
    body += "<p class=\"notice\" role=\"alert\">Some fields need your attention; see the errors next to them.</p>\n";
  body += "<form method=\"post\" action=\"/report\" enctype=\"multipart/form-data\" accept-charset=\"UTF-8\">\n";
  body += fmt::format("<input type=\"hidden\" name=\"csrf\" value=\"{}\">\n", html_escape(p.csrf));
  body += report_fieldset(p);
  body += reporter_fieldset(p);
  // The honeypot: hidden from sight and from assistive technology, out of
  // the tab order, never autofilled. A person leaves it empty.
  body +=
      "<div class=\"hp\" aria-hidden=\"true\">\n<label for=\"website\">Leave this field empty</label>\n"
      "<input type=\"text\" id=\"website\" name=\"website\" value=\"\" tabindex=\"-1\" autocomplete=\"off\">\n</div>\n";
  body += "<p><button type=\"submit\">Send the report</button></p>\n</form>\n";
  body += fmt::format("<p class=\"hint\">You can also write to {} (encrypted with our key, published at "
                      "/.well-known/openpgpkey/). See /.well-known/security.txt.</p>\n",
                      html_escape(p.alias));
  return page("Report a security vulnerability", body);
}

std::string receipt_page(std::string_view alias, std::string_view case_tag, std::string_view receipt) {
  std::string body = fmt::format(
      "<h1>Thank you: your report is filed</h1>\n"
      "<p>Your report was stored as <strong class=\"tag\">{0}</strong>.</p>\n"
      "<p>Your receipt code is <strong class=\"receipt\"><code>{1}</code></strong>. Keep it: it shows that you made "
      "this report.</p>\n"
      "<p>To add information or ask about the report, write to <strong>{2}</strong> with <strong>{0}</strong> in the "
      "subject, and quote the receipt code.</p>\n"
      "<p>If you gave an e-mail address, an acknowledgement with the case tag is on its way; it repeats nothing of "
      "your report.</p>\n",
      html_escape(case_tag), html_escape(receipt), html_escape(alias));
  return page("Report filed", body);
}

std::string message_page(std::string_view title, std::string_view text) {
  return page(title, fmt::format("<h1>{}</h1>\n<p>{}</p>\n<p><a href=\"/\">Back to the form</a></p>\n",
                                 html_escape(title), html_escape(text)));
}

std::string_view style_sheet() {
  return "body{font-family:system-ui,sans-serif;line-height:1.5;margin:0;background:#f6f6f4;color:#1b1b1b}\n"
         "main{max-width:44rem;margin:0 auto;padding:1rem 1.25rem 3rem;background:#fff}\n"
         "h1{font-size:1.6rem}fieldset{border:1px solid #999;margin:1.25rem 0;padding:.5rem 1rem 1rem}\n"
         "legend{font-weight:bold;padding:0 .3rem}.field{margin:.9rem 0}label{display:block;font-weight:600}\n"
         ".check label{display:inline;font-weight:normal}input[type=text],input[type=email],textarea{width:100%;"
         "box-sizing:border-box;font:inherit;padding:.35rem;border:1px solid #666}\n"
         "textarea{font-family:ui-monospace,monospace}.hint{color:#444;margin:.1rem 0 .3rem;font-size:.93rem}\n"
         ".req{font-weight:normal;color:#444}.error{color:#a00000;margin:.1rem 0}.invalid input,.invalid textarea"
         "{border:2px solid #a00000}\n.notice{border-left:4px solid #a00000;padding:.3rem .7rem;background:#fff3f3}\n"
         "button{font:inherit;padding:.5rem 1.2rem;background:#1d4f91;color:#fff;border:0}\n"
         "button:focus,input:focus,textarea:focus{outline:3px solid #f5a623}\n"
         ".hp{position:absolute;left:-10000px;top:auto;width:1px;height:1px;overflow:hidden}\n"
         ".receipt code,.tag{font-size:1.2rem}\n";
}

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string human_size(std::uint64_t bytes) {
  if (bytes >= (1u << 20) && bytes % (1u << 20) == 0) return fmt::format("{} MiB", bytes >> 20);
  if (bytes >= (1u << 20)) return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1 << 20));
  if (bytes >= 1024) return fmt::format("{} KiB", bytes >> 10);
  return fmt::format("{} bytes", bytes);
}

}  // namespace cased::web
