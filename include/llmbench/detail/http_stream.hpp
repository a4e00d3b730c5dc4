// llmbench/detail/http_stream.hpp - a streamed HTTP/1.1 POST over a plain socket, each read
// stamped with the time the kernel received its bytes.
//
// A client stamps a token when its thread gets to read it. Under load (hundreds of streams on
// a few cores) that can be long after the bytes arrived, and every TTFT and inter-token gap
// would then measure the client's scheduling instead of the server. The kernel records when
// each TCP segment arrived (SO_TIMESTAMPNS / SO_TIMESTAMP, read back with recvmsg); that
// time, moved from the realtime to the steady clock, is what the reader reports. cpp-httplib
// reads with recv() and drops it, so plain-http streams are read here; https and platforms
// without these socket options stay with cpp-httplib (see streaming_post.hpp).
//
// What it speaks: one request at a time on a kept-alive connection (reopened when the server
// closed it), responses chunked, sized by Content-Length or ended by close, with connect,
// first-byte and idle deadlines enforced by the socket's own timeouts instead of a watchdog
// thread: once connected the socket blocks, and a read waits in recvmsg itself (SO_RCVTIMEO),
// so an arriving chunk costs one system call, not a poll() and then a recvmsg(). Inside a
// fiber of a FiberLoop (run_load's event loop, fiber_loop.hpp) the socket stays non-blocking
// and a read that would wait yields to the loop instead; everything else is the same code.
#pragma once

#if defined(__unix__) || defined(__APPLE__)
#define LLMBENCH_HAS_HTTP_STREAM 1

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "llmbench/detail/fiber_loop.hpp"
#include "llmbench/detail/post_outcome.hpp"
#include "llmbench/detail/text.hpp"
#include "llmbench/core/endpoint.hpp"
#include "llmbench/client/framing.hpp"
#include "llmbench/core/stream_timer.hpp"
#include "llmbench/version.hpp"

namespace llmbench::detail {

/// Calls on_field(name, value) for each "Name: value" line of an HTTP head from offset `at`
/// (after the request or status line; `head` without its blank line), the value trimmed.
template <class OnField>
void for_each_header_field(std::string_view head, std::size_t at, OnField&& on_field) {
    while (at < head.size()) {
        auto end = head.find("\r\n", at);
        if (end == std::string_view::npos) end = head.size();
        const std::string_view line = head.substr(at, end - at);
        at = end + 2;
        const auto colon = line.find(':');
        if (colon != std::string_view::npos) on_field(line.substr(0, colon), trim(line.substr(colon + 1), " \t"));
    }
}

/// Transfer-Encoding: chunked, decoded incrementally.
class ChunkedDecoder {
public:
    struct Fed {
        std::size_t consumed = 0;
        bool complete = false;   ///< the last chunk and its trailer have been read
        bool malformed = false;  ///< a size or trailer line longer than any server sends
    };
    static constexpr std::size_t max_line_bytes = 64 * 1024;
    /// Consumes bytes, handing chunk data to on_data(p, n), which returns false to stop. With
    /// `stop_after_chunk`, returns right after the CRLF that ends a chunk's data.
    template <class OnData>
    Fed feed(const char* p, std::size_t n, OnData&& on_data, bool stop_after_chunk = false) {
        const char* const begin = p;
        const char* const end = p + n;
        const auto consumed = [&](bool complete) { return Fed{static_cast<std::size_t>(p - begin), complete, false}; };
        while (p < end) {
            if (state_ == State::data) {
                const auto take = static_cast<std::size_t>(std::min<std::uint64_t>(left_, static_cast<std::uint64_t>(end - p)));
                const bool go_on = on_data(p, take);
                p += take;
                left_ -= take;
                if (left_ == 0) state_ = State::data_end;
                if (!go_on) return consumed(false);
                continue;
            }
            // The other states read a line: a size, the CRLF after data, or a trailer.
            const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
            line_.append(p, nl ? nl : end);
            if (line_.size() > max_line_bytes) return Fed{static_cast<std::size_t>(p - begin), false, true};
            if (!nl) {  // taken into line_: consumed, or a reader planning its reads by it reads a byte at a time
                p = end;
                return consumed(false);
            }
            p = nl + 1;
            const bool blank = line_ == "\r" || line_.empty();
            if (state_ == State::size_line) {
                left_ = std::strtoull(line_.c_str(), nullptr, 16);  // stops at ';' extensions and '\r'
                state_ = left_ == 0 ? State::trailer : State::data;
            } else if (state_ == State::data_end) {
                state_ = State::size_line;
                line_.clear();
                if (stop_after_chunk) return consumed(false);
            } else if (blank) {  // the empty line after the last chunk
                line_.clear();
                return consumed(true);
            }
            line_.clear();
        }
        return consumed(false);
    }

private:
    enum class State { size_line, data, data_end, trailer } state_ = State::size_line;
    std::uint64_t left_ = 0;
    std::string line_;
};

class HttpStream {
public:
    using Headers = std::vector<std::pair<std::string, std::string>>;

