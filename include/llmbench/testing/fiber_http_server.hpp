// llmbench/testing/fiber_http_server.hpp - the mocks' routes served by fibers of an event loop,
// for load tests of thousands of streams.
//
// cpp-httplib serves a connection per pool thread. At 4,096 streams on two cores that is 4,096
// runnable threads, among which its one accepting thread gets too little CPU to accept in
// time: connects time out, and what is measured is the mock. Here a connection is a fiber of
// a FiberLoop (the one run_load drives its streams with) on a few threads. The routes are
// cpp-httplib handlers, unchanged; it speaks what they need: HTTP/1.1 requests with a
// Content-Length body, kept alive, answered with a body or a chunked content provider.
#pragma once

#include "llmbench/detail/fiber_loop.hpp"
#include "llmbench/detail/http_stream.hpp"

#if LLMBENCH_HAS_FIBER_LOOP
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <httplib.h>

#include "llmbench/core/error.hpp"
#include "llmbench/detail/text.hpp"

namespace llmbench::detail {

class FiberHttpServer {
public:
    using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;

    FiberHttpServer() = default;
    FiberHttpServer(const FiberHttpServer&) = delete;
    FiberHttpServer& operator=(const FiberHttpServer&) = delete;
    ~FiberHttpServer() { stop(); }

    void route(std::string method, std::string path, Handler handler) { routes_.push_back({std::move(method), std::move(path), std::move(handler)}); }

    /// Binds a free port on 127.0.0.1 and serves on `threads` event-loop threads until stop().
    void start(int threads, const std::string& who) {
        listen_fd_ = nonblocking(::socket(AF_INET, SOCK_STREAM, 0));
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof addr;
        if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listen_fd_, SOMAXCONN) != 0 ||
            ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
            throw error(errc::io, who + ": cannot listen on 127.0.0.1 (errno " + std::to_string(errno) + ")");
        port_ = ntohs(addr.sin_port);
        for (int t = 0; t < std::max(1, threads); ++t)
            threads_.emplace_back([this] {
                FiberLoop loop;
                loop.spawn([this] { accept_loop(); });
                loop.run();
            });
    }

    /// Ends every connection (within a tick) and joins the loops.
    void stop() {
        stopping_ = true;
        for (auto& t : threads_) t.join();
        threads_.clear();
        if (listen_fd_ >= 0) ::close(listen_fd_);
        listen_fd_ = -1;
    }

    int port() const noexcept { return port_; }

private:
    struct Route {
        std::string method, path;
        Handler handler;
    };
    /// How often a waiting fiber looks at stopping_.
    static constexpr auto tick = std::chrono::milliseconds(20);

    static FiberLoop& loop() { return *FiberLoop::current(); }

    /// The reason phrases of the statuses the mocks answer with.
    static const char* reason(int status) {
        switch (status) {
            case 200: return "OK";
            case 400: return "Bad Request";
            case 404: return "Not Found";
            case 500: return "Internal Server Error";
            case 501: return "Not Implemented";
            case 503: return "Service Unavailable";
            default: return "Status";
        }
    }

    /// `fd` made non-blocking and close-on-exec (-1 stays -1): the portable spelling of
    /// SOCK_NONBLOCK | SOCK_CLOEXEC, which macOS does not have.
    static int nonblocking(int fd) {
        if (fd >= 0) {
            ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
            ::fcntl(fd, F_SETFD, FD_CLOEXEC);
        }
        return fd;
    }

    /// Every loop's listener watches the one listening socket; whichever accepts first serves.
    void accept_loop() {
        const int fd = ::dup(listen_fd_);  // each loop registers its own descriptor of it
        if (fd < 0 || !loop().watch(fd)) return;
        while (!stopping_) {
            const int c = nonblocking(::accept(fd, nullptr, nullptr));
            if (c >= 0) {
                const int one = 1;
                ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                loop().spawn([this, c] { serve(c); });
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED)
                loop().wait(fd, FiberLoop::Direction::read, FiberLoop::clock::now() + tick);
            else
                loop().sleep_until(FiberLoop::clock::now() + tick);  // EMFILE and the like: let connections end
        }
        loop().forget(fd);
        ::close(fd);
    }

