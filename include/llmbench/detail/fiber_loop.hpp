// llmbench/detail/fiber_loop.hpp - thousands of streams on a few threads: each stream runs on a
// small stack of its own (a fiber), and where it would wait for a socket it yields to an event
// loop (epoll or kqueue, poller.hpp) that resumes it when the socket is ready or its deadline
// has passed.
//
// Why fibers rather than callbacks: a stream under load is measured exactly as a lone one is,
// through measure(), the client and its socket reader (http_stream.hpp). Only the place where
// a read waits changes: the reader asks FiberLoop::current() and, inside a fiber, waits here
// instead of in recvmsg. Every parse, timestamp and record stays on the one measurement path.
//
// Sockets are watched edge-triggered, registered once per connection: a wait costs no
// epoll_ctl (or kevent change), and one wait serves every stream that became ready at once.
// Deadlines are the streams' first-byte and idle timeouts (seconds), so they are kept per fiber
// and scanned only when the earliest may have passed, not kept in a heap each read would push to.
//
// A switch between fibers is a few instructions on x86-64 and 64-bit ARM (fiber_switch below);
// glibc's swapcontext, used elsewhere, also saves and sets the signal mask, a system call each
// way: two per arriving chunk, twice the one recvmsg that reads it.
//
// Where there is a poller (Linux, macOS, the BSDs) and a switch: the assembly one on x86-64
// and (with clang, which Apple's compilers are) on 64-bit ARM, else glibc's ucontext on Linux.
// Elsewhere LLMBENCH_HAS_FIBER_LOOP is 0 and run_load keeps a thread per stream.
#pragma once

#include "llmbench/detail/poller.hpp"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define LLMBENCH_FIBER_SWITCH_X86_64 1
#elif defined(__aarch64__) && defined(__clang__)
#define LLMBENCH_FIBER_SWITCH_AARCH64 1
#endif

#if LLMBENCH_HAS_POLLER && (defined(LLMBENCH_FIBER_SWITCH_X86_64) || defined(LLMBENCH_FIBER_SWITCH_AARCH64) || defined(__linux__))
#define LLMBENCH_HAS_FIBER_LOOP 1

#include <sys/mman.h>
#include <unistd.h>
#if !defined(LLMBENCH_FIBER_SWITCH_X86_64) && !defined(LLMBENCH_FIBER_SWITCH_AARCH64)
#include <ucontext.h>
#endif

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "llmbench/core/error.hpp"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LLMBENCH_FIBER_ASAN 1
#endif
#if __has_feature(thread_sanitizer)
#define LLMBENCH_FIBER_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(LLMBENCH_FIBER_ASAN)
#define LLMBENCH_FIBER_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__) && !defined(LLMBENCH_FIBER_TSAN)
#define LLMBENCH_FIBER_TSAN 1
#endif
#if defined(LLMBENCH_FIBER_ASAN)
#include <sanitizer/common_interface_defs.h>
#endif
#if defined(LLMBENCH_FIBER_TSAN)
#include <sanitizer/tsan_interface.h>
#endif