    explicit HttpStream(Endpoint endpoint) : endpoint_(std::move(endpoint)) {}
    HttpStream(const HttpStream&) = delete;
    HttpStream& operator=(const HttpStream&) = delete;
    ~HttpStream() { close(); }

    /// POSTs `body` to `path` and feeds each line of a 200 response to
    /// on_line(line, offset, arrival); on_line returns false to stop (the connection is then
    /// closed). A non-200 body is kept in error_body. A kept-alive connection the server has
    /// closed meanwhile is reopened once, as long as no response byte had arrived.
    template <class OnLine>
    PostOutcome post(const std::string& path, const Headers& headers, const std::string& body, StreamTimer& timer,
                     const Timeouts& timeouts, LineFramer& framer, std::uint64_t& bytes_received, OnLine&& on_line) {
        kernel_clock_ = timer.uses_steady_clock();
        last_arrival_.reset();
        if (fd_ >= 0 && loop_id_ != current_loop_id()) close();  // a connection is waited for by the loop it was made in
        timer.mark_sent(timer.now());
        const std::string head = request_head(path, headers, body.size());
        for (int attempt = 0;; ++attempt) {
            const bool reused = fd_ >= 0;
            PostOutcome out;
            if (!reused && !connect(timeouts.connect_s, out)) {
                out.end = timer.now();
                return out;
            }
            timer.mark_connected(reused ? *timer.sent_at() : timer.now());
            if (!send_all(head, timeouts) || !send_all(body, timeouts)) {
                close();
                if (reused && attempt == 0) continue;
                out.error = httplib::Error::Write;
                out.end = timer.now();
                return out;
            }
            Response response;
            const ReadEnd how = read_response(response, timer, timeouts, framer, bytes_received, out, on_line);
            out.end = timer.now();
            if (how == ReadEnd::closed_before_response && reused && attempt == 0) {
                close();
                continue;  // a stale kept-alive connection: send again on a fresh one
            }
            if (how == ReadEnd::closed_before_response) out.error = httplib::Error::Read;
            if (how != ReadEnd::complete || response.close) close();
            return out;
        }
    }

private:
    enum class ReadEnd { complete, closed_before_response, closed, failed, stopped, timed_out };

    struct Response {
        int status = 0;
        bool close = false;
        bool chunked = false;
        std::optional<std::uint64_t> content_length;
    };

    std::string request_head(const std::string& path, const Headers& headers, std::size_t body_size) const {
        std::string h = "POST " + path + " HTTP/1.1\r\nHost: " + endpoint_.authority() + "\r\n";
        bool has_user_agent = false;
        for (const auto& [name, value] : headers) {
            h += name + ": " + value + "\r\n";
            has_user_agent = has_user_agent || name == "User-Agent";
        }
        if (!has_user_agent) h += std::string("User-Agent: llmbench/") + version_string + "\r\n";
        h += "Content-Length: " + std::to_string(body_size) + "\r\nConnection: keep-alive\r\n\r\n";
        return h;
    }

