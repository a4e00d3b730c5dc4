// The socket reader behind streamed requests (detail/http_stream.hpp): HTTP/1.1 framing,
// connection reuse, and kernel receive times that a late reader does not distort.
#include <llmbench/detail/http_stream.hpp>
#include <llmbench/client/ollama_client.hpp>
#include <llmbench/core/run_record.hpp>
#include <llmbench/testing/mock_ollama.hpp>

#if LLMBENCH_HAS_HTTP_STREAM

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <doctest/doctest.h>

using namespace llmbench;
using namespace std::chrono_literals;

namespace {

/// A bare TCP server: each request on a connection is answered by `respond(fd, request)`,
/// which writes the raw response and returns whether to keep the connection open. It accepts
/// its first connection only after `hold`; with a `backlog` of 0 one connection waiting in
/// the kernel fills the queue, and the next client's SYN is dropped until then.
class RawServer {
public:
    using Respond = std::function<bool(int fd, const std::string& request)>;
    explicit RawServer(Respond respond, int backlog = 16, std::chrono::milliseconds hold = {}) : respond_(std::move(respond)), hold_(hold) {
        listen_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        REQUIRE(::bind(listen_, reinterpret_cast<sockaddr*>(&a), len) == 0);
        REQUIRE(::listen(listen_, backlog) == 0);
        REQUIRE(::getsockname(listen_, reinterpret_cast<sockaddr*>(&a), &len) == 0);
        port_ = ntohs(a.sin_port);
        thread_ = std::thread([this] { serve(); });
    }
    ~RawServer() {
        ::shutdown(listen_, SHUT_RDWR);
        ::close(listen_);
        thread_.join();
    }
    Endpoint endpoint() const {
        Endpoint e;
        e.port = port_;
        return e;
    }
    int connections() const { return connections_; }

    static void write_all(int fd, std::string_view bytes) {
        while (!bytes.empty()) {
            const auto n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (n <= 0) return;
            bytes.remove_prefix(static_cast<std::size_t>(n));
        }
    }

private:
    void serve() {
        std::this_thread::sleep_for(hold_);
        for (;;) {
            const int fd = ::accept(listen_, nullptr, nullptr);
            if (fd < 0) return;
            ++connections_;
            std::string buffer;
            char chunk[4096];
            bool open = true;
            while (open) {
                const auto end = buffer.find("\r\n\r\n");
                if (end != std::string::npos) {
                    const auto cl = buffer.find("Content-Length: ");
                    const std::size_t body = cl == std::string::npos ? 0 : std::stoul(buffer.substr(cl + 16));
                    if (buffer.size() >= end + 4 + body) {
                        open = respond_(fd, buffer.substr(0, end + 4 + body));
                        buffer.erase(0, end + 4 + body);
                        continue;
                    }
                }
                const auto n = ::recv(fd, chunk, sizeof chunk, 0);
                if (n <= 0) break;
                buffer.append(chunk, static_cast<std::size_t>(n));
            }
            ::close(fd);
        }
    }

    Respond respond_;
    std::chrono::milliseconds hold_;
    int listen_ = -1;
    int port_ = 0;
    std::atomic<int> connections_{0};
    std::thread thread_;
};

struct Read {
    llmbench::detail::PostOutcome outcome;
    std::vector<std::string> lines;
};

Read post(llmbench::detail::HttpStream& stream, Timeouts timeouts = {}) {
    Read out;
    StreamTimer timer;
    LineFramer framer;
    std::uint64_t bytes = 0;
    out.outcome = stream.post("/api/generate", {{"Content-Type", "application/json"}}, "{}", timer, timeouts, framer, bytes,
                              [&](std::string_view line, std::uint64_t, StreamTimer::time_point) {
                                  out.lines.emplace_back(line);
                                  return true;
                              });
    if (!framer.pending().empty()) out.lines.emplace_back(framer.pending());
    return out;
}

}  // namespace

