// llmbench/testing/listen_backlog.hpp - a listen backlog fit for load tests, for the mocks.
//
// cpp-httplib listens with a backlog of 5 (CPPHTTPLIB_LISTEN_BACKLOG, fixed when httplib.h is
// first included). A load test opens hundreds of connections at once; beyond the backlog the
// kernel drops the SYNs, and the client retries only after a second, which would show up as
// connect timeouts no real server gives. Linux and the BSDs accept listen() again on a
// listening socket to change its backlog, so the mock widens it right after binding.
#pragma once

#include <memory>

#include <httplib.h>

namespace llmbench::detail {

class ListenBacklog {
public:
    /// Call before the server binds: remembers the listening socket.
    explicit ListenBacklog(httplib::Server& server) {
        server.set_socket_options([socket = socket_](socket_t sock) {  // the server keeps this copy
            httplib::default_socket_options(sock);
            *socket = sock;
        });
    }
    /// Call after the server bound: the backlog becomes SOMAXCONN.
    void widen() const {
        if (*socket_ != INVALID_SOCKET) ::listen(*socket_, SOMAXCONN);
    }

private:
    std::shared_ptr<socket_t> socket_ = std::make_shared<socket_t>(INVALID_SOCKET);
};

}  // namespace llmbench::detail