    void close() {
#if LLMBENCH_HAS_FIBER_LOOP
        if (fd_ >= 0 && loop_id_ != 0 && loop_id_ == current_loop_id()) FiberLoop::current()->forget(fd_);
#endif
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
        loop_id_ = 0;
    }

    /// The event loop this thread's fiber runs in (0: none, the socket blocks).
    static std::uint64_t current_loop_id() noexcept {
#if LLMBENCH_HAS_FIBER_LOOP
        if (const FiberLoop* loop = FiberLoop::current()) return loop->id();
#endif
        return 0;
    }

    static timeval to_timeval(double ms) {
        timeval tv{};
        tv.tv_sec = static_cast<decltype(tv.tv_sec)>(ms / 1000);
        tv.tv_usec = static_cast<decltype(tv.tv_usec)>((ms - static_cast<double>(tv.tv_sec) * 1000) * 1000);
        return tv;
    }

    /// The next read waits at most `ms` (> 0). SO_RCVTIMEO is set only when that changes:
    /// the idle deadline moves with every read, so the wait asked for is nearly always the
    /// same, and a few milliseconds over a deadline of seconds is no matter.
    bool wait_at_most(int ms) {
        if (read_timeout_ms_ >= ms && read_timeout_ms_ - ms <= 10) return true;
        const timeval tv = to_timeval(ms);
        if (::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0) return false;
        read_timeout_ms_ = ms;
        return true;
    }

    static int ms_until(std::chrono::steady_clock::time_point deadline) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
        return static_cast<int>(std::clamp<long long>(left, 0, 24LL * 3600 * 1000));
    }
    static std::chrono::steady_clock::time_point after(double seconds) {
        return std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(seconds));
    }

    bool connect(double timeout_s, PostOutcome& out) {
        addrinfo hints{};
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        addrinfo* found = nullptr;
        if (::getaddrinfo(endpoint_.host.c_str(), std::to_string(endpoint_.port).c_str(), &hints, &found) != 0 || found == nullptr) {
            out.error = httplib::Error::Connection;
            return false;
        }
        const auto deadline = after(timeout_s);
        out.error = httplib::Error::Connection;
#if LLMBENCH_HAS_FIBER_LOOP
        FiberLoop* const loop = FiberLoop::current();
#endif
        for (addrinfo* a = found; a != nullptr && fd_ < 0; a = a->ai_next) {
            const int fd = ::socket(a->ai_family, a->ai_socktype, a->ai_protocol);
            if (fd < 0) continue;
            ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL, 0) | O_NONBLOCK);
            int rc = ::connect(fd, a->ai_addr, a->ai_addrlen);
            const bool connecting = rc != 0 && errno == EINPROGRESS;
#if LLMBENCH_HAS_FIBER_LOOP
            if (loop != nullptr && (rc == 0 || connecting)) {
                if (!loop->watch(fd)) {
                    ::close(fd);
                    continue;
                }
                if (connecting) rc = loop->wait(fd, FiberLoop::Direction::write, deadline) ? 1 : 0;
            } else
#endif
            if (connecting) {
                pollfd p{fd, POLLOUT, 0};
                rc = ::poll(&p, 1, ms_until(deadline));
            }
            if (connecting) {
                if (rc == 0) {
                    out.error = httplib::Error::ConnectionTimeout;
#if LLMBENCH_HAS_FIBER_LOOP
                    if (loop != nullptr) loop->forget(fd);
#endif
                    ::close(fd);
                    break;
                }
                int err = 0;
                socklen_t len = sizeof err;
                rc = rc > 0 && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0 ? 0 : -1;
            }
            if (rc != 0) {
#if LLMBENCH_HAS_FIBER_LOOP
                if (loop != nullptr) loop->forget(fd);
#endif
                ::close(fd);
                continue;
            }
            const int one = 1;
            ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
