// A server that replays one captured response body, cut into HTTP chunks of a chosen size.
#pragma once

#include <string>
#include <thread>

#include <httplib.h>

#include "test_util.hpp"

class ReplayServer {
public:
    ReplayServer(test_util::Capture capture, std::size_t chunk_bytes, std::string content_type = "application/x-ndjson")
        : capture_(std::move(capture)), chunk_(chunk_bytes), type_(std::move(content_type)) {
        auto handler = [this](const httplib::Request&, httplib::Response& res) {
            res.status = capture_.status;
            if (chunk_ == 0) {
                res.set_content(capture_.body, type_);
                return;
            }
            res.set_chunked_content_provider(type_, [this](std::size_t offset, httplib::DataSink& sink) {
                if (offset >= capture_.body.size()) {
                    sink.done();
                    return true;
                }
                const std::size_t n = std::min(chunk_, capture_.body.size() - offset);
                return sink.write(capture_.body.data() + offset, n);
            });
        };
        server_.Get(".*", handler);
        server_.Post(".*", handler);
        port_ = server_.bind_to_any_port("127.0.0.1");
        thread_ = std::thread([this] { server_.listen_after_bind(); });
        while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ~ReplayServer() {
        server_.stop();
        thread_.join();
    }
    std::string host() const { return "127.0.0.1:" + std::to_string(port_); }

private:
    test_util::Capture capture_;
    std::size_t chunk_;
    std::string type_;
    httplib::Server server_;
    int port_ = 0;
    std::thread thread_;
};
