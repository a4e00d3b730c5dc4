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

/// Appends `text` to `out` as a quoted JSON string. Control characters are escaped;
/// UTF-8 is copied as is.
inline void append_json_string(std::string& out, std::string_view text) {
    static constexpr char hex[] = "0123456789abcdef";
    out.push_back('"');
    for (char c : text) {
        const auto byte = static_cast<unsigned char>(c);
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