TEST_CASE("chunked bodies with extensions and trailers, sent a byte at a time, then reuse of the connection") {
    RawServer server([](int fd, const std::string& request) {
        CHECK(request.rfind("POST /api/generate HTTP/1.1\r\n", 0) == 0);
        CHECK(request.find("Host: 127.0.0.1:") != std::string::npos);
        CHECK(request.find("\r\nContent-Length: 2\r\n") != std::string::npos);
        CHECK(request.substr(request.size() - 6) == "\r\n\r\n{}");
        const std::string response =
            "HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nTRANSFER-ENCODING: Chunked\r\n\r\n"
            "6;ext=1\r\n{\"a\":1\r\n"
            "3\r\n}\n{\r\n"
            "6\r\n\"b\":2}\r\n"
            "1\r\n\n\r\n"
            "0\r\nX-Trailer: yes\r\n\r\n";
        for (char c : response) RawServer::write_all(fd, std::string_view(&c, 1));
        return true;
    });
    llmbench::detail::HttpStream stream(server.endpoint());
    for (int i = 0; i < 3; ++i) {
        const Read r = post(stream);
        CHECK(r.outcome.status == 200);
        CHECK(r.outcome.error == httplib::Error::Success);
        CHECK(r.lines == std::vector<std::string>{"{\"a\":1}", "{\"b\":2}"});
    }
    CHECK(server.connections() == 1);  // kept alive
}

