// libFuzzer target: whole responses through both clients, as a server would send them. The
// input is served by an in-process server that answers every request with it, byte for byte,
// so the Ollama NDJSON parser, the OpenAI SSE/JSON parser and the HTTP reader all see it.
#include <llmbench/client/ollama_client.hpp>
#include <llmbench/client/openai_client.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>

#include "fuzz_targets.hpp"

namespace {

/// Serves `response` (status line and all) to every connection, then closes it.
class RawResponder {
public:
    RawResponder() {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        ::bind(fd_, reinterpret_cast<sockaddr*>(&a), len);
        ::listen(fd_, 16);
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
        port_ = ntohs(a.sin_port);
        thread_ = std::thread([this] {
            for (;;) {
                const int c = ::accept(fd_, nullptr, nullptr);
                if (c < 0) return;
                char buf[8192];
                (void)::recv(c, buf, sizeof buf, 0);  // the request; its content does not matter
                std::string r;
                {
                    std::lock_guard<std::mutex> lock(mutex_);
                    r = response_;
                }
                (void)::send(c, r.data(), r.size(), MSG_NOSIGNAL);
                ::close(c);
            }
        });
    }
    void set(std::string response) {
        std::lock_guard<std::mutex> lock(mutex_);
        response_ = std::move(response);
    }
    int port() const { return port_; }

private:
    int fd_ = -1, port_ = 0;
    std::mutex mutex_;
    std::string response_;
    std::thread thread_;
};

RawResponder& server() {
    static RawResponder* s = new RawResponder();  // lives for the whole fuzzing process
    return *s;
}

}  // namespace

int fuzz::streams(const std::uint8_t* data, std::size_t size) {
    // The input is a body; a valid head in front keeps the parsers, not the status line, busy.
    const std::string body(reinterpret_cast<const char*>(data), size);
    server().set("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + (size ? [&] {
        char hex[32];
        std::snprintf(hex, sizeof hex, "%zx\r\n", size);
        return std::string(hex) + body + "\r\n";
    }() : std::string()) + "0\r\n\r\n");
    llmbench::ClientOptions options;
    options.timeouts.first_byte_s = options.timeouts.idle_s = 2;
    options.max_line_bytes = 1 << 20;
    llmbench::Endpoint e;
    e.port = server().port();
    llmbench::OllamaClient ollama(e, options);
    llmbench::GenerateRequest g;
    g.model = "m";
    g.prompt = "p";
    llmbench::StreamTimer timer;
    (void)ollama.generate(g, timer);
    llmbench::OpenAIClientOptions openai_options;
    openai_options.timeouts = options.timeouts;
    llmbench::OpenAIClient openai("http://127.0.0.1:" + std::to_string(server().port()), openai_options);
    (void)openai.completion(g, timer);
    (void)openai.native_completion(g, timer);
    return 0;
}
