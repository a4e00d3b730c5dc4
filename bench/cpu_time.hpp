// bench/cpu_time.hpp - CPU time spent so far, for the benchmark programs.
#pragma once

#include <sys/resource.h>

namespace bench {

struct Cpu {
    double user_s = 0, sys_s = 0;
    double total_s() const { return user_s + sys_s; }
};

/// `who`: RUSAGE_THREAD (this thread) or RUSAGE_SELF (the whole process).
inline Cpu cpu_time(int who) {
    rusage ru{};
    getrusage(who, &ru);
    const auto s = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6; };
    return {s(ru.ru_utime), s(ru.ru_stime)};
}

}  // namespace bench