#if defined(SO_TIMESTAMPNS)
            ::setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
#else
            ::setsockopt(fd, SOL_SOCKET, SO_TIMESTAMP, &one, sizeof one);
#endif
#if defined(SO_NOSIGPIPE)
            ::setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#endif
            read_timeout_ms_ = -1;
            may_have_more_ = false;
            fd_ = fd;
            loop_id_ = current_loop_id();
            out.error = httplib::Error::Success;
            if (loop_id_ != 0) continue;  // the loop waits; the socket stays non-blocking
            // Blocking from here on: reads and writes wait in the kernel, bounded by the socket's
            // timeouts (the write one fixed, the read one set per deadline in read_some).
            ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL, 0) & ~O_NONBLOCK);
            const timeval write_timeout = to_timeval(std::max(timeout_s, 30.0) * 1000);
            ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &write_timeout, sizeof write_timeout);
        }
        ::freeaddrinfo(found);
        return fd_ >= 0;
    }

    bool send_all(std::string_view data, const Timeouts& timeouts) {
        const auto deadline = after(std::max(timeouts.connect_s, 30.0));
#if defined(MSG_NOSIGNAL)
        constexpr int flags = MSG_NOSIGNAL;
#else
        constexpr int flags = 0;
#endif
#if LLMBENCH_HAS_FIBER_LOOP
        FiberLoop* const loop = loop_id_ != 0 ? FiberLoop::current() : nullptr;
#endif
        while (!data.empty()) {
#if LLMBENCH_HAS_FIBER_LOOP
            if (loop != nullptr) loop->consume(fd_, FiberLoop::Direction::write);
#endif
            const auto n = ::send(fd_, data.data(), data.size(), flags | (loop_id_ != 0 ? MSG_DONTWAIT : 0));
            if (n > 0) {
                data.remove_prefix(static_cast<std::size_t>(n));
                continue;
            }
            if (n < 0 && errno == EINTR && std::chrono::steady_clock::now() < deadline) continue;
#if LLMBENCH_HAS_FIBER_LOOP
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && loop != nullptr && loop->wait(fd_, FiberLoop::Direction::write, deadline)) continue;
#endif
            return false;  // EAGAIN: SO_SNDTIMEO (or the loop's deadline) passed with nothing sent
        }
        return true;
    }

    /// One read: up to `limit` bytes and the kernel's receive time of the last of them, on the
    /// steady clock. With `peek`, the bytes stay queued (no time). Returns bytes read, 0 at
    /// EOF, -1 on error, -2 on timeout.
    long read_some(std::chrono::steady_clock::time_point deadline, StreamTimer& timer, StreamTimer::time_point& arrival, std::size_t limit,
                   bool peek = false) {
#if LLMBENCH_HAS_FIBER_LOOP
        FiberLoop* const loop = loop_id_ != 0 ? FiberLoop::current() : nullptr;
#endif
        for (;;) {
            release_read_buffer();  // the previous read's bytes are all delivered; none is held while waiting
            int flags = peek ? MSG_PEEK : 0;
#if LLMBENCH_HAS_FIBER_LOOP
            if (loop != nullptr) {
                // Edge-triggered: wait only when the last read left nothing queued, and let
                // this read use up the readiness seen so far. Until the first token the wait
                // ends before the other streams' (fiber_loop.hpp: a late read, a late TTFT).
                const auto priority = timer.first_token_at() ? FiberLoop::Priority::normal : FiberLoop::Priority::first_token;
                if (may_have_more_) loop->consume(fd_, FiberLoop::Direction::read);
                else if (!loop->wait(fd_, FiberLoop::Direction::read, deadline, priority)) return -2;
                flags |= MSG_DONTWAIT;
            } else
#endif
            {
                const int wait_ms = ms_until(deadline);
                if (wait_ms <= 0) return -2;
                if (!wait_at_most(wait_ms)) return -1;
            }
            std::vector<char>& buffer = take_read_buffer();
            iovec iov{buffer.data(), std::min(limit, buffer.size())};
            alignas(cmsghdr) char control[CMSG_SPACE(sizeof(timespec)) + CMSG_SPACE(sizeof(timeval))];
            msghdr msg{};
            msg.msg_iov = &iov;
            msg.msg_iovlen = 1;
            msg.msg_control = control;
            msg.msg_controllen = sizeof control;
            const auto n = ::recvmsg(fd_, &msg, flags);  // blocking: waits for the bytes, up to the deadline
            if (n < 0 && errno == EINTR) continue;
#if LLMBENCH_HAS_FIBER_LOOP
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && loop != nullptr) {
                may_have_more_ = false;  // the edge came from bytes an earlier read took
                continue;
            }
#endif
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return -2;
            if (n < 0) return -1;
            // A peek leaves the bytes queued; a read that filled its limit may have left some.
            may_have_more_ = peek || static_cast<std::size_t>(n) == iov.iov_len;
            if (peek) return static_cast<long>(n);
            arrival = kernel_clock_ ? arrival_time(msg, timer) : timer.now();
            return static_cast<long>(n);
        }
    }

    /// The kernel's timestamp of the read, moved to the steady clock; the read's own time when
    /// the kernel gave none. Never earlier than the previous arrival.
    StreamTimer::time_point arrival_time(msghdr& msg, StreamTimer& timer) {
        const auto steady_now = timer.now();
        std::optional<std::chrono::nanoseconds> stamp;
        for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level != SOL_SOCKET) continue;
