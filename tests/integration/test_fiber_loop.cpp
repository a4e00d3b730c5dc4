// The event loop under run_load: the poller, fibers that take turns where they wait, socket
// waits that end on an edge or a deadline, first tokens first. Only fiber_loop.hpp and
// doctest, so that it also builds for another architecture and runs under an emulator
// (tests/cross/aarch64.cmake: the 64-bit ARM fiber switch). Streams in the loop:
// test_fiber_streams.cpp.
#include <llmbench/detail/fiber_loop.hpp>

#if LLMBENCH_HAS_FIBER_LOOP

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cfenv>
#include <chrono>
#include <csignal>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

using namespace std::chrono_literals;
using llmbench::detail::FiberLoop;

TEST_CASE("the poller reports each new edge once, a hang-up as readable, and nothing for a forgotten socket") {
    using llmbench::detail::Poller;
    // Whichever this build waits with: epoll on Linux, kqueue on macOS and the BSDs (and on
    // Linux in a build with -DLLMBENCH_LIBKQUEUE).
    CHECK(std::string(Poller::name()) == (LLMBENCH_POLLER_USES_KQUEUE ? "kqueue" : "epoll"));
    int a[2], b[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, a) == 0);
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, b) == 0);
    Poller poller(8);
    REQUIRE(poller.watch(a[0]));
    REQUIRE(poller.watch(b[0]));
    struct Seen {
        bool readable = false, writable = false;
    };
    const auto wait = [&](int timeout_ms) {
        std::vector<Seen> seen(64);
        poller.wait(timeout_ms, [&](int fd, bool readable, bool writable) {
            REQUIRE(fd >= 0);
            REQUIRE(fd < 64);
            seen[static_cast<std::size_t>(fd)].readable |= readable;
            seen[static_cast<std::size_t>(fd)].writable |= writable;
        });
        return seen;
    };
    auto seen = wait(1000);  // both just registered: room to write, nothing to read
    CHECK(seen[static_cast<std::size_t>(a[0])].writable);
    CHECK_FALSE(seen[static_cast<std::size_t>(a[0])].readable);
    seen = wait(0);  // edge-triggered: no new edge, no event
    CHECK_FALSE(seen[static_cast<std::size_t>(a[0])].readable);
    CHECK_FALSE(seen[static_cast<std::size_t>(a[0])].writable);
    REQUIRE(::write(a[1], "x", 1) == 1);
    seen = wait(1000);
    CHECK(seen[static_cast<std::size_t>(a[0])].readable);
    CHECK_FALSE(seen[static_cast<std::size_t>(b[0])].readable);
    poller.forget(a[0]);
    REQUIRE(::write(a[1], "y", 1) == 1);
    ::close(b[1]);  // b's peer hangs up
    seen = wait(1000);
    CHECK_FALSE(seen[static_cast<std::size_t>(a[0])].readable);
    CHECK(seen[static_cast<std::size_t>(b[0])].readable);
    poller.forget(b[0]);
    for (int fd : {a[0], a[1], b[0]}) ::close(fd);
}

TEST_CASE("an event loop: fibers take turns where they wait, wake in deadline order, and a failure is rethrown after all end") {
    FiberLoop loop;
    std::vector<std::string> order;
    // Deadlines far apart, and far enough for every fiber to have started (a loaded machine or
    // an emulator can take tens of milliseconds): else two are due at once, or b before c runs.
    const auto t0 = FiberLoop::clock::now();
    loop.spawn([&] {
        order.push_back("a starts");
        llmbench::detail::sleep_until(t0 + 300ms);
        order.push_back("a wakes");
    });
    loop.spawn([&] {
        order.push_back("b starts");
        CHECK(FiberLoop::current() == &loop);
        llmbench::detail::sleep_until(t0 + 100ms);
        order.push_back("b wakes");
        throw std::runtime_error("b failed");
    });
    loop.spawn([&] { order.push_back("c ends"); });
    CHECK(FiberLoop::current() == nullptr);
    CHECK_THROWS_WITH_AS(loop.run(), "b failed", std::runtime_error);
    CHECK(FiberLoop::current() == nullptr);
    CHECK(order == std::vector<std::string>{"a starts", "b starts", "c ends", "b wakes", "a wakes"});  // a still ran to its end
    CHECK(FiberLoop::clock::now() - t0 >= 300ms);
}

TEST_CASE("each fiber keeps its own registers and floating-point rounding across switches - and the thread's signal mask is left alone") {
    FiberLoop loop;
    std::vector<int> rounding(2, -1);
    std::vector<double> sums(2, 0.0);
    sigset_t blocked_in_fiber;
    sigemptyset(&blocked_in_fiber);
    for (int id = 0; id < 2; ++id)
        loop.spawn([&, id] {
            if (id == 1) std::fesetround(FE_UPWARD);  // the other fiber keeps the default
            volatile double third = 1.0;
            double sum = 0;
            for (int i = 0; i < 1000; ++i) {
                sum += third / 3.0;  // rounded as this fiber's mode says
                FiberLoop::current()->yield();
            }
            sums[static_cast<std::size_t>(id)] = sum;
            rounding[static_cast<std::size_t>(id)] = std::fegetround();
            if (id == 0) {
                sigset_t usr1;
                sigemptyset(&usr1);
                sigaddset(&usr1, SIGUSR1);
                ::pthread_sigmask(SIG_BLOCK, &usr1, nullptr);
                FiberLoop::current()->yield();
                ::pthread_sigmask(SIG_BLOCK, nullptr, &blocked_in_fiber);  // as it was set, whoever ran meanwhile
                ::pthread_sigmask(SIG_UNBLOCK, &usr1, nullptr);
            }
        });
    loop.run();
    CHECK(rounding[0] == FE_TONEAREST);
    CHECK(rounding[1] == FE_UPWARD);
    CHECK(sums[1] > sums[0]);  // rounding up, every one of the 1,000 additions
    CHECK(std::fegetround() == FE_TONEAREST);  // the scheduler's own mode came back too
    CHECK(sigismember(&blocked_in_fiber, SIGUSR1) == 1);
}

