// llmbench/niah/shards.hpp - the files of a sweep run in N shards (niah --shard I/N) read back
// into the one sweep they split, for `niah --merge`: the same summary, table and heatmap as
// one process that ran every trial.
#pragma once

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <simdjson.h>

#include "llmbench/core/error.hpp"
#include "llmbench/core/shard.hpp"
#include "llmbench/detail/json_parse.hpp"
#include "llmbench/niah/sweep.hpp"

namespace llmbench::niah {

/// A `niah_trial` line read back: what the summary, table and heatmap use.
inline Trial parse_trial(simdjson::dom::object o) {
    using llmbench::detail::dom_double;
    using llmbench::detail::dom_int64;
    const auto text = [&](const char* key) {
        std::string_view v;
        return o[key].get_string().get(v) == simdjson::SUCCESS ? std::string(v) : std::string();
    };
    const auto flag = [&](const char* key) {
        bool b = false;
        return o[key].get_bool().get(b) == simdjson::SUCCESS && b;
    };
    const auto count = [&](const char* key) { return static_cast<std::size_t>(std::max<std::int64_t>(0, dom_int64(o[key]).value_or(0))); };
    Trial t;
    t.length = static_cast<int>(dom_int64(o["length_tokens"]).value_or(0));
    t.depth = static_cast<int>(dom_int64(o["depth_percent"]).value_or(0));
    t.repetition = static_cast<int>(dom_int64(o["repetition"]).value_or(0));
    t.needle.kind = parse_needle_kind(text("needle_kind"));
    t.needle.key = text("needle_key");
    if (simdjson::dom::array values; o["needle_values"].get_array().get(values) == simdjson::SUCCESS)
        for (auto v : values)
            if (std::string_view s; v.get_string().get(s) == simdjson::SUCCESS) t.needle.values.emplace_back(s);
    t.words = count("haystack_words");
    t.timing.id.model = text("model");
    t.timing.outcome.ok = flag("ok");
    if (simdjson::dom::object e; o["error"].get_object().get(e) == simdjson::SUCCESS) {
        std::string_view kind, message;
        if (e["kind"].get_string().get(kind) == simdjson::SUCCESS) t.timing.outcome.error_kind = errc_from_string(kind);
        if (e["message"].get_string().get(message) == simdjson::SUCCESS) t.timing.outcome.error_message = std::string(message);
    }
    t.timing.server.prompt_eval_count = dom_int64(o["prompt_eval_count"]);
    t.timing.server.prompt_eval_duration_ns = dom_int64(o["prompt_eval_duration_ns"]);
    t.timing.output.text = text("reply");
    t.score.found = count("found");
    t.score.expected = count("expected");
    t.truncated = flag("truncated");
    t.exceeds_context = flag("exceeds_context");
    t.haystack_repeated = flag("haystack_repeated");
    t.timing.client.ttft_s = dom_double(o["ttft_s"]);
    t.timing.client.wall_s = dom_double(o["wall_s"]);
    if (simdjson::dom::object part; o["shard"].get_object().get(part) == simdjson::SUCCESS) {
        const auto index = dom_int64(part["index"]), of = dom_int64(part["count"]);
        if (index && of && *index >= 0 && *of > *index) t.timing.shard = Shard{static_cast<std::size_t>(*index), static_cast<std::size_t>(*of)};
    }
    return t;
}

/// The sweep the shard files split, put back together.
struct MergedSweep {
    SweepSpec spec;            ///< from the shards' summaries (`sweep`), unsharded
    SweepResult result;        ///< every shard's trials, in the unsharded sweep's order
    std::vector<std::string> trial_lines;  ///< their lines as written, in that order
    std::string controls_json; ///< what the requests sent, as the summaries wrote it
    std::string metadata_line; ///< shard 0's metadata line, its shard set to null
};

/// Reads the N files of one sweep run with --shard I/N (any order) and merges them. A file
/// that is not a shard, a shard missing, given twice or cut off before its summary, and shards
/// of different sweeps are errors naming the files.
inline MergedSweep merge_sweep_shards(const std::vector<std::string>& paths) {
    using llmbench::detail::dom_int64;
    struct Part {
        std::string path, metadata, summary;
        Shard shard;
        std::vector<std::pair<Trial, std::string>> trials;  ///< with its line as written
    };
    std::vector<Part> parts;
    simdjson::dom::parser parser;
    for (const auto& path : paths) {
        std::ifstream in(path, std::ios::binary);
        if (!in) throw error(errc::io, "cannot open '" + path + "'");
        std::ostringstream bytes;
        bytes << in.rdbuf();
        const std::string content = bytes.str();
        Part part;
        part.path = path;
        bool sharded = false;
        std::size_t line_no = 0;
        for (std::size_t at = 0; at < content.size();) {
            const std::size_t nl = std::min(content.find('\n', at), content.size());
            const std::string_view line(content.data() + at, nl - at);
            const bool last = nl + 1 >= content.size();
            at = nl + 1;
            ++line_no;
            if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
            simdjson::dom::object o;
            if (parser.parse(line.data(), line.size()).get_object().get(o)) {
                if (last && nl == content.size()) continue;  // cut short mid-write: the summary check below says whether the shard finished
                throw error(errc::usage, path + ":" + std::to_string(line_no) + ": not a JSON object");
            }
            std::string_view type;
            if (o["type"].get_string().get(type)) continue;
            if (type == "metadata" && part.metadata.empty()) {
                part.metadata = std::string(line);
                if (simdjson::dom::object s; o["shard"].get_object().get(s) == simdjson::SUCCESS) {
                    const auto index = dom_int64(s["index"]), count = dom_int64(s["count"]);
                    if (index && count && *index >= 0 && *count > *index) {
                        part.shard = Shard{static_cast<std::size_t>(*index), static_cast<std::size_t>(*count)};
                        sharded = true;
                    }
                }
            } else if (type == "niah_trial") {
                Trial t = parse_trial(o);
                if (!t.timing.shard || !(*t.timing.shard == part.shard))
                    throw error(errc::usage, path + ":" + std::to_string(line_no) + ": a trial of shard " +
                                                 (t.timing.shard ? t.timing.shard->label() : std::string("none")) + " in the file of shard " + part.shard.label());
                part.trials.emplace_back(std::move(t), std::string(line));
            } else if (type == "niah_summary") {
                part.summary = std::string(line);
            }
        }
        if (!sharded) throw error(errc::usage, path + ": not a shard file (its metadata has no shard: run niah with --shard I/N)");
        parts.push_back(std::move(part));
    }
    if (parts.empty()) throw error(errc::usage, "niah --merge: no files");
    const std::size_t count = parts.front().shard.count;
    std::vector<const Part*> by_index(count, nullptr);
    for (const auto& p : parts) {
        if (p.shard.count != count)
            throw error(errc::usage, p.path + " is shard " + p.shard.label() + ", " + parts.front().path + " shard " + parts.front().shard.label() + ": not one sweep");
        if (by_index[p.shard.index]) throw error(errc::usage, "shard " + p.shard.label() + " is given twice: " + by_index[p.shard.index]->path + " and " + p.path);
        by_index[p.shard.index] = &p;
    }
    std::string missing;
    for (std::size_t i = 0; i < count; ++i)
        if (!by_index[i]) missing += (missing.empty() ? "" : ", ") + Shard{i, count}.label();
    if (!missing.empty()) throw error(errc::usage, "shard " + missing + " missing: a sweep in " + std::to_string(count) + " shards needs every one");
    for (const Part* p : by_index)
        if (p->summary.empty())
            throw error(errc::usage, "shard " + p->shard.label() + " (" + p->path + ") has no niah_summary: it did not finish; run it again");

    // The sweep as shard 0 describes it; every other shard must describe the same one.
    MergedSweep out;
    std::string sweep_json;
    simdjson::dom::parser own;
    for (std::size_t i = 0; i < count; ++i) {
        simdjson::dom::object summary, sweep;
        if (own.parse(by_index[i]->summary).get_object().get(summary) || summary["sweep"].get_object().get(sweep))
            throw error(errc::usage, by_index[i]->path + ": its niah_summary has no sweep object (written by an older llmbench)");
        const std::string described = simdjson::minify(sweep);
        if (i == 0) {
            sweep_json = described;
            SweepSpec& spec = out.spec;
            std::string_view model;
            if (summary["model"].get_string().get(model) == simdjson::SUCCESS) spec.model = std::string(model);
            spec.lengths.clear();
            spec.depths.clear();
            if (simdjson::dom::array a; sweep["lengths"].get_array().get(a) == simdjson::SUCCESS)
                for (auto v : a) spec.lengths.push_back(static_cast<int>(llmbench::detail::dom_int64(v).value_or(0)));
            if (simdjson::dom::array a; sweep["depths"].get_array().get(a) == simdjson::SUCCESS)
                for (auto v : a) spec.depths.push_back(static_cast<int>(llmbench::detail::dom_int64(v).value_or(0)));
            spec.repetitions = static_cast<int>(dom_int64(sweep["repetitions"]).value_or(1));
            if (std::string_view kind; sweep["needle_kind"].get_string().get(kind) == simdjson::SUCCESS) spec.needle = parse_needle_kind(std::string(kind));
            spec.num_predict = static_cast<int>(dom_int64(sweep["num_predict"]).value_or(spec.num_predict));
            if (const auto ctx = dom_int64(sweep["num_ctx"])) spec.num_ctx = static_cast<int>(*ctx);
            spec.seed = static_cast<std::uint64_t>(dom_int64(sweep["seed"]).value_or(1));
            spec.truncation_ratio = llmbench::detail::dom_double(sweep["truncation_ratio"]).value_or(spec.truncation_ratio);
            spec.calibration_tolerance = llmbench::detail::dom_double(sweep["calibration_tolerance"]).value_or(spec.calibration_tolerance);
            bool allow = false;
            spec.allow_truncation = sweep["allow_truncation"].get_bool().get(allow) == simdjson::SUCCESS && allow;
            if (simdjson::dom::element controls; summary["controls"].get(controls) == simdjson::SUCCESS) out.controls_json = simdjson::minify(controls);
            if (const auto ctx = dom_int64(summary["model_context_length"])) out.result.model_context = ctx;
        } else if (described != sweep_json) {
            throw error(errc::usage, by_index[i]->path + " ran another sweep than " + by_index[0]->path + ": " + described + " against " + sweep_json);
        }
        if (simdjson::dom::array lengths; summary["lengths"].get_array().get(lengths) == simdjson::SUCCESS)
            for (auto l : lengths) {  // each shard calibrated the lengths it had trials of; they agree
                simdjson::dom::object lo;
                if (l.get_object().get(lo)) continue;
                const auto len = dom_int64(lo["length_tokens"]), words = dom_int64(lo["calibrated_words"]);
                if (!len || !words || out.result.calibrations.count(static_cast<int>(*len))) continue;
                Calibration c;
                c.target_tokens = static_cast<int>(*len);
                c.words = static_cast<std::size_t>(*words);
                c.actual_tokens = dom_int64(lo["calibrated_tokens"]).value_or(0);
                bool within = false;
                c.within_tolerance = lo["within_tolerance"].get_bool().get(within) == simdjson::SUCCESS && within;
                out.result.calibrations[c.target_tokens] = c;
            }
    }
    std::vector<std::pair<Trial, std::string>> trials;
    for (const Part* p : by_index) trials.insert(trials.end(), p->trials.begin(), p->trials.end());
    const auto place = [&](const Trial& t) {  // the trial's position in the unsharded sweep
        const auto pos = [](const std::vector<int>& v, int x) { return static_cast<std::size_t>(std::find(v.begin(), v.end(), x) - v.begin()); };
        return std::make_tuple(pos(out.spec.lengths, t.length), t.repetition, pos(out.spec.depths, t.depth));
    };
    std::stable_sort(trials.begin(), trials.end(), [&](const auto& a, const auto& b) { return place(a.first) < place(b.first); });
    for (auto& [trial, line] : trials) {
        out.result.trials.push_back(std::move(trial));
        out.trial_lines.push_back(std::move(line));
    }
    out.metadata_line = by_index[0]->metadata;
    const std::string mark = "\"shard\":{\"index\":0,\"count\":" + std::to_string(count) + "}";
    if (const auto at = out.metadata_line.find(mark); at != std::string::npos) out.metadata_line.replace(at, mark.size(), "\"shard\":null");
    return out;
}

}  // namespace llmbench::niah