#if defined(SCM_TIMESTAMPNS)
            if (c->cmsg_type == SCM_TIMESTAMPNS) {
                timespec ts{};
                std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
                stamp = std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
            }
#endif
            if (c->cmsg_type == SCM_TIMESTAMP) {
                timeval tv{};
                std::memcpy(&tv, CMSG_DATA(c), sizeof tv);
                stamp = std::chrono::seconds(tv.tv_sec) + std::chrono::microseconds(tv.tv_usec);
            }
        }
        auto arrival = steady_now;
        if (stamp) {
            const auto age = std::chrono::system_clock::now().time_since_epoch() - *stamp;
            // A clock step or a bogus stamp: keep the read's own time.
            if (age >= std::chrono::nanoseconds(0) && age < std::chrono::seconds(10))
                arrival = steady_now - std::chrono::duration_cast<StreamTimer::clock::duration>(age);
        }
        if (last_arrival_ && arrival < *last_arrival_) arrival = *last_arrival_;
        if (const auto sent = timer.sent_at(); sent && arrival < *sent) arrival = *sent;
        last_arrival_ = arrival;
        return arrival;
    }

    /// Parses the status line and headers in `head` (without the blank line).
    static bool parse_head(std::string_view head, Response& r) {
        const auto line_end = head.find("\r\n");
        const std::string_view status_line = head.substr(0, line_end);
        if (status_line.size() < 12 || status_line.substr(0, 5) != "HTTP/") return false;
        const auto space = status_line.find(' ');
        if (space == std::string_view::npos || space + 4 > status_line.size()) return false;
        r.status = 0;
        for (char c : status_line.substr(space + 1, 3)) {
            if (c < '0' || c > '9') return false;
            r.status = r.status * 10 + (c - '0');
        }
        r.close = status_line.substr(0, 8) == "HTTP/1.0";
        for_each_header_field(head, line_end == std::string_view::npos ? head.size() : line_end + 2, [&](std::string_view raw_name, std::string_view raw_value) {
            const std::string name = ascii_lower(raw_name);
            const std::string value = ascii_lower(raw_value);
            if (name == "transfer-encoding") r.chunked = value.find("chunked") != std::string::npos;
            else if (name == "content-length") r.content_length = std::strtoull(value.c_str(), nullptr, 10);
            else if (name == "connection") r.close = value.find("close") != std::string::npos ? true : value.find("keep-alive") != std::string::npos ? false : r.close;
        });
        return true;
    }

    template <class OnLine>
    ReadEnd read_response(Response& r, StreamTimer& timer, const Timeouts& timeouts, LineFramer& framer, std::uint64_t& bytes_received,
                          PostOutcome& out, OnLine& on_line) {
        struct Release {
            HttpStream& stream;
            ~Release() { stream.release_read_buffer(); }
        } release{*this};
        std::string head;
        bool any_byte = false, in_body = false, stopped = false, malformed = false;
        std::uint64_t body_left = 0;  // Content-Length still to read
        ChunkedDecoder chunked;
        auto deadline = after(timeouts.first_byte_s);

        const auto deliver = [&](const char* p, std::size_t n, StreamTimer::time_point arrival) {
            if (n == 0) return true;
            if (r.status != 200) {
                if (out.error_body.size() < 65536) out.error_body.append(p, std::min<std::size_t>(n, 65536 - out.error_body.size()));
                return true;
            }
            if (!framer.feed(p, n, [&](std::string_view line, std::uint64_t offset) { return on_line(line, offset, arrival); })) {
                stopped = true;
                return false;
            }
            return true;
        };
        // Decodes body bytes; returns true when the response is complete.
        const auto body = [&](const char* p, std::size_t n, StreamTimer::time_point arrival) {
            if (!r.chunked) {
                if (!r.content_length) {  // the body ends when the server closes
                    deliver(p, n, arrival);
                    return false;
                }
                const auto take = static_cast<std::size_t>(std::min<std::uint64_t>(n, body_left));
                body_left -= take;
                deliver(p, take, arrival);
                return body_left == 0;
            }
            const auto fed = chunked.feed(p, n, [&](const char* data, std::size_t size) { return deliver(data, size, arrival); });
            malformed = fed.malformed;
            return fed.complete;
        };

        // The kernel stamps a read with the arrival of its last segment. Until the first token,
        // reads therefore end where an HTTP chunk ends (servers write one event per chunk):
        // the queued bytes are peeked, cut at chunk ends, and each piece is read on its own, so
        // a late reader cannot move the first token to a later event's arrival. After it, a read
        // takes all that is queued (cutting there too cost 4x the CPU per chunk under load, for
        // little: segments queued behind a late reader are mostly merged by the kernel already).
        std::vector<std::size_t> pieces;  // sizes of the reads to come, last first
        const auto plan_pieces = [&](const char* p, std::size_t n) {
            pieces.clear();
            std::size_t at = 0;
            if (!in_body) {
                const std::size_t tail = std::min<std::size_t>(head.size(), 3);  // "\r\n\r\n" may straddle reads
                const auto blank = (head.substr(head.size() - tail) + std::string(p, n)).find("\r\n\r\n");
                pieces.push_back(blank == std::string::npos ? n : blank + 4 - tail);
            } else if (r.chunked && r.status == 200) {
                ChunkedDecoder dry_run = chunked;
                while (at < n) {
                    const auto fed = dry_run.feed(p + at, n - at, [](const char*, std::size_t) { return true; }, true);
                    pieces.push_back(fed.consumed);
                    at += fed.consumed;
                    if (fed.complete || fed.malformed || fed.consumed == 0) break;
                }
            }
            if (pieces.empty()) pieces.push_back(n);
            std::reverse(pieces.begin(), pieces.end());
        };
        for (;;) {
            StreamTimer::time_point arrival;
            std::size_t limit = read_buffer_bytes;
            if (kernel_clock_ && !timer.first_token_at()) {
                if (pieces.empty()) {
                    const long queued = read_some(deadline, timer, arrival, limit, true);
                    if (queued > 0) plan_pieces(buffer_->data(), static_cast<std::size_t>(queued));
                }
                if (!pieces.empty()) {
                    limit = std::max<std::size_t>(1, pieces.back());
                    pieces.pop_back();
                }
            }
            const long n = read_some(deadline, timer, arrival, limit);
            if (n == -2) {
                out.fired = any_byte ? StallGuard<httplib::Client>::fired_by::idle : StallGuard<httplib::Client>::fired_by::first_byte;
                return ReadEnd::timed_out;
            }
            if (n < 0) {
                out.error = httplib::Error::Read;
                return any_byte ? ReadEnd::failed : ReadEnd::closed_before_response;
            }
            if (n == 0) return any_byte ? ReadEnd::closed : ReadEnd::closed_before_response;
            if (!any_byte) timer.mark_first_byte(arrival);
            any_byte = true;
            bytes_received += static_cast<std::uint64_t>(n);
            deadline = after(timeouts.idle_s);
            const char* p = buffer_->data();
            std::size_t size = static_cast<std::size_t>(n);
            if (!in_body) {
                const std::size_t before = head.size();
                head.append(p, size);
                const auto blank = head.find("\r\n\r\n", before >= 3 ? before - 3 : 0);
                if (blank == std::string::npos) {
                    if (head.size() > 65536) {
                        out.error = httplib::Error::Read;
                        return ReadEnd::failed;
                    }
                    continue;
                }
                if (!parse_head(std::string_view(head).substr(0, blank), r)) {
                    out.error = httplib::Error::Read;
                    return ReadEnd::failed;
                }
                out.status = r.status;
                in_body = true;
                body_left = r.content_length.value_or(0);
                const std::size_t used = blank + 4 - before;
                p += used;
                size -= used;
                if (!r.chunked && r.content_length && *r.content_length == 0) return ReadEnd::complete;
            }
            if (body(p, size, arrival)) return ReadEnd::complete;
            if (stopped) return ReadEnd::stopped;
            if (malformed) {
                out.error = httplib::Error::Read;
                return ReadEnd::failed;
            }
        }
    }

    Endpoint endpoint_;
    int read_timeout_ms_ = -1;  ///< the socket's SO_RCVTIMEO now; -1 before the first read
    int fd_ = -1;
    bool kernel_clock_ = true;
    std::optional<StreamTimer::time_point> last_arrival_;
    std::uint64_t loop_id_ = 0;   ///< the FiberLoop that watches fd_; 0: fd_ blocks
    bool may_have_more_ = false;  ///< the last read may have left bytes queued (loop only)

    /// One read buffer per thread, not per stream, so the thousands of streams of an event
    /// loop share it: a read's bytes are parsed before the stream reads again. Only an event
    /// callback can come between (one that waits in the loop, or streams a request itself):
    /// a read made then, the thread's buffer still in use, gets a buffer of its stream's own.
    static constexpr std::size_t read_buffer_bytes = 64 * 1024;
    struct ThreadReadBuffer {
        std::vector<char> bytes = std::vector<char>(read_buffer_bytes);
        bool in_use = false;
    };
    static ThreadReadBuffer& thread_read_buffer() {
        static thread_local ThreadReadBuffer buffer;
        return buffer;
    }
    std::vector<char>& take_read_buffer() {
        ThreadReadBuffer& shared = thread_read_buffer();
        if (!shared.in_use) {
            shared.in_use = true;
            return *(buffer_ = &shared.bytes);
        }
        if (own_buffer_.empty()) own_buffer_.resize(read_buffer_bytes);
        return *(buffer_ = &own_buffer_);
    }
    void release_read_buffer() {
        if (buffer_ == &thread_read_buffer().bytes) thread_read_buffer().in_use = false;
        buffer_ = nullptr;
    }
    std::vector<char>* buffer_ = nullptr;  ///< the buffer the last read filled, until it is released
    std::vector<char> own_buffer_;         ///< empty until the thread's was in use at a read
};

}  // namespace llmbench::detail

#endif