TEST_CASE("an event loop: a socket wait ends when bytes arrive, and at its deadline when none do") {
    int pair[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, pair) == 0);
    FiberLoop loop;
    bool got_bytes = false, timed_out = false, second_edge = false;
    loop.spawn([&] {
        REQUIRE(FiberLoop::current()->watch(pair[0]));
        const auto start = FiberLoop::clock::now();
        got_bytes = FiberLoop::current()->wait(pair[0], FiberLoop::Direction::read, start + 5s);
        CHECK(FiberLoop::clock::now() - start < 4s);  // woken by the write, not the deadline
        char buf[16];
        CHECK(::read(pair[0], buf, sizeof buf) == 2);
        // Nothing more was written: this wait ends at its deadline.
        timed_out = !FiberLoop::current()->wait(pair[0], FiberLoop::Direction::read, FiberLoop::clock::now() + 20ms);
        // Bytes that arrive while the fiber is not waiting are an edge the next wait sees at once.
        llmbench::detail::sleep_until(FiberLoop::clock::now() + 30ms);
        second_edge = FiberLoop::current()->wait(pair[0], FiberLoop::Direction::read, FiberLoop::clock::now() + 5s);
        CHECK(::read(pair[0], buf, sizeof buf) == 1);
        FiberLoop::current()->forget(pair[0]);
    });
    loop.spawn([&] {
        llmbench::detail::sleep_until(FiberLoop::clock::now() + 10ms);
        CHECK(::write(pair[1], "hi", 2) == 2);
        llmbench::detail::sleep_until(FiberLoop::clock::now() + 40ms);  // the reader has timed out and sleeps
        CHECK(::write(pair[1], "!", 1) == 1);
    });
    loop.run();
    CHECK(got_bytes);
    CHECK(timed_out);
    CHECK(second_edge);
    ::close(pair[0]);
    ::close(pair[1]);
}

TEST_CASE("a socket wait whose bytes came before its deadline ends with them, however late the loop looks") {
    // The loop is held past the reader's deadline by another fiber, after the bytes arrived:
    // a blocking recvmsg would return them, so the wait must too, not time out.
    int pair[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, pair) == 0);
    FiberLoop loop;
    bool got_bytes = false;
    loop.spawn([&] {
        REQUIRE(FiberLoop::current()->watch(pair[0]));
        got_bytes = FiberLoop::current()->wait(pair[0], FiberLoop::Direction::read, FiberLoop::clock::now() + 200ms);
        FiberLoop::current()->forget(pair[0]);
    });
    loop.spawn([&] {
        CHECK(::write(pair[1], "x", 1) == 1);  // well before the reader's deadline
        const auto until = FiberLoop::clock::now() + 400ms;
        while (FiberLoop::clock::now() < until) {
        }
    });
    loop.run();
    CHECK(got_bytes);
    ::close(pair[0]);
    ::close(pair[1]);
}

TEST_CASE("an event loop runs a stream whose first token has come before the hundreds that are busy or still starting") {
    // A first token read late is measured late: TCP merges its bytes with the next segment and
    // keeps the later arrival time. So the loop runs its reader before a batch of the rest;
    // a reader waiting with normal priority for bytes that came as early waits its turn.
    int first[2], other[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, first) == 0);
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, other) == 0);
    FiberLoop loop;
    long turns = 0;  // every resumption of a busy or starting fiber
    for (int i = 0; i < 100; ++i)
        loop.spawn([&] {
            for (int k = 0; k < 50; ++k) {
                ++turns;
                FiberLoop::current()->yield();
            }
        });
    const auto reader = [&](int* pair, FiberLoop::Priority priority, long& turns_waited) {
        return [&turns, &turns_waited, pair, priority] {
            FiberLoop& here = *FiberLoop::current();
            REQUIRE(here.watch(pair[0]));
            CHECK(::write(pair[1], "a", 1) == 1);  // the server answers at once
            const long at_wait = turns;
            CHECK(here.wait(pair[0], FiberLoop::Direction::read, FiberLoop::clock::now() + 5s, priority));
            turns_waited = turns - at_wait;
            char c = 0;
            CHECK(::read(pair[0], &c, 1) == 1);
            CHECK(c == 'a');
            here.forget(pair[0]);
        };
    };
    long first_waited = -1, other_waited = -1;
    loop.spawn(reader(other, FiberLoop::Priority::normal, other_waited));
    loop.spawn(reader(first, FiberLoop::Priority::first_token, first_waited));
    for (int i = 0; i < 300; ++i) loop.spawn([&] { ++turns; });
    loop.run();
    CHECK(turns == 100 * 50 + 300);
    // A round over everyone ready (the 100 busy ones) or every start (300) would be >= 100.
    CHECK(first_waited >= 0);
    CHECK(first_waited < 40);
    CHECK(other_waited >= 80);
    for (int fd : {first[0], first[1], other[0], other[1]}) ::close(fd);
}

#endif
