// llmbench/detail/utc_time.hpp - portable UTC calendar time.
#pragma once

#include <ctime>

namespace llmbench::detail {

inline std::tm utc_tm(std::time_t t) {
    std::tm tm{};
#if defined(_WIN32)
    gmtime_s(&tm, &t);
#else
    gmtime_r(&t, &tm);
#endif
    return tm;
}

}  // namespace llmbench::detail