namespace llmbench::detail {

#if defined(LLMBENCH_FIBER_SWITCH_X86_64) || defined(LLMBENCH_FIBER_SWITCH_AARCH64)
/// Where a fiber (or the scheduler) resumes: its saved stack pointer.
struct FiberContext {
    void* sp = nullptr;
};
#endif

#if defined(LLMBENCH_FIBER_SWITCH_X86_64)
/// Saves the callee-saved registers and the floating-point control words on the running
/// stack, stores its stack pointer in *from, and resumes the stack `to` was saved from (or a
/// new one fiber_context_on() laid out). The signal mask is the thread's and stays as it is.
[[gnu::naked, gnu::noinline]] inline void fiber_switch(void** /*from: rdi*/, void* /*to: rsi*/) {
    asm volatile(
        "pushq %rbp\n\t"
        "pushq %rbx\n\t"
        "pushq %r12\n\t"
        "pushq %r13\n\t"
        "pushq %r14\n\t"
        "pushq %r15\n\t"
        "subq $8, %rsp\n\t"
        "stmxcsr (%rsp)\n\t"
        "fnstcw 4(%rsp)\n\t"
        "movq %rsp, (%rdi)\n\t"
        "movq %rsi, %rsp\n\t"
        "ldmxcsr (%rsp)\n\t"
        "fldcw 4(%rsp)\n\t"
        "addq $8, %rsp\n\t"
        "popq %r15\n\t"
        "popq %r14\n\t"
        "popq %r13\n\t"
        "popq %r12\n\t"
        "popq %rbx\n\t"
        "popq %rbp\n\t"
        "retq\n\t");
}

/// A new stack laid out as fiber_switch leaves one, so that switching to it "returns" into
/// `entry` as if it had been called (stack pointer 8 past a 16-byte boundary), with default
/// control words (MXCSR 0x1f80, x87 0x037f) and a null return address: entry never returns.
inline FiberContext fiber_context_on(void* stack_low, std::size_t size, void (*entry)()) {
    auto top = (reinterpret_cast<std::uintptr_t>(stack_low) + size) & ~std::uintptr_t{15};
    auto* slot = reinterpret_cast<std::uint64_t*>(top);
    *--slot = 0;                                          // entry's return address: none
    *--slot = reinterpret_cast<std::uint64_t>(entry);     // where fiber_switch's ret goes
    for (int i = 0; i < 6; ++i) *--slot = 0;              // rbp, rbx, r12-r15
    *--slot = std::uint64_t{0x037f} << 32 | 0x1f80;       // MXCSR (low word), x87 control word
    return FiberContext{slot};
}
#elif defined(LLMBENCH_FIBER_SWITCH_AARCH64)
/// As on x86-64: the callee-saved registers of AAPCS64 (x19-x28, the frame pointer, the link
/// register, d8-d15) and FPCR (rounding, flush-to-zero) in a 176-byte frame on the running
/// stack, which stays 16-byte aligned; x18, the platform register on Apple's, is not touched.
[[gnu::naked, gnu::noinline]] inline void fiber_switch(void** /*from: x0*/, void* /*to: x1*/) {
    asm volatile(
        "sub sp, sp, #176\n\t"
        "stp x19, x20, [sp, #0]\n\t"
        "stp x21, x22, [sp, #16]\n\t"
        "stp x23, x24, [sp, #32]\n\t"
        "stp x25, x26, [sp, #48]\n\t"
        "stp x27, x28, [sp, #64]\n\t"
        "stp x29, x30, [sp, #80]\n\t"
        "stp d8, d9, [sp, #96]\n\t"
        "stp d10, d11, [sp, #112]\n\t"
        "stp d12, d13, [sp, #128]\n\t"
        "stp d14, d15, [sp, #144]\n\t"
        "mrs x9, fpcr\n\t"
        "str x9, [sp, #160]\n\t"
        "mov x9, sp\n\t"
        "str x9, [x0]\n\t"
        "mov sp, x1\n\t"
        "ldr x9, [sp, #160]\n\t"
        "msr fpcr, x9\n\t"
        "ldp d14, d15, [sp, #144]\n\t"
        "ldp d12, d13, [sp, #128]\n\t"
        "ldp d10, d11, [sp, #112]\n\t"
        "ldp d8, d9, [sp, #96]\n\t"
        "ldp x29, x30, [sp, #80]\n\t"
        "ldp x27, x28, [sp, #64]\n\t"
        "ldp x25, x26, [sp, #48]\n\t"
        "ldp x23, x24, [sp, #32]\n\t"
        "ldp x21, x22, [sp, #16]\n\t"
        "ldp x19, x20, [sp, #0]\n\t"
        "add sp, sp, #176\n\t"
        "ret\n\t");
}

/// A new stack laid out as fiber_switch leaves one: its `ret` goes to `entry` (the link
/// register's slot) with the stack 16-byte aligned, a null frame pointer ending backtraces,
/// and FPCR 0 (round to nearest, no flush-to-zero).
inline FiberContext fiber_context_on(void* stack_low, std::size_t size, void (*entry)()) {
    const auto top = (reinterpret_cast<std::uintptr_t>(stack_low) + size) & ~std::uintptr_t{15};
    auto* frame = reinterpret_cast<std::uint64_t*>(top - 176);
    for (int i = 0; i < 22; ++i) frame[i] = 0;
    frame[11] = reinterpret_cast<std::uint64_t>(entry);  // x30, restored from [sp, #88]
    return FiberContext{frame};
}
#endif

#if defined(LLMBENCH_FIBER_SWITCH_X86_64) || defined(LLMBENCH_FIBER_SWITCH_AARCH64)
inline void fiber_jump(FiberContext& from, const FiberContext& to) { fiber_switch(&from.sp, to.sp); }
#else
struct FiberContext {
    ucontext_t uc{};
};

inline FiberContext fiber_context_on(void* stack_low, std::size_t size, void (*entry)()) {
    FiberContext c;
    ::getcontext(&c.uc);
    c.uc.uc_stack.ss_sp = stack_low;
    c.uc.uc_stack.ss_size = size;
    c.uc.uc_link = nullptr;  // a fiber's end switches back itself
    ::makecontext(&c.uc, entry, 0);
    return c;
}

inline void fiber_jump(FiberContext& from, FiberContext& to) { ::swapcontext(&from.uc, &to.uc); }
#endif

class FiberLoop {
public:
    using clock = std::chrono::steady_clock;
    enum class Direction { read, write };

#if defined(LLMBENCH_FIBER_ASAN) || defined(LLMBENCH_FIBER_TSAN)
    static constexpr std::size_t default_stack_bytes = std::size_t{2} << 20;  // sanitizers' frames are several times larger
#else
    /// Reserved, not committed: a stream touches a few pages of it (docs/performance.md).
    static constexpr std::size_t default_stack_bytes = std::size_t{256} << 10;
#endif

