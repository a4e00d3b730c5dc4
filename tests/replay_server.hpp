// A server that replays one captured response body, cut into HTTP chunks of a chosen size.
#pragma once

#include <string>

#include <httplib.h>
#include <llmbench/testing/loopback_server.hpp>

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
        listener_.start(server_, "replay server");
    }
    std::string host() const { return "127.0.0.1:" + std::to_string(listener_.port()); }

private:
    test_util::Capture capture_;
    std::size_t chunk_;
    std::string type_;
    httplib::Server server_;
    llmbench::detail::LoopbackServer listener_;
};
