// bench-matrix: an experiment matrix in one command.
//
//   bench-matrix --model llama3.1:8b-instruct-q4_K_M,llama3.1:8b-instruct-q8_0 --num_ctx 4096,32768
//                --prompt-tokens 200,4000 --num-predict 128,512 --runs 3 --temperature 0
//
// stdout: JSON lines (a metadata object per model, one object per run, one "cell" object per
// cell with its summary); stderr: progress and one table row per cell. --dry-run prints the
// plan and sends nothing. --backend openai --base-url URL measures an OpenAI-compatible
// server (prompt and output lengths; its context is fixed when it starts). Exit: 0 ok, 1 some runs failed, 2 setup error, 3 no server or it went away for good (--server-wait), 130 Ctrl-C.
#include <llmbench/llmbench.hpp>
#include <llmbench/report/progress.hpp>
#include <llmbench/testing/mock_ollama.hpp>
#include <llmbench/testing/mock_openai.hpp>

#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>
#include <set>
#include <fstream>
#include <sstream>

#include "command_line.hpp"
#include "example_support.hpp"

namespace {

std::string read_file_or_throw(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw llmbench::error(llmbench::errc::io, "cannot open matrix file '" + path + "'");
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string cell_label(const llmbench::CellCoordinates& c) {
    return c.model + " ctx=" + (c.num_ctx ? std::to_string(*c.num_ctx) : "default") +
           " prompt=" + std::to_string(c.prompt_tokens.value_or(0)) + " out=" + std::to_string(c.num_predict.value_or(0));
}

std::string stat(const llmbench::Summary& s, const char* metric, double llmbench::Stats::*field, int decimals) {
    const llmbench::Stats* st = s.find(metric);
    return example::fixed(st && st->n > 0 ? std::optional<double>(st->*field) : std::nullopt, "", decimals);
}

/// The mean share of the roofline, "63%", or "-".
std::string roofline_share(const llmbench::Summary& s) {
    const llmbench::Stats* st = s.find("roofline_efficiency");
    return st && st->n > 0 ? example::fixed(st->mean * 100, "%", 0) : std::string("-");
}

/// What a row needs said after it: that it ran throttled, else the failures by kind ("  (2
/// failed: context_overflow 2)", the records say why), else a prompt length off its target.
std::string cell_note(const llmbench::CellResult& c) {
    if (c.conditions.throttled()) return "  (" + c.conditions.warning() + ")";
    if (c.summary.runs_failed > 0) {
        std::string kinds;
        for (const auto& [kind, count] : c.summary.failures_by_kind) kinds += (kinds.empty() ? "" : ", ") + kind + " " + std::to_string(count);
        return "  (" + std::to_string(c.summary.runs_failed) + " failed: " + kinds + ")";
    }
    return c.calibration.within_tolerance ? "" : "  (prompt length off target)";
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"bench-matrix: models x num_ctx x prompt length x output length, in one command"};
    std::string models, num_ctx, prompt_tokens, num_predict, matrix_file, host, output, keep_alive = "30m";
    std::optional<int> runs, warmup, retry_short, seed;
    std::optional<double> temperature;
    bool dry_run = false, demo = false, allow_cache = false, cold = false, allow_truncation = false, quiet = false, verbose = false;
    app.add_option("--matrix", matrix_file, "JSON matrix file; command-line lists override its fields");
    app.add_option("--model,--models", models, "Comma list of model tags (e.g. quantizations)");
    app.add_option("--num_ctx,--num-ctx", num_ctx, "Comma list of context sizes");
    app.add_option("--prompt-tokens,--prompt_tokens", prompt_tokens, "Comma list of prompt lengths in tokens");
    app.add_option("--num-predict,--num_predict", num_predict, "Comma list of output lengths in tokens");
    app.add_option("--runs", runs, "Timed runs per cell (default 3)");
    app.add_option("--warmup", warmup, "Warm-up runs per cell (default 1; at least 1 after a reload)");
    app.add_option("--retry-short", retry_short, "Re-run a reply shorter than num_predict up to N times");
    app.add_option("--temperature", temperature);
    app.add_option("--seed", seed);
    app.add_option("--keep_alive,--keep-alive", keep_alive)->capture_default_str();
    app.add_flag("--allow-prompt-cache", allow_cache, "Same prompt for every run of a cell (measures cached prefill)");
    app.add_flag("--cold", cold, "Unload the model before every timed run (measures load time)");
    app.add_flag("--allow-truncation", allow_truncation,
                 "Let Ollama cut a prompt longer than num_ctx (its default); without it such a run fails as context_overflow");
    app.add_flag("--dry-run", dry_run, "Print the planned cells and request count; send nothing");
    std::string shard_text;
    app.add_option("--shard", shard_text,
                   "Do shard I of N (\"I/N\", from 0): the cells at positions c with c mod N = I; llmbench-report merges the N files "
                   "(docs/scale.md)");
    app.add_option("--host", host, "Ollama server (default: OLLAMA_HOST, else 127.0.0.1:11434)");
    app.add_option("--output,-o", output, "Also write the JSON lines to this file");
    app.add_flag("--demo", demo, "Run against the built-in mock server (numbers are not a model's)");
    app.add_flag("--quiet,-q", quiet, "No progress or table on stderr");
    app.add_flag("--verbose,-v", verbose, "A line per cell and per run on stderr instead of the progress bar");
    example::MemoryOptions memory;
    memory.add_to(app);
    example::BackendOptions backend_options;
    backend_options.add_to(app);
    example::RooflineOptions roofline_options;
    roofline_options.add_to(app);
    if (const auto code = example::parse_command_line(app, argc, argv)) return *code;
    (void)llmbench::raise_open_files_limit();  // a socket per stream in flight; the metadata reports the limit

    try {
        llmbench::MatrixSpec spec;
        spec.runs = 3;
        if (!matrix_file.empty()) spec = llmbench::parse_matrix_json(read_file_or_throw(matrix_file), matrix_file, spec);
        if (!models.empty()) spec.models = llmbench::parse_string_list(models, "--model");
        if (!num_ctx.empty()) spec.num_ctx = llmbench::parse_int_list(num_ctx, "--num_ctx");
        if (!prompt_tokens.empty()) spec.prompt_tokens = llmbench::parse_int_list(prompt_tokens, "--prompt-tokens");
        if (!num_predict.empty()) spec.num_predict = llmbench::parse_int_list(num_predict, "--num-predict");
        if (runs) spec.runs = *runs;
        if (warmup) spec.warmup = *warmup;
        if (retry_short) spec.retry_short = *retry_short;
        if (temperature) spec.options.temperature = temperature;
        if (seed) spec.options.seed = seed;
        spec.keep_alive = keep_alive;
        spec.allow_prompt_cache = spec.allow_prompt_cache || allow_cache;
        spec.cold = spec.cold || cold;
        spec.allow_truncation = spec.allow_truncation || allow_truncation;
        spec.controls = backend_options.controls();

        const auto cells = llmbench::plan_cells(spec);
        example::JsonLines out(output);
        if (dry_run) {
            llmbench::JsonWriter w;
            w.begin_object().kv("type", "plan").kv("schema_version", llmbench::schema_version).key("cells").begin_array();
            for (const auto& c : cells) llmbench::write_cell_json(w, c);
            w.end_array().kv("runs_per_cell", spec.runs).kv("warmup_per_cell", spec.warmup);
            w.kv("requests_at_least", llmbench::planned_requests(spec)).end_object();
            out.write(w.str());
            if (!quiet) {
                for (std::size_t i = 0; i < cells.size(); ++i) std::cerr << "cell " << i << ": " << cell_label(cells[i]) << '\n';
                std::cerr << cells.size() << " cells, at least " << llmbench::planned_requests(spec)
                          << " requests (warm-up, runs and prompt calibration; re-runs of short replies come on top)\n";
            }
            return 0;
        }

        const bool openai = backend_options.openai();
        if (openai && backend_options.base_url.empty() && !demo)
            throw llmbench::error(llmbench::errc::usage, "--backend openai needs --base-url");
        std::unique_ptr<llmbench::testing::MockOllama> mock;
        std::unique_ptr<llmbench::testing::MockOpenAI> openai_mock;
        llmbench::Endpoint endpoint = host.empty() ? llmbench::endpoint_from_env() : llmbench::parse_ollama_host(host);
        if (demo && openai) {
            openai_mock = backend_options.start_demo_server(spec.models.front());
        } else if (demo) {
            auto cfg = example::demo_config();
            cfg.models = spec.models;
            mock = std::make_unique<llmbench::testing::MockOllama>(cfg);
            endpoint = mock->endpoint();
        }
        llmbench::OllamaClient client(endpoint);
        std::unique_ptr<llmbench::OpenAIClient> openai_client;
        std::unique_ptr<llmbench::Backend> backend;
        if (openai) {
            llmbench::OpenAIClientOptions options;
            options.api_key_env = backend_options.api_key_env;
            openai_client = std::make_unique<llmbench::OpenAIClient>(backend_options.base_url, options);
            openai_client->models();  // fail fast: nothing answering
            backend = std::make_unique<llmbench::OpenAIBackend>(*openai_client, backend_options.chat());
        } else {
            for (const auto& m : spec.models) client.show(m);  // fail fast: unreachable server, missing model
            backend = std::make_unique<llmbench::OllamaBackend>(client);
        }
        backend_options.quiet = quiet;
        backend = backend_options.watched(std::move(backend));
        if (demo) backend->set_label("mock");  // every record says its numbers are the mock's

        std::set<std::string> described;
        std::size_t failed = 0;
        example::stop_on_signals();
        const auto sampler = openai ? memory.start_without_ollama(demo) : memory.start(endpoint, demo);
        const auto idle_power = memory.measure_idle(sampler.get(), quiet);
        llmbench::ProgressOptions progress_options;
        progress_options.enabled = !quiet && !verbose;
        const llmbench::Shard shard = shard_text.empty() ? llmbench::Shard{} : llmbench::parse_shard(shard_text);
        if (shard.index >= cells.size())
            throw llmbench::error(llmbench::errc::usage, "--shard " + shard.label() + ": the matrix has " + std::to_string(cells.size()) + " cells, none for this shard");
        const std::size_t owned = (cells.size() - shard.index + shard.count - 1) / shard.count;
        llmbench::Progress progress(std::cerr, owned * static_cast<std::size_t>(spec.runs), owned, progress_options);
        llmbench::MatrixRunner runner(*backend, spec);
        runner.shard(shard);
        runner.memory_sampler(sampler.get());
        runner.stop_when(&example::stop_requested)
            .on_cell_start([&](const llmbench::CellCoordinates& c, const llmbench::ReloadInfo& reload) {
                if (described.insert(c.model).second) {  // metadata once per model, once it is loaded
                    auto meta = backend->describe(c.model);
                    if (demo) meta.backend_kind = openai ? "mock-openai" : "mock";
                    if (backend->capabilities().model_shape)
                        if (const auto roofline = roofline_options.attach(meta)) runner.roofline(c.model, *roofline);
                    meta.request_json = spec.to_json();
                    meta.sent_options = spec.options;  // num_ctx and num_predict vary by cell: see each run's cell
                    meta.command_line.assign(argv, argv + argc);
                    if (shard.sharded()) meta.shard = shard;
                    meta.idle_power = idle_power;
                    out.write(meta.to_json());
                }
                if (verbose && !quiet)
                    std::cerr << "== " << cell_label(c) << (reload.reloaded ? " (model (re)loaded" : " (warm")
                              << ", load request " << example::fixed(reload.load_wall_s, " s)", 2) << '\n';
            })
            .on_record([&](const llmbench::RunRecord& r) {
                out.write(r.to_json());
                if (!r.ok() && !r.id.warmup) ++failed;
                if (!r.id.warmup && !r.retry.superseded) progress.run_done(r.gen_toks_per_s());
                if (!verbose || quiet) return;
                std::cerr << (r.id.warmup ? "  [warm-up] " : "  run " + std::to_string(r.id.run_index) + ": ");
                if (r.ok())
                    std::cerr << "prompt " << (r.server.prompt_eval_count ? std::to_string(*r.server.prompt_eval_count) : "?")
                              << " tok, ttft " << example::fixed(r.client.ttft_s, " s", 3) << ", "
                              << example::fixed(r.gen_toks_per_s(), " tok/s", 1) << (r.retry.superseded ? " (short: re-run)" : "")
                              << '\n';
                else
                    std::cerr << "FAILED (" << llmbench::to_string(*r.outcome.error_kind) << "): " << r.outcome.error_message << '\n';
            })
            .on_cell([&](const llmbench::CellResult& c) {
                out.write(c.to_json());
                progress.cell_done();
            });
        const auto results = runner.run();
        progress.finish();
        if (sampler) {
            sampler->stop();
            out.write(sampler->timeline_json());
        }

        if (!quiet) {
            std::cerr << "\ncell                                                        n  ttft p50 s  gen tok/s  prompt tok/s  roofline  reload\n";
            for (const auto& c : results) {
                std::string label = cell_label(c.cell);
                label.resize(58, ' ');
                std::cerr << label << ' ' << c.summary.runs_ok << "  " << stat(c.summary, "ttft_s", &llmbench::Stats::p50, 4)
                          << "  " << stat(c.summary, "gen_toks_per_s", &llmbench::Stats::mean, 1) << "  "
                          << stat(c.summary, "prompt_toks_per_s", &llmbench::Stats::mean, 1) << "  "
                          << roofline_share(c.summary) << "  " << (c.reload.reloaded ? "yes" : "no") << cell_note(c) << '\n';
            }
            if (demo) std::cerr << "(mock server: these numbers describe the mock, not a model)\n";
        }
        if (example::server_watch.gave_up()) return example::exit_code(1, "bench-matrix");
        if (runner.interrupted()) {
            std::cerr << "bench-matrix: interrupted after " << results.size() << " of " << cells.size() << " cells\n";
            return 130;
        }
        return failed > 0 ? 1 : 0;
    } catch (const llmbench::error& e) {
        std::cerr << "bench-matrix: error: " << e.what() << '\n';
        return example::exit_code_for(e);
    }
}