    explicit FiberLoop(std::size_t stack_bytes = default_stack_bytes) : stack_bytes_(stack_bytes) {}
    FiberLoop(const FiberLoop&) = delete;
    FiberLoop& operator=(const FiberLoop&) = delete;
    ~FiberLoop() {
        for (auto& f : fibers_) release_stack(*f);
    }

    /// Adds a fiber that runs `body`: when run() is called, or soon when called from one of
    /// this loop's fibers (a server's fiber per accepted connection).
    void spawn(std::function<void()> body) {
        auto f = std::make_unique<Fiber>();
        f->body = std::move(body);
        starting_.push_back(f.get());
        fibers_.push_back(std::move(f));
    }

    /// Runs every fiber to its end on this thread. An exception a fiber threw is rethrown once
    /// all have ended (the others' streams are not cut short by it).
    void run() {
        Running scope(this);
#if defined(LLMBENCH_FIBER_TSAN)
        scheduler_tsan_ = __tsan_get_current_fiber();
#endif
        std::size_t ended = 0;
        std::exception_ptr failure;
        const auto run_once = [&](Fiber& f) {
            resume(f);
            if (f.state == Fiber::State::ended) {
                ++ended;
                release_stack(f);
                if (f.failure && !failure) failure = f.failure;
            }
        };
        const auto run_from = [&](std::deque<Fiber*>& queue, std::size_t most) {
            for (std::size_t n = 0; n < most && !queue.empty(); ++n) {
                Fiber* f = queue.front();
                queue.pop_front();
                run_once(*f);
            }
        };
        while (ended < fibers_.size()) {
            // First tokens first: bytes left unread are merged by TCP with the next segment
            // into a buffer that keeps the later arrival time, so a reader late for the first
            // token would measure the time to first token late, by as long as it was late.
            run_from(first_tokens_, first_tokens_.size());
            // Then a batch of the others and of new fibers, and a look at the sockets: so a
            // first token never waits behind thousands of streams (nor thousands starting),
            // and a fiber that only yields cannot starve one waiting for bytes.
            run_from(ready_, batch);
            for (std::size_t n = 0; n < starts_per_batch && !starting_.empty(); ++n) {
                Fiber* f = starting_.front();
                starting_.pop_front();
                start_fiber(*f);
                run_once(*f);
            }
            if (ended > 1024 && ended * 2 > fibers_.size()) {  // a long-lived server: forget the ended
                fibers_.erase(std::remove_if(fibers_.begin(), fibers_.end(), [](const auto& f) { return f->state == Fiber::State::ended; }), fibers_.end());
                ended = 0;
            }
            if (ended < fibers_.size()) poll();
        }
        if (failure) std::rethrow_exception(failure);
    }

