// llmbench/core/shard.hpp - one of N processes that share a run's work (`--shard I/N`).
//
// N processes, on N machines if need be, each given its index (a Kubernetes Indexed Job's
// JOB_COMPLETION_INDEX, a Slurm array's SLURM_ARRAY_TASK_ID), together do exactly the work
// of one: work item k belongs to shard k mod N. Each writes its own file, every record saying
// its shard, and llmbench-report / llmbench-compare merge the files back into one run.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <string>
#include <string_view>

#include "llmbench/core/error.hpp"

namespace llmbench {

struct Shard {
    std::size_t index = 0;  ///< 0 .. count - 1
    std::size_t count = 1;

    /// Work item `item` (its place in the unsharded run's order) is this shard's.
    bool owns(std::size_t item) const noexcept { return item % count == index; }
    bool sharded() const noexcept { return count > 1; }
    /// "2/4"
    std::string label() const { return std::to_string(index) + "/" + std::to_string(count); }
    friend bool operator==(const Shard& a, const Shard& b) noexcept { return a.index == b.index && a.count == b.count; }
};

/// Reads "I/N" (0 <= I < N); a usage error names the text and what is wrong with it.
inline Shard parse_shard(std::string_view text) {
    const std::string s(text);
    const auto bad = [&](const std::string& why) { return error(errc::usage, "--shard " + s + ": " + why + " (expected I/N, 0 <= I < N, e.g. 0/4)"); };
    const auto slash = s.find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == s.size()) throw bad("no I/N");
    const auto number = [&](const std::string& part) {
        if (part.find_first_not_of("0123456789") != std::string::npos || part.size() > 9) throw bad("'" + part + "' is not a whole number");
        return static_cast<std::size_t>(std::strtoull(part.c_str(), nullptr, 10));
    };
    Shard shard{number(s.substr(0, slash)), number(s.substr(slash + 1))};
    if (shard.count == 0) throw bad("N must be at least 1");
    if (shard.index >= shard.count) throw bad("I must be below N (shards are numbered from 0)");
    return shard;
}

}  // namespace llmbench
