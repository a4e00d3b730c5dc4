// llmbench/core/json.hpp - a small JSON writer with correct escaping, used for every output line.
// Parsing is simdjson's job (see detail/json_parse.hpp); this header has no dependency.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace llmbench {

namespace detail {

/// The length of the valid UTF-8 sequence at the start of `text` (1-4), or 0 when it is not
/// one: a stray continuation byte, an overlong form, a surrogate, a code point above U+10FFFF,
/// or a sequence cut short.
inline std::size_t utf8_sequence_length(std::string_view text) noexcept {
    const auto at = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
    const unsigned char lead = at(0);
    std::size_t length = 0;
    unsigned char low = 0x80, high = 0xBF;  // the range of the second byte
    if (lead < 0x80) return 1;
    if (lead >= 0xC2 && lead <= 0xDF) length = 2;
    else if (lead >= 0xE0 && lead <= 0xEF) {
        length = 3;
        if (lead == 0xE0) low = 0xA0;   // overlong
        if (lead == 0xED) high = 0x9F;  // surrogates
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        length = 4;
        if (lead == 0xF0) low = 0x90;   // overlong
        if (lead == 0xF4) high = 0x8F;  // above U+10FFFF
    } else {
        return 0;
    }
    if (text.size() < length || at(1) < low || at(1) > high) return 0;
    for (std::size_t i = 2; i < length; ++i)
        if (at(i) < 0x80 || at(i) > 0xBF) return 0;
    return length;
}

}  // namespace detail

/// Appends `text` to `out` as a quoted JSON string. Control characters are escaped; valid
/// UTF-8 is copied as is, and each byte that is not part of a valid sequence (a model's or a
/// program's raw bytes, a tail cut mid-character) becomes U+FFFD, so every line parses.
inline void append_json_string(std::string& out, std::string_view text) {
    static constexpr char hex[] = "0123456789abcdef";
    out.push_back('"');
    for (std::size_t i = 0; i < text.size();) {
        const char c = text[i];
        const auto byte = static_cast<unsigned char>(c);
        if (byte >= 0x80) {
            const std::size_t length = detail::utf8_sequence_length(text.substr(i));
            if (length == 0) {
                out += "\\ufffd";
                ++i;
            } else {
                out.append(text.data() + i, length);
                i += length;
            }
            continue;
        }
        ++i;
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            default:
                if (byte < 0x20) {
                    out += "\\u00";
                    out.push_back(hex[byte >> 4]);
                    out.push_back(hex[byte & 0xF]);
                } else {
                    out.push_back(c);
                }
        }
    }
    out.push_back('"');
}

/// Appends a double in its shortest round-trip form; NaN and infinities become null,
/// since JSON has no spelling for them.
inline void append_json_number(std::string& out, double value) {
    if (!std::isfinite(value)) {
        out += "null";
        return;
    }
    char buf[32];
#if defined(__cpp_lib_to_chars) && __cpp_lib_to_chars >= 201611L
    auto res = std::to_chars(buf, buf + sizeof buf, value);
    out.append(buf, res.ptr);
#else
    int n = std::snprintf(buf, sizeof buf, "%.17g", value);
    out.append(buf, static_cast<std::size_t>(n));
#endif
}

/// Streaming JSON writer: `w.begin_object().kv("a", 1).key("b").begin_array()...`.
/// Commas are placed for you; misuse (a value where a key is due) is not detected.
class JsonWriter {
public:
    JsonWriter& begin_object() { return open('{'); }
    JsonWriter& end_object() { return close('}'); }
    JsonWriter& begin_array() { return open('['); }
    JsonWriter& end_array() { return close(']'); }

    JsonWriter& key(std::string_view name) {
        comma();
        append_json_string(out_, name);
        out_.push_back(':');
        after_key_ = true;
        return *this;
    }

    JsonWriter& value(std::string_view text) {
        prefix();
        append_json_string(out_, text);
        return *this;
    }
    JsonWriter& value(const char* text) { return value(std::string_view(text)); }
    JsonWriter& value(const std::string& text) { return value(std::string_view(text)); }
    JsonWriter& value(bool b) {
        prefix();
        out_ += b ? "true" : "false";
        return *this;
    }
    JsonWriter& value(double number) {
        prefix();
        append_json_number(out_, number);
        return *this;
    }
    template <class Int, std::enable_if_t<std::is_integral_v<Int> && !std::is_same_v<Int, bool>, int> = 0>
    JsonWriter& value(Int number) {
        prefix();
        out_ += std::to_string(number);
        return *this;
    }
    template <class T>
    JsonWriter& value(const std::optional<T>& maybe) {
        return maybe ? value(*maybe) : null();
    }
    JsonWriter& null() {
        prefix();
        out_ += "null";
        return *this;
    }
    /// Inserts already-serialised JSON (for example a nested object from another writer).
    JsonWriter& raw(std::string_view json) {
        prefix();
        out_ += json;
        return *this;
    }

    template <class T>
    JsonWriter& kv(std::string_view name, const T& v) {
        key(name);
        return value(v);
    }

    const std::string& str() const noexcept { return out_; }
    std::string take() { return std::move(out_); }

private:
    JsonWriter& open(char bracket) {
        prefix();
        out_.push_back(bracket);
        first_.push_back(true);
        return *this;
    }
    JsonWriter& close(char bracket) {
        out_.push_back(bracket);
        if (!first_.empty()) first_.pop_back();
        return *this;
    }
    void comma() {
        if (!first_.empty()) {
            if (!first_.back()) out_.push_back(',');
            first_.back() = false;
        }
    }
    void prefix() {
        if (after_key_) {
            after_key_ = false;
        } else {
            comma();
        }
    }

    std::string out_;
    std::vector<bool> first_;
    bool after_key_ = false;
};

}  // namespace llmbench
