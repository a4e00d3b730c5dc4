// --shard I/N: the partition, and the exact merge of shard files back into one run.
#include <llmbench/core/shard.hpp>
#include <llmbench/report/results.hpp>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include <doctest/doctest.h>

namespace {

/// A run line of prompt `p`, run `r`, with timings that differ per line.
std::string shard_test_run_line(int p, int r, const std::string& shard) {
    const double ttft = 0.01 * (p + 1) + 0.001 * r, wall = ttft + 0.1 + 0.003 * p;
    return "{\"type\":\"run\",\"schema_version\":1,\"backend\":\"ollama\",\"model\":\"m\",\"prompt_id\":\"p" + std::to_string(p) + "\",\"run\":" +
           std::to_string(r) + ",\"warmup\":false,\"cell\":null,\"shard\":" + shard + ",\"ok\":true,\"ttft_s\":" + std::to_string(ttft) +
           ",\"wall_s\":" + std::to_string(wall) + ",\"content_chunks\":" + std::to_string(10 + p) + ",\"server\":{\"eval_count\":" + std::to_string(10 + p) +
           ",\"eval_duration_ns\":" + std::to_string(100000000 + 1000000 * p + 7000 * r) + ",\"prompt_eval_count\":" + std::to_string(20 + 3 * p) +
           ",\"prompt_eval_duration_ns\":" + std::to_string(30000000 + 500000 * p + 900 * r) + "}}\n";
}

std::string shard_test_metadata(const std::string& shard) {
    return "{\"type\":\"metadata\",\"schema_version\":1,\"model\":{\"tag\":\"m\"},\"request\":{\"options\":{\"temperature\":0}},"
           "\"prompts\":{\"path\":\"p.jsonl\",\"sha256\":\"abc\",\"count\":7},\"shard\":" + shard + "}\n";
}

std::string shard_json(std::size_t i, std::size_t n) { return "{\"index\":" + std::to_string(i) + ",\"count\":" + std::to_string(n) + "}"; }

/// The run as one process writes it, and as N shards write it (prompt p in shard p mod N).
std::pair<std::string, std::vector<std::pair<std::string, std::string>>> shard_test_files(std::size_t n) {
    std::string whole = shard_test_metadata("null");
    std::vector<std::pair<std::string, std::string>> shards;
    for (std::size_t i = 0; i < n; ++i) shards.emplace_back("shard-" + std::to_string(i) + ".jsonl", shard_test_metadata(shard_json(i, n)));
    for (int r = 0; r < 3; ++r)
        for (int p = 0; p < 7; ++p) {
            whole += shard_test_run_line(p, r, "null");
            const auto i = static_cast<std::size_t>(p) % n;
            shards[i].second += shard_test_run_line(p, r, shard_json(i, n));
        }
    return {whole, shards};
}

}  // namespace

TEST_CASE("--shard I/N: item k is shard k mod N's, every item in exactly one shard - bad text is an error naming it") {
    const llmbench::Shard s = llmbench::parse_shard("2/4");
    CHECK(s.index == 2);
    CHECK(s.count == 4);
    CHECK(s.label() == "2/4");
    CHECK(s.sharded());
    CHECK_FALSE(llmbench::Shard{}.sharded());
    for (std::size_t k = 0; k < 40; ++k) {
        int owners = 0;
        for (std::size_t i = 0; i < 4; ++i) owners += llmbench::Shard{i, 4}.owns(k) ? 1 : 0;
        CHECK(owners == 1);
        CHECK(s.owns(k) == (k % 4 == 2));
    }
    for (const char* bad : {"4/4", "1", "/4", "1/", "a/4", "1/0", "-1/4", "1/4/2"}) {
        const doctest::String named = (std::string("--shard ") + bad).c_str();
        CHECK_THROWS_WITH_AS(llmbench::parse_shard(bad), doctest::Contains(named), llmbench::error);
    }
}

TEST_CASE("shard files merge exactly: the same cells and statistics as the unsharded run - a missing or doubled shard is an error naming it") {
    for (std::size_t n : {2u, 4u}) {
        const auto [whole, shards] = shard_test_files(n);
        const auto single = llmbench::parse_result_set({{"whole.jsonl", whole}});
        const auto merged = llmbench::parse_result_set(shards);
        REQUIRE(merged.files.size() == 1);
        CHECK(merged.files[0].path == "shard-0.jsonl + " + std::to_string(n - 1) + " more shard" + (n > 2 ? "s" : ""));
        REQUIRE(merged.files[0].runs.size() == 21);
        REQUIRE(single.cells.size() == 1);
        REQUIRE(merged.cells.size() == 1);
        const auto& a = single.cells[0];
        const auto& b = merged.cells[0];
        CHECK(a.timed_runs() == b.timed_runs());
        REQUIRE(a.stats.size() == b.stats.size());
        CHECK(a.stats.size() >= 6);  // client timings, server counts and rates
        CHECK(a.stats.count("ttft_s") == 1);
        CHECK(a.stats.count("gen_toks_per_s") == 1);
        for (const auto& entry : a.stats) {
            const std::string& metric = entry.first;
            const llmbench::Stats& s = entry.second;
            REQUIRE(b.stats.count(metric) == 1);
            const llmbench::Stats& t = b.stats.at(metric);
            CAPTURE(metric);
            CHECK(s.n == t.n);  // exactly equal: the merge changes no sample, and compute_stats sorts
            CHECK(s.mean == t.mean);
            CHECK(s.p50 == t.p50);
            CHECK(s.p95 == t.p95);
            CHECK(s.stddev == t.stddev);
            CHECK(s.ci95_low == t.ci95_low);
        }
        for (const auto& r : merged.files[0].runs) {
            REQUIRE(r.run.shard.has_value());
            CHECK(r.run.shard->count == n);
            CHECK(r.file_index == 0);
        }
    }
    const auto [whole, shards] = shard_test_files(4);
    auto missing = shards;
    missing.erase(missing.begin() + 2);
    CHECK_THROWS_WITH_AS(llmbench::parse_result_set(missing), doctest::Contains("shard 2/4 missing"), llmbench::error);
    auto doubled = shards;
    doubled.push_back({"again.jsonl", shards[1].second});
    CHECK_THROWS_WITH_AS(llmbench::parse_result_set(doubled), doctest::Contains("shard 1/4 is given twice: shard-1.jsonl and again.jsonl"), llmbench::error);
    // A file that is not a shard passes through beside the merged run.
    auto beside = shards;
    beside.push_back({"whole.jsonl", whole});
    const auto both = llmbench::parse_result_set(beside);
    CHECK(both.files.size() == 2);
    CHECK(both.cells.size() == 2);
    auto wrong = shards;
    wrong[3].second += shard_test_run_line(0, 0, shard_json(0, 4));
    CHECK_THROWS_WITH_AS(llmbench::parse_result_set(wrong), doctest::Contains("a run of shard 0/4 in the file of shard 3/4"), llmbench::error);
    const std::string bad_meta = shard_test_metadata("{\"index\":4,\"count\":4}");
    CHECK_THROWS_WITH_AS(llmbench::parse_result_set({{"bad.jsonl", bad_meta}}), doctest::Contains("bad.jsonl:1: metadata shard"), llmbench::error);
}