    /// The loop whose fiber is running on this thread; nullptr outside a fiber.
    static FiberLoop* current() noexcept { return running_loop() != nullptr && running_loop()->running_ != nullptr ? running_loop() : nullptr; }
    /// Tells loops apart after one has gone (an address can be reused; this is not).
    std::uint64_t id() const noexcept { return id_; }

    /// Watches `fd` (non-blocking, connected or connecting) until it is closed or forgotten.
    bool watch(int fd) {
        if (!poller_.watch(fd)) return false;
        state(fd) = FdState{};
        return true;
    }
    /// Before `fd` is closed: it may be reused by a socket this loop watches next.
    void forget(int fd) {
        poller_.forget(fd);
        if (static_cast<std::size_t>(fd) < fds_.size()) fds_[static_cast<std::size_t>(fd)] = FdState{};
    }
    /// Before a read or write that will take everything ready now: readiness seen so far is
    /// used up by it, and a later edge means new bytes (or room).
    void consume(int fd, Direction d) { (d == Direction::read ? state(fd).readable : state(fd).writable) = false; }

    /// How soon a fiber woken by its socket runs: `first_token` for a stream still waiting
    /// for its first token, which runs before the others (see run()).
    enum class Priority { normal, first_token };

    /// From a fiber: waits until `fd` is ready in direction `d` (an edge seen since the last
    /// consume() counts) or `deadline` passes; false on the deadline.
    bool wait(int fd, Direction d, clock::time_point deadline, Priority priority = Priority::normal) {
        FdState& s = state(fd);
        bool& ready = d == Direction::read ? s.readable : s.writable;
        if (ready) {
            ready = false;
            return true;
        }
        Fiber& f = *running_;
        f.fd = fd;
        f.direction = d;
        f.priority = priority;
        s.waiter = &f;
        const bool on_time = suspend(f, deadline);
        // `s` may have moved: fds_ grows when another fiber watches a higher fd.
        if (static_cast<std::size_t>(fd) < fds_.size() && fds_[static_cast<std::size_t>(fd)].waiter == &f) fds_[static_cast<std::size_t>(fd)].waiter = nullptr;
        return on_time;
    }

    /// From a fiber: lets the others that are ready run first (a server's batch step).
    void yield() {
        Fiber& f = *running_;
        f.state = Fiber::State::ready;
        ready_.push_back(&f);
        switch_to_scheduler(f, false);
    }

    /// From a fiber: lets the others run until `t`.
    void sleep_until(clock::time_point t) {
        Fiber& f = *running_;
        f.fd = -1;
        suspend(f, t);
    }

private:
    /// Fibers run between two looks at the sockets (a few hundred microseconds of work), and
    /// new fibers started among them (connects and sends).
    static constexpr std::size_t batch = 16;
    static constexpr std::size_t starts_per_batch = 2;

    struct Fiber {
        enum class State { ready, waiting, ended } state = State::ready;
        FiberContext context;
        void* stack = nullptr;  ///< mmap'd, a guard page at the low end
        std::size_t stack_bytes = 0;
        void* usable_stack = nullptr;  ///< above the guard page
        std::size_t usable_bytes = 0;
        std::function<void()> body;
        std::exception_ptr failure;
        int fd = -1;  ///< waited for; -1: a sleep
        Direction direction = Direction::read;
        clock::time_point deadline;
        bool timed_out = false;
        Priority priority = Priority::normal;
#if defined(LLMBENCH_FIBER_TSAN)
        void* tsan = nullptr;
#endif
    };
    struct FdState {
        Fiber* waiter = nullptr;
        bool readable = false, writable = false;  ///< an edge arrived that no one waited for
    };
    /// Marks this thread as running `loop` for the scope of run().
    struct Running {
        explicit Running(FiberLoop* loop) : previous(running_loop()) { running_loop() = loop; }
        ~Running() { running_loop() = previous; }
        FiberLoop* previous;
    };

    static FiberLoop*& running_loop() noexcept {
        static thread_local FiberLoop* loop = nullptr;
        return loop;
    }
    static std::uint64_t next_id() noexcept {
        static std::atomic<std::uint64_t> n{0};
        return ++n;
    }

