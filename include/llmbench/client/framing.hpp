// llmbench/client/framing.hpp - incremental line framing for NDJSON streams.
//
// HTTP chunk and TCP read boundaries mean nothing: a JSON object may arrive over many
// reads, a read may hold many lines, and a split may fall inside a UTF-8 character.
// The framer buffers only the unfinished tail and hands out complete lines.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace llmbench {

class LineFramer {
public:
    /// Lines longer than this are a protocol error (Ollama's own client accepts 8 MB;
    /// a final line with a long `context` array can be that large).
    static constexpr std::size_t default_max_line_bytes = std::size_t{64} << 20;

    explicit LineFramer(std::size_t max_line_bytes = default_max_line_bytes) : max_line_(max_line_bytes) {}

    /// Feeds bytes; calls `on_line(std::string_view line, std::uint64_t offset)` for each
    /// complete line, without its "\n" or "\r\n", where `offset` is the byte offset of
    /// the line's start in the whole stream. `on_line` returns false to stop.
    /// Returns false when `on_line` stopped or a line exceeded the limit (see overflowed()).
    /// Lines passed to `on_line` are valid only during the call.
    template <class OnLine>
    bool feed(const char* data, std::size_t size, OnLine&& on_line) {
        const char* end = data + size;
        const char* p = data;
        while (p < end) {
            const auto* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
            if (nl == nullptr) {
                if (pending_.size() + static_cast<std::size_t>(end - p) > max_line_) return overflow();
                pending_.append(p, end);
                break;
            }
            std::string_view line;
            if (pending_.empty()) {
                line = std::string_view(p, static_cast<std::size_t>(nl - p));  // zero-copy path
            } else {
                if (pending_.size() + static_cast<std::size_t>(nl - p) > max_line_) return overflow();
                pending_.append(p, nl);
                line = pending_;
            }
            if (line.size() > max_line_) return overflow();
            if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
            const std::uint64_t line_offset = line_start_;
            line_start_ = consumed_ + static_cast<std::uint64_t>(nl - data) + 1;
            const bool go_on = on_line(line, line_offset);
            pending_.clear();
            p = nl + 1;
            if (!go_on) {
                consumed_ += static_cast<std::uint64_t>(p - data);
                return false;
            }
        }
        consumed_ += size;
        return true;
    }

    /// Bytes after the last "\n": an unterminated last line, or a line cut off by EOF.
    std::string_view pending() const noexcept { return pending_; }
    /// Byte offset where pending() starts.
    std::uint64_t pending_offset() const noexcept { return line_start_; }
    /// Total bytes fed so far.
    std::uint64_t bytes_consumed() const noexcept { return consumed_; }
    bool overflowed() const noexcept { return overflowed_; }
    std::size_t max_line_bytes() const noexcept { return max_line_; }

    void reset() {
        pending_.clear();
        consumed_ = line_start_ = 0;
        overflowed_ = false;
    }

private:
    bool overflow() {
        overflowed_ = true;
        return false;
    }

    std::string pending_;
    std::size_t max_line_;
    std::uint64_t consumed_ = 0;
    std::uint64_t line_start_ = 0;
    bool overflowed_ = false;
};

}  // namespace llmbench