TEST_CASE("connect_s: the connection's setup is timed inside ttft_s - 0 on a kept-alive connection, unknown over cpp-httplib") {
    const std::string reply = "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n{\"x\":1}\n";
    // Backlog 0 and a first accept held 500 ms: a connection waiting in the kernel fills the
    // queue, so the client's SYN is dropped and retried (Linux: after 1 s) until the server
    // takes the first one. Its connect cannot complete before then.
    RawServer server([&](int fd, const std::string&) {
        RawServer::write_all(fd, reply);
        return true;
    }, 0, 500ms);
    const int filler = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<std::uint16_t>(server.endpoint().port));
    REQUIRE(::connect(filler, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    ::close(filler);  // still queued: the server accepts it, reads its end, and goes on

    llmbench::detail::HttpStream stream(server.endpoint());
    const auto send = [&stream](StreamTimer& timer) {
        Timeouts t;
        t.connect_s = 10;
        LineFramer framer;
        std::uint64_t bytes = 0;
        return stream.post("/api/generate", {}, "{}", timer, t, framer, bytes,
                           [](std::string_view, std::uint64_t, StreamTimer::time_point) { return true; });
    };
    StreamTimer first_timer;
    REQUIRE(send(first_timer).status == 200);
    REQUIRE(first_timer.connect_s());
    CHECK(*first_timer.connect_s() >= 0.45);  // not before the server's first accept, 500 ms after it started
    REQUIRE(first_timer.first_byte_s());
    CHECK(*first_timer.first_byte_s() >= *first_timer.connect_s());

    StreamTimer second_timer;
    REQUIRE(send(second_timer).status == 200);
    CHECK(second_timer.connect_s() == 0.0);  // kept alive: nothing to set up
    CHECK(server.connections() == 2);        // the filler and ours

    // The record carries it; the cpp-httplib transport does not know it.
    testing::MockOllama mock;
    for (const bool kernel : {true, false}) {
        INFO("kernel_timestamps " << kernel);
        ClientOptions options;
        options.kernel_timestamps = kernel;
        OllamaClient client(mock.endpoint(), options);
        GenerateRequest r;
        r.model = "llama3.1:8b";
        r.prompt = "hi";
        StreamTimer timer;
        const auto record = make_run_record(client.generate(r, timer), timer, RunIdentity{});
        REQUIRE(record.ok());
        CHECK(record.client.connect_s.has_value() == kernel);
        CHECK(record.to_json().find(kernel ? R"("connect_s":)" : R"("connect_s":null)") != std::string::npos);
    }
}

TEST_CASE("Content-Length and close-delimited bodies - a server that closed a kept-alive connection is reconnected") {
    std::atomic<int> served{0};
    RawServer server([&](int fd, const std::string&) {
        const int n = ++served;
        if (n == 1) {  // sized body, then the server drops the idle connection
            RawServer::write_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n{\"x\":1}\n");
            return false;
        }
        if (n == 2) {  // HTTP/1.0 style: the body ends at close
            RawServer::write_all(fd, "HTTP/1.0 200 OK\r\nContent-Type: application/x-ndjson\r\n\r\n{\"y\":2}\n{\"z\":3}");
            return false;
        }
        RawServer::write_all(fd, "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 22\r\nConnection: close\r\n\r\n{\"error\":\"no runner\"}\n");
        return false;
    });
    llmbench::detail::HttpStream stream(server.endpoint());
    Read r = post(stream);
    CHECK(r.lines == std::vector<std::string>{"{\"x\":1}"});
    r = post(stream);  // the kept connection is dead: sent again on a new one
    CHECK(r.outcome.status == 200);
    CHECK(r.lines == std::vector<std::string>{"{\"y\":2}", "{\"z\":3}"});
    r = post(stream);
    CHECK(r.outcome.status == 503);
    CHECK(r.outcome.error_body == "{\"error\":\"no runner\"}\n");
    CHECK(r.lines.empty());
    CHECK(server.connections() == 3);
}

TEST_CASE("a chunk-size line longer than any server sends is a read error, not unbounded memory") {
    RawServer server([](int fd, const std::string&) {
        RawServer::write_all(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{}\n\n\r\n");
        RawServer::write_all(fd, std::string(200 * 1024, '0'));  // a size line that never ends
        return false;
    });
    llmbench::detail::HttpStream stream(server.endpoint());
    const Read r = post(stream);
    CHECK(r.outcome.status == 200);
    CHECK(r.outcome.error == httplib::Error::Read);
    CHECK(r.lines == std::vector<std::string>{"{}", ""});  // what came before is kept
    llmbench::detail::ChunkedDecoder d;
    // A size line cut by a read is taken whole into the decoder: the reader plans its reads
    // (before the first token) by what a dry run consumes, and read one byte at a time here.
    CHECK(d.feed("1f", 2, [](const char*, std::size_t) { return true; }).consumed == 2);
    const std::string huge(llmbench::detail::ChunkedDecoder::max_line_bytes + 1, 'f');
    CHECK(d.feed(huge.data(), huge.size(), [](const char*, std::size_t) { return true; }).malformed);
}

TEST_CASE("timeouts: silence before the first byte and between body reads - nothing listening") {
    RawServer server([](int fd, const std::string& request) {
        if (request.find("stall") != std::string::npos) {
            RawServer::write_all(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{}\n\n\r\n");
            std::this_thread::sleep_for(400ms);
        } else {
            std::this_thread::sleep_for(400ms);
        }
        return false;
    });
    Timeouts t;
    t.first_byte_s = 0.15;
    t.idle_s = 0.15;
    llmbench::detail::HttpStream stream(server.endpoint());
    Read r = post(stream, t);
    CHECK(r.outcome.fired == llmbench::detail::StallGuard<httplib::Client>::fired_by::first_byte);
    t.first_byte_s = 5;  // the one-connection server is still asleep on the first request
    StreamTimer timer;
    LineFramer framer;
    std::uint64_t bytes = 0;
    std::vector<std::string> lines;
    const auto stalled = stream.post("/stall", {}, "", timer, t, framer, bytes, [&](std::string_view line, std::uint64_t, StreamTimer::time_point) {
        lines.emplace_back(line);
        return true;
    });
    CHECK(stalled.fired == llmbench::detail::StallGuard<httplib::Client>::fired_by::idle);
    CHECK(lines == std::vector<std::string>{"{}", ""});

    Endpoint nowhere;
    nowhere.port = 1;  // nothing listens on port 1
    llmbench::detail::HttpStream refused(nowhere);
    CHECK(post(refused).outcome.error == httplib::Error::Connection);
}

TEST_CASE("kernel receive times: a token that waited for a busy reader keeps its arrival time") {
    // Tokens 40 ms apart; the reader is busy for 250 ms after the first. The second token sits
    // alone in the socket from +40 ms until the reader comes back at +250 ms.
    testing::MockConfig cfg;
    cfg.token_delay = 40ms;
    testing::MockOllama mock(cfg);
    GenerateRequest request;
    request.model = "llama3.1:8b";
    request.prompt = "late reader";
    request.options.num_predict = 3;
    const auto first_gap = [&](bool kernel_timestamps) {
        ClientOptions options;
        options.kernel_timestamps = kernel_timestamps;
        OllamaClient client(mock.endpoint(), options);
        StreamTimer timer;
        bool first = true;
        const auto r = client.generate(request, timer, [&](const StreamEvent& e) {
            if (!e.text.empty() && std::exchange(first, false)) std::this_thread::sleep_for(250ms);
        });
        REQUIRE(r.ok());
        REQUIRE(timer.gaps_s().size() == 2);
        const auto writes = mock.requests().back().writes;  // the mock's own clock: ground truth
        REQUIRE(writes.size() >= 2);
        return std::make_pair(timer.gaps_s()[0], std::chrono::duration<double>(writes[1] - writes[0]).count());
    };
    // Compared with when the mock wrote the two tokens, not with a fixed 40 ms: a busy machine
    // may wake the mock late, but the kernel's times follow the writes, whatever the reader does.
    // Stamping when the read returns would be 210 ms off; the margin is for a late writer.
    const auto [kernel, written] = first_gap(true);
    CHECK(written >= 0.039);
    CHECK(std::abs(kernel - written) < 0.100);  // the writes' gap, not the reader's 250 ms
    CHECK(first_gap(false).first >= 0.249);     // stamped when the read returned
}

#endif