    FdState& state(int fd) {
        const auto i = static_cast<std::size_t>(fd);
        if (fds_.size() <= i) fds_.resize(std::max<std::size_t>(i + 1, fds_.size() * 2));
        return fds_[i];
    }

    /// Reserved, not committed (where the system says so), and marked a stack (Linux, BSDs).
    static constexpr int map_flags = 0
#if defined(MAP_NORESERVE)
                                     | MAP_NORESERVE
#endif
#if defined(MAP_STACK)
                                     | MAP_STACK
#endif
        ;

    void start_fiber(Fiber& f) {
        const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
        const std::size_t bytes = (stack_bytes_ + page - 1) / page * page + page;
        void* stack = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | map_flags, -1, 0);
        if (stack == MAP_FAILED) throw error(errc::io, "cannot map a " + std::to_string(bytes) + "-byte fiber stack (errno " + std::to_string(errno) + ")");
        ::mprotect(stack, page, PROT_NONE);  // an overflow faults instead of overwriting a neighbour
        f.stack = stack;
        f.stack_bytes = bytes;
        f.usable_stack = static_cast<char*>(stack) + page;
        f.usable_bytes = bytes - page;
        f.context = fiber_context_on(f.usable_stack, f.usable_bytes, &FiberLoop::entry);
#if defined(LLMBENCH_FIBER_TSAN)
        f.tsan = __tsan_create_fiber(0);
#endif
    }

    void release_stack(Fiber& f) {
        if (f.stack != nullptr) ::munmap(f.stack, f.stack_bytes);
        f.stack = nullptr;
#if defined(LLMBENCH_FIBER_TSAN)
        if (f.tsan != nullptr) __tsan_destroy_fiber(f.tsan);
        f.tsan = nullptr;
#endif
    }

    static void entry() {
        FiberLoop& loop = *running_loop();
        Fiber& f = *loop.running_;
        loop.arrived_in_fiber();
        try {
            f.body();
        } catch (...) {
            f.failure = std::current_exception();
        }
        f.body = nullptr;
        f.state = Fiber::State::ended;
        loop.switch_to_scheduler(f, true);  // never returns
    }

    /// Scheduler -> fiber, until it waits or ends.
    void resume(Fiber& f) {
        running_ = &f;
        f.state = Fiber::State::ready;
#if defined(LLMBENCH_FIBER_ASAN)
        void* fake_stack = nullptr;
        __sanitizer_start_switch_fiber(&fake_stack, f.usable_stack, f.usable_bytes);
#endif
#if defined(LLMBENCH_FIBER_TSAN)
        __tsan_switch_to_fiber(f.tsan, 0);
#endif
        fiber_jump(scheduler_, f.context);
#if defined(LLMBENCH_FIBER_ASAN)
        __sanitizer_finish_switch_fiber(fake_stack, nullptr, nullptr);
#endif
        running_ = nullptr;
    }

    /// Fiber -> scheduler. `ending`: the fiber is never resumed (its stack can go).
    void switch_to_scheduler(Fiber& f, [[maybe_unused]] bool ending) {
#if defined(LLMBENCH_FIBER_ASAN)
        void* fake_stack = nullptr;
        __sanitizer_start_switch_fiber(ending ? nullptr : &fake_stack, scheduler_stack_bottom_, scheduler_stack_size_);
#endif
#if defined(LLMBENCH_FIBER_TSAN)
        __tsan_switch_to_fiber(scheduler_tsan_, 0);
#endif
        fiber_jump(f.context, scheduler_);
#if defined(LLMBENCH_FIBER_ASAN)
        __sanitizer_finish_switch_fiber(fake_stack, nullptr, nullptr);
#endif
    }

    /// First thing on a fiber's stack: finish the switch, learning the scheduler's stack.
    void arrived_in_fiber() {
#if defined(LLMBENCH_FIBER_ASAN)
        __sanitizer_finish_switch_fiber(nullptr, &scheduler_stack_bottom_, &scheduler_stack_size_);
#endif
    }

