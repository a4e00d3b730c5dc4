// llmbench/detail/poller.hpp - which sockets became ready, edge-triggered: epoll on Linux,
// kqueue on macOS and the BSDs. FiberLoop (fiber_loop.hpp) is its one user: a socket is
// registered once for both directions, and one wait reports every socket that became readable
// or writable since the last, up to a batch size.
//
// kqueue reports a socket's two directions as two events (EVFILT_READ, EVFILT_WRITE), epoll as
// one; each reaches on_ready on its own, which the loop accumulates either way. Defining
// LLMBENCH_POLLER_KQUEUE selects kqueue on Linux too, through libkqueue (not in Debian's
// packages; docs/scale.md says how the tests run that way).
#pragma once

#if defined(LLMBENCH_POLLER_KQUEUE) || defined(__APPLE__) || defined(__FreeBSD__) || defined(__NetBSD__) || defined(__OpenBSD__) || \
    defined(__DragonFly__)
#define LLMBENCH_HAS_POLLER 1
#define LLMBENCH_POLLER_USES_KQUEUE 1
#include <sys/types.h>
#include <sys/event.h>
#include <sys/time.h>
#include <fcntl.h>
#elif defined(__linux__)
#define LLMBENCH_HAS_POLLER 1
#define LLMBENCH_POLLER_USES_KQUEUE 0
#include <sys/epoll.h>
#else
#define LLMBENCH_HAS_POLLER 0
#endif

#if LLMBENCH_HAS_POLLER
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <vector>

#include "llmbench/core/error.hpp"

namespace llmbench::detail {

class Poller {
public:
    /// "epoll" or "kqueue": what this build waits with.
    static constexpr const char* name() noexcept { return LLMBENCH_POLLER_USES_KQUEUE ? "kqueue" : "epoll"; }

    /// Reports at most `batch` sockets' events per wait.
    explicit Poller(std::size_t batch = 4096) : events_(batch) {
#if LLMBENCH_POLLER_USES_KQUEUE
        fd_ = ::kqueue();
        if (fd_ >= 0) ::fcntl(fd_, F_SETFD, FD_CLOEXEC);
#else
        fd_ = ::epoll_create1(EPOLL_CLOEXEC);
#endif
        if (fd_ < 0) throw error(errc::io, std::string("cannot create ") + (LLMBENCH_POLLER_USES_KQUEUE ? "a kqueue" : "an epoll instance") + " (errno " + std::to_string(errno) + ")");
    }
    Poller(const Poller&) = delete;
    Poller& operator=(const Poller&) = delete;
    ~Poller() { ::close(fd_); }

    /// Watches `fd` in both directions, edge-triggered, until forget(fd); false when refused.
    bool watch(int fd) {
#if LLMBENCH_POLLER_USES_KQUEUE
        struct kevent changes[2];
        EV_SET(&changes[0], static_cast<uintptr_t>(fd), EVFILT_READ, EV_ADD | EV_CLEAR, 0, 0, nullptr);
        EV_SET(&changes[1], static_cast<uintptr_t>(fd), EVFILT_WRITE, EV_ADD | EV_CLEAR, 0, 0, nullptr);
        return ::kevent(fd_, changes, 2, nullptr, 0, nullptr) == 0;
#else
        epoll_event e{};
        e.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
        e.data.fd = fd;
        return ::epoll_ctl(fd_, EPOLL_CTL_ADD, fd, &e) == 0;
#endif
    }

    /// Before `fd` is closed (a descriptor reused later must start unwatched).
    void forget(int fd) {
#if LLMBENCH_POLLER_USES_KQUEUE
        struct kevent changes[2];
        EV_SET(&changes[0], static_cast<uintptr_t>(fd), EVFILT_READ, EV_DELETE, 0, 0, nullptr);
        EV_SET(&changes[1], static_cast<uintptr_t>(fd), EVFILT_WRITE, EV_DELETE, 0, 0, nullptr);
        ::kevent(fd_, changes, 2, nullptr, 0, nullptr);
#else
        ::epoll_ctl(fd_, EPOLL_CTL_DEL, fd, nullptr);
#endif
    }

    /// Waits up to `timeout_ms` (0: only a look) and calls on_ready(fd, readable, writable) per
    /// event; an error or hang-up counts as both, so that whoever waits finds it out by reading
    /// or writing. Returns the number of events (0 on a timeout or an interrupted wait).
    template <class OnReady>
    int wait(int timeout_ms, OnReady&& on_ready) {
        timeout_ms = std::max(timeout_ms, 0);
#if LLMBENCH_POLLER_USES_KQUEUE
        const timespec timeout{timeout_ms / 1000, static_cast<long>(timeout_ms % 1000) * 1000000L};
        const int n = ::kevent(fd_, nullptr, 0, events_.data(), static_cast<int>(events_.size()), &timeout);
        for (int i = 0; i < n; ++i) {
            const auto& e = events_[static_cast<std::size_t>(i)];
            const bool failed = (e.flags & EV_ERROR) != 0;
            on_ready(static_cast<int>(e.ident), failed || e.filter == EVFILT_READ, failed || e.filter == EVFILT_WRITE);
        }
#else
        const int n = ::epoll_wait(fd_, events_.data(), static_cast<int>(events_.size()), timeout_ms);
        for (int i = 0; i < n; ++i) {
            const auto& e = events_[static_cast<std::size_t>(i)];
            const bool failed = (e.events & (EPOLLERR | EPOLLHUP)) != 0;
            on_ready(e.data.fd, failed || (e.events & (EPOLLIN | EPOLLRDHUP)) != 0, failed || (e.events & EPOLLOUT) != 0);
        }
#endif
        return std::max(n, 0);
    }

private:
    int fd_ = -1;
#if LLMBENCH_POLLER_USES_KQUEUE
    std::vector<struct kevent> events_;
#else
    std::vector<epoll_event> events_;
#endif
};

}  // namespace llmbench::detail

#endif
