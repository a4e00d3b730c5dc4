// llmbench/client/sse.hpp - server-sent events, line by line, as OpenAI-compatible servers send them.
//
// Fed the lines a LineFramer cuts (any "\r\n" or "\n"), it yields events: the `data:` lines of
// an event joined by "\n", handed out at the blank line that ends it (or at the end of the
// stream). Comments (":" keep-alive pings), `event:`, `id:` and `retry:` fields are skipped.
// Old llama.cpp builds sent errors as `error: {...}` lines, which are not an SSE field;
// they are reported as error events instead of being dropped.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace llmbench {

struct SseEvent {
    enum class Kind { data, legacy_error };
    Kind kind = Kind::data;
    std::string data;
    bool done_marker() const { return kind == Kind::data && data == "[DONE]"; }
};

class SseParser {
public:
    /// One line, without its terminator (a trailing "\r" is removed here). Returns the event
    /// the line completes, if any.
    std::optional<SseEvent> feed_line(std::string_view line) {
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty()) return flush();
        if (line.front() == ':') {
            ++comments_;
            return std::nullopt;
        }
        const auto colon = line.find(':');
        const std::string_view field = line.substr(0, colon);
        std::string_view value = colon == std::string_view::npos ? std::string_view() : line.substr(colon + 1);
        if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
        if (field == "data") {
            if (has_data_) data_ += '\n';
            data_.append(value.data(), value.size());
            has_data_ = true;
        } else if (field == "error") {
            SseEvent e{SseEvent::Kind::legacy_error, std::string(value)};
            return e;
        }
        return std::nullopt;
    }

    /// The event still open at the end of the stream (a server that never sent the blank line).
    std::optional<SseEvent> flush() {
        if (!has_data_) return std::nullopt;
        SseEvent e{SseEvent::Kind::data, std::move(data_)};
        data_.clear();
        has_data_ = false;
        return e;
    }

    std::size_t comments() const noexcept { return comments_; }

private:
    std::string data_;
    bool has_data_ = false;
    std::size_t comments_ = 0;
};

}  // namespace llmbench
