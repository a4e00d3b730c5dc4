// llmbench/testing/loopback_server.hpp - what both mocks do to serve: bind a free port on
// 127.0.0.1 with a listen backlog fit for load tests, and listen on a thread of their own.
//
// cpp-httplib listens with a backlog of 5 (CPPHTTPLIB_LISTEN_BACKLOG, fixed when httplib.h is
// first included). A load test opens hundreds of connections at once; beyond the backlog the
// kernel drops the SYNs, and the client retries only after a second, which would show up as
// connect timeouts no real server gives. Linux and the BSDs accept listen() again on a
// listening socket to change its backlog, so the backlog is widened right after binding.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>

#include "llmbench/core/error.hpp"
#include "llmbench/core/json.hpp"
#include "llmbench/core/response.hpp"

namespace llmbench::detail {

class LoopbackServer {
public:
    LoopbackServer() = default;
    LoopbackServer(const LoopbackServer&) = delete;
    LoopbackServer& operator=(const LoopbackServer&) = delete;
    ~LoopbackServer() { stop(); }

    /// Binds `server` (its routes already set) and serves it until stop(); returns once it
    /// accepts connections. `who` names the server in the error when no port can be bound.
    void start(httplib::Server& server, const std::string& who) {
        server_ = &server;
        who_ = who;
        server.set_socket_options([listening = listening_](socket_t sock) {  // the server keeps this copy
            httplib::default_socket_options(sock);
            *listening = sock;
        });
        port_ = server.bind_to_any_port("127.0.0.1");
        if (port_ <= 0) throw error(errc::io, who + ": cannot bind a port on 127.0.0.1");
        listen();
    }

    /// After stop(): listens on the same port again, as a restarted server does.
    void restart() {
        if (!server_->bind_to_port("127.0.0.1", port_)) throw error(errc::io, who_ + ": cannot bind port " + std::to_string(port_) + " again");
        listen();
    }

    /// Stops accepting, ends open connections, and joins the listening thread.
    void stop() {
        if (server_) server_->stop();
        if (thread_.joinable()) thread_.join();
    }

    int port() const noexcept { return port_; }

private:
    void listen() {
        // cpp-httplib 0.11 listens with a backlog of 5; a load test's burst of connects needs more.
        if (*listening_ != INVALID_SOCKET) ::listen(*listening_, SOMAXCONN);
        thread_ = std::thread([server = server_] { server->listen_after_bind(); });
        while (!server_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }

    httplib::Server* server_ = nullptr;
    std::string who_;
    int port_ = 0;
    std::shared_ptr<socket_t> listening_ = std::make_shared<socket_t>(INVALID_SOCKET);
    std::thread thread_;
};

/// How both mocks cut a scripted text into tokens: a word with its leading space or newline.
/// " The answer is B." -> " The", " answer", " is", " B."
inline std::vector<std::string> mock_tokens(const std::string& text) {
    std::vector<std::string> out;
    std::string cur;
    for (char c : text) {
        if ((c == ' ' || c == '\n') && !cur.empty() && cur.find_first_not_of(" \n") != std::string::npos) {
            out.push_back(cur);
            cur.clear();
        }
        cur += c;
    }
    if (!cur.empty()) out.push_back(cur);
    return out;
}

/// The `logprobs` entry the mocks send for generated token number `index`, shaped as the
/// captures: {token, logprob, bytes, top_logprobs} from Ollama; llama-server puts its vocabulary
/// id first and bytes before logprob. The sampled token is the most likely one, as at
/// temperature 0; `top` alternatives follow it, each 0.5 less likely ("<alt1>", ...). With
/// `scripted` alternatives (most likely first; `token` is the first), the first `top` of them.
inline void write_mock_logprob(JsonWriter& w, const std::string& token, std::size_t index, int top, bool llamacpp,
                               const std::vector<TokenLogprob>& scripted = {}) {
    const auto entry = [&](const std::string& t, std::int64_t id, double logprob) {
        w.begin_object();
        if (llamacpp) w.kv("id", id).kv("token", t);
        else w.kv("token", t).kv("logprob", logprob);
        w.key("bytes").begin_array();
        for (char c : t) w.value(static_cast<int>(static_cast<unsigned char>(c)));
        w.end_array();
        if (llamacpp) w.kv("logprob", logprob);
    };
    const double sampled = scripted.empty() ? -0.125 * static_cast<double>(1 + index % 8) : scripted.front().logprob;
    entry(token, 1000 + static_cast<std::int64_t>(index), sampled);
    w.key("top_logprobs").begin_array();
    for (int k = 0; k < top; ++k) {
        const auto i = static_cast<std::size_t>(k);
        if (i < scripted.size()) entry(scripted[i].token, scripted[i].id.value_or(2000 + k), scripted[i].logprob);
        else if (k == 0) entry(token, 1000 + static_cast<std::int64_t>(index), sampled);
        else entry("<alt" + std::to_string(k) + ">", k, (scripted.empty() ? sampled : scripted.back().logprob) - 0.5 * k);
        w.end_object();
    }
    w.end_array().end_object();
}

}  // namespace llmbench::detail

namespace llmbench::testing {

/// A scripted first generated token for a prompt: the alternatives at its place with their
/// log-probabilities, most likely first. The mock's reply starts with the first one, and a
/// request for logprobs gets the first top_logprobs of them there. Empty: the usual reply.
using FirstTokenScript = std::function<std::vector<TokenLogprob>(const std::string& prompt)>;

}  // namespace llmbench::testing