    /// Parks the running fiber until it is woken or `deadline` passes; false on the deadline.
    bool suspend(Fiber& f, clock::time_point deadline) {
        f.state = Fiber::State::waiting;
        f.deadline = deadline;
        f.timed_out = false;
        waiting_deadline_ = std::min(waiting_deadline_, deadline);
        switch_to_scheduler(f, false);
        return !f.timed_out;
    }

    void wake(Fiber& f, bool timed_out, bool first_token = false) {
        f.timed_out = timed_out;
        f.state = Fiber::State::ready;
        (first_token ? first_tokens_ : ready_).push_back(&f);
    }

    /// Waits for sockets (or the earliest deadline; not at all when a fiber can run) and
    /// queues the fibers that can go on.
    void poll() {
        auto now = clock::now();
        // Fibers ready to run, or a deadline passed: only a look at the sockets, no wait. The
        // look comes before the deadlines: bytes that came in time while the loop was busy (or
        // not scheduled) end the wait, as they would a blocking read's.
        const auto wait_ms = ready_.empty() && first_tokens_.empty() && starting_.empty() ? std::chrono::ceil<std::chrono::milliseconds>(waiting_deadline_ - now).count() : 0;
        // Everything ready at once, up to the poller's batch (4,096), so that a first token is
        // not left in the kernel's queue behind the other streams' chunks.
        poller_.wait(static_cast<int>(std::clamp<long long>(wait_ms, 0, 60 * 1000)), [this](int fd, bool readable, bool writable) {
            FdState& s = state(fd);
            Fiber* w = s.waiter;
            const bool wakes = w != nullptr && w->state == Fiber::State::waiting &&
                               ((w->direction == Direction::read && readable) || (w->direction == Direction::write && writable));
            s.readable = s.readable || (readable && !(wakes && w->direction == Direction::read));
            s.writable = s.writable || (writable && !(wakes && w->direction == Direction::write));
            if (wakes) {
                s.waiter = nullptr;
                wake(*w, false, w->priority == Priority::first_token);
            }
        });
        now = clock::now();
        if (now >= waiting_deadline_) expire(now);
    }

    /// Wakes every fiber whose deadline has passed and finds the next deadline.
    void expire(clock::time_point now) {
        waiting_deadline_ = clock::time_point::max();
        for (auto& f : fibers_) {
            if (f->state != Fiber::State::waiting) continue;
            if (f->deadline <= now) {
                if (f->fd >= 0 && static_cast<std::size_t>(f->fd) < fds_.size() && fds_[static_cast<std::size_t>(f->fd)].waiter == f.get())
                    fds_[static_cast<std::size_t>(f->fd)].waiter = nullptr;
                wake(*f, true);
            } else {
                waiting_deadline_ = std::min(waiting_deadline_, f->deadline);
            }
        }
    }

    std::size_t stack_bytes_;
    std::uint64_t id_ = next_id();
    Poller poller_;
    std::vector<std::unique_ptr<Fiber>> fibers_;
    std::deque<Fiber*> ready_;
    std::deque<Fiber*> first_tokens_;  ///< ready: bytes came for a stream awaiting its first token
    std::deque<Fiber*> starting_;  ///< spawned, not yet run
    std::vector<FdState> fds_;
    Fiber* running_ = nullptr;
    FiberContext scheduler_;
    clock::time_point waiting_deadline_ = clock::time_point::max();  ///< no waiting fiber's deadline is earlier
#if defined(LLMBENCH_FIBER_ASAN)
    const void* scheduler_stack_bottom_ = nullptr;
    std::size_t scheduler_stack_size_ = 0;
#endif
#if defined(LLMBENCH_FIBER_TSAN)
    void* scheduler_tsan_ = nullptr;
#endif
};

}  // namespace llmbench::detail

#else
#define LLMBENCH_HAS_FIBER_LOOP 0
#include <chrono>
#include <thread>
#endif

namespace llmbench::detail {

/// Waits until `t`: inside a fiber, letting the loop's other fibers run; elsewhere, sleeping.
inline void sleep_until(std::chrono::steady_clock::time_point t) {
#if LLMBENCH_HAS_FIBER_LOOP
    if (FiberLoop* loop = FiberLoop::current()) return loop->sleep_until(t);
#endif
    std::this_thread::sleep_until(t);
}

}  // namespace llmbench::detail