    /// Reads at least one byte into `in`; false at EOF, on an error, or when stopping.
    bool read_more(int fd, std::string& in) {
        char buf[16384];
        for (;;) {
            loop().consume(fd, FiberLoop::Direction::read);
            const auto n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
            if (n > 0) {
                in.append(buf, static_cast<std::size_t>(n));
                return true;
            }
            if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) return false;
            while (!loop().wait(fd, FiberLoop::Direction::read, FiberLoop::clock::now() + tick))
                if (stopping_) return false;
        }
    }

    bool send_all(int fd, std::string_view data) {
        while (!data.empty()) {
            loop().consume(fd, FiberLoop::Direction::write);
            const auto n = ::send(fd, data.data(), data.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n > 0) {
                data.remove_prefix(static_cast<std::size_t>(n));
                continue;
            }
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return false;
            while (!loop().wait(fd, FiberLoop::Direction::write, FiberLoop::clock::now() + tick))
                if (stopping_) return false;
        }
        return true;
    }

    void serve(int fd) {
        if (loop().watch(fd)) {
            std::string in;
            while (!stopping_ && serve_one(fd, in)) {
            }
            loop().forget(fd);
        }
        ::close(fd);
    }

    /// One request and its response; false when the connection is to close.
    bool serve_one(int fd, std::string& in) {
        std::size_t head_end;
        while ((head_end = in.find("\r\n\r\n")) == std::string::npos)
            if (in.size() > 65536 || !read_more(fd, in)) return false;
        httplib::Request req;
        bool close = false;
        std::size_t content_length = 0;
        const std::string_view head(in.data(), head_end);
        const auto line_end = head.find("\r\n");
        const std::string_view request_line = head.substr(0, line_end);
        const auto sp1 = request_line.find(' '), sp2 = request_line.rfind(' ');
        if (sp1 == std::string_view::npos || sp2 <= sp1) return false;
        req.method = std::string(request_line.substr(0, sp1));
        req.path = std::string(request_line.substr(sp1 + 1, sp2 - sp1 - 1));
        req.version = std::string(request_line.substr(sp2 + 1));
        for_each_header_field(head, line_end == std::string_view::npos ? head.size() : line_end + 2, [&](std::string_view name, std::string_view value) {
            const std::string lower = ascii_lower(name);
            if (lower == "content-length") content_length = std::strtoull(std::string(value).c_str(), nullptr, 10);
            if (lower == "connection" && ascii_lower(value) == "close") close = true;
            req.headers.emplace(std::string(name), std::string(value));
        });
        const std::size_t body_at = head_end + 4;
        while (in.size() < body_at + content_length)
            if (!read_more(fd, in)) return false;
        req.body = in.substr(body_at, content_length);
        in.erase(0, body_at + content_length);

        httplib::Response res;
        const Route* found = nullptr;
        for (const auto& r : routes_)
            if (r.method == req.method && r.path == req.path) found = &r;
        if (found == nullptr) res.status = 404;
        else found->handler(req, res);
        if (res.status == -1) res.status = 200;
        std::string out = "HTTP/1.1 " + std::to_string(res.status) + " " + reason(res.status) + "\r\n";
        for (const auto& [name, value] : res.headers) out += name + ": " + value + "\r\n";
        out += close ? "Connection: close\r\n" : "Connection: keep-alive\r\n";
        if (!res.content_provider_) {
            out += "Content-Length: " + std::to_string(res.body.size()) + "\r\n\r\n" + res.body;
            return send_all(fd, out) && !close;
        }
        // A chunked content provider (the mocks' streams): called until it calls done().
        out += "Transfer-Encoding: chunked\r\n\r\n";
        if (!send_all(fd, out)) return false;
        bool done = false, ok = true;
        std::size_t offset = 0;
        httplib::DataSink sink;
        sink.write = [&](const char* data, std::size_t n) {
            char size[24];
            std::snprintf(size, sizeof size, "%zx\r\n", n);
            ok = ok && send_all(fd, std::string(size) + std::string(data, n) + "\r\n");
            offset += n;
            return ok;
        };
        sink.done = [&] {
            if (!done) ok = ok && send_all(fd, "0\r\n\r\n");
            done = true;
        };
        sink.is_writable = [&] { return ok; };
        // A call writes one event (a token). Between two, the loop's other streams write theirs,
        // as a server's batch step gives every stream a token: at zero delay, thousands of
        // streams are then in flight together, not served one after another.
        while (ok && !done) {
            if (!res.content_provider_(offset, 0, sink)) ok = false;
            else if (!done) loop().yield();
        }
        res.content_provider_success_ = ok && done;
        return ok && done && !close;
    }

    std::vector<Route> routes_;
    std::vector<std::thread> threads_;
    std::atomic<bool> stopping_{false};
    int listen_fd_ = -1;
    int port_ = 0;
};

}  // namespace llmbench::detail
#endif
