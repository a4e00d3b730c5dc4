// ollama-bench: the reference benchmark's command line, measured properly.
//
//   ollama-bench --model llama3.1:8b --prompts prompts.jsonl --runs 5 --temperature 0 --num_predict 256
//
// stdout: a metadata object, one JSON object per run (flushed as measured), a summary object.
// stderr: progress and a human summary table.
// Exit: 0 all runs ok; 1 some runs failed; 2 setup error (arguments, prompts file, model
// missing); 3 server unreachable, or it went away for good (--server-wait); 130 interrupted (the summary still prints).
#include <llmbench/llmbench.hpp>
#include <llmbench/run/load.hpp>
#include <llmbench/report/progress.hpp>
#include <llmbench/testing/mock_ollama.hpp>
#include <llmbench/testing/mock_openai.hpp>

#include <CLI/CLI.hpp>

#include <cstdlib>
#include <iostream>
#include <memory>

#include "command_line.hpp"
#include "example_support.hpp"

int main(int argc, char** argv) {
    CLI::App app{"ollama-bench: time to first token, token rates and latency of an Ollama model, with honest statistics"};
    std::string model, prompts_path, host, output, keep_alive = "30m";
    int runs = 5, warmup = 1;
    bool cold = false;
    double timeout_s = 0;
    bool demo = false, quiet = false, verbose = false;
    std::vector<int> concurrency{1};
    std::vector<double> request_rates;
    double burstiness = 1.0;
    std::optional<std::size_t> load_requests;
    std::string slo;
    llmbench::Options opt;
    std::optional<double> temperature, top_p, repeat_penalty, min_p;
    std::optional<int> num_predict, top_k, seed, num_ctx;

    app.add_option("--model", model, "Model tag, e.g. llama3.1:8b")->required();
    app.add_option("--prompts", prompts_path, "JSONL file: {\"prompt\": ..., \"id\"?, \"system\"?, \"num_predict\"?} per line")
        ->required();
    app.add_option("--runs", runs, "Timed passes over all prompts")->capture_default_str()->check(CLI::Range(1, 100000));
    app.add_option("--warmup", warmup, "Untimed requests before the runs, excluded from stats")
        ->capture_default_str()
        ->check(CLI::Range(0, 1000));
    app.add_option("--temperature", temperature, "Sampling temperature");
    app.add_option("--num_predict,--num-predict", num_predict, "Tokens to generate (-1 = until the model stops)");
    app.add_option("--top_p,--top-p", top_p);
    app.add_option("--top_k,--top-k", top_k);
    app.add_option("--min_p,--min-p", min_p);
    app.add_option("--seed", seed);
    app.add_option("--repeat_penalty,--repeat-penalty", repeat_penalty);
    app.add_option("--num_ctx,--num-ctx", num_ctx, "Context window (changing it reloads the model)");
    app.add_option("--keep_alive,--keep-alive", keep_alive, "How long the model stays loaded (\"30m\", \"-1\" = forever)")
        ->capture_default_str();
    app.add_option("--host", host, "Ollama server (default: OLLAMA_HOST, else 127.0.0.1:11434)");
    example::BackendOptions backend_options;
    backend_options.add_to(app);
    app.add_option("--timeout", timeout_s, "Seconds to wait for the first byte and between chunks (default 600 / 120)")
        ->check(CLI::PositiveNumber);
    app.add_option("--output,-o", output, "Also write the JSON lines to this file");
    app.add_flag("--cold", cold,
                 "Every request misses the prompt cache (llama.cpp: cache_prompt false; Ollama and others: a unique first line); "
                 "the metadata says which");
    bool server_metrics = false;
    app.add_flag("--server-metrics", server_metrics,
                 "Read the server's Prometheus /metrics (llama-server --metrics, vLLM) before and after the runs, and write the "
                 "counters' differences beside the client's totals (a server_metrics line)");
    app.add_flag("--demo", demo, "Run against the built-in mock server (no Ollama needed; numbers are not a model's)");
    app.add_flag("--quiet,-q", quiet, "No progress or table on stderr");
    app.add_flag("--verbose,-v", verbose, "A line per run on stderr instead of the progress bar");
    app.add_option("--concurrency", concurrency,
                   "Load: requests in flight at once (closed loop; with --request-rate, the cap). A list (1,4,16) sweeps them")
        ->delimiter(',')
        ->check(CLI::Range(1, 4096));
    app.add_option("--request-rate", request_rates, "Load: requests per second (open loop, Poisson). A list (1,2,4) sweeps them")
        ->delimiter(',')
        ->check(CLI::PositiveNumber);
    app.add_option("--burstiness", burstiness, "Load: gamma shape of the arrival gaps (1 = Poisson, < 1 burstier)")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    int loop_threads = 0;
    app.add_option("--loop-threads", loop_threads,
                   "Load: threads of the event loop that reads the streams (default 0: one per core); fewer leave cores to a server "
                   "on this machine (docs/scale.md)")
        ->check(CLI::Range(0, 1024));
    app.add_option("--requests", load_requests, "Load: number of requests (default: prompts x runs)");
    std::optional<double> duration_s;
    app.add_option("--duration", duration_s, "Load: seconds to send for, instead of a number of requests (per level in a sweep)")
        ->check(CLI::PositiveNumber)
        ->excludes("--requests");
    app.add_option("--slo", slo, "Load: goodput targets, e.g. ttft_s=0.5,tpot_s=0.05");
    std::string shard;
    app.add_option("--shard", shard,
                   "Do shard I of N (\"I/N\", from 0): the prompts at positions p with p mod N = I, all their runs; llmbench-report "
                   "merges the N files (docs/scale.md)");
    example::MemoryOptions memory;
    memory.add_to(app);
    example::RooflineOptions roofline_options;
    roofline_options.add_to(app);
    if (const auto code = example::parse_command_line(app, argc, argv)) return *code;
    (void)llmbench::raise_open_files_limit();  // a socket per stream in flight; the metadata reports the limit

    opt.temperature = temperature;
    opt.num_predict = num_predict;
    opt.top_p = top_p;
    opt.top_k = top_k;
    opt.min_p = min_p;
    opt.seed = seed;
    opt.repeat_penalty = repeat_penalty;
    opt.num_ctx = num_ctx;

    try {
        llmbench::BenchmarkConfig config;
        config.model = model;
        config.prompts = llmbench::load_prompts(prompts_path);
        config.runs = runs;
        config.warmup = warmup;
        config.options = opt;
        config.keep_alive = keep_alive;
        config.preload = false;  // done below, before the metadata is read
        config.cold_cache = cold;
        config.controls = backend_options.controls();
        if (!shard.empty()) config.shard = llmbench::parse_shard(shard);
        const bool load_mode = concurrency.size() > 1 || concurrency.front() > 1 || !request_rates.empty();
        if (load_mode && config.shard.sharded())
            throw llmbench::error(llmbench::errc::usage, "--shard: not in load mode (each shard would be its own load, not a share of one)");
        if (config.shard.index >= config.prompts.size() && !quiet)
            std::cerr << "ollama-bench: note: --shard " << config.shard.label() << " has no prompt of the " << config.prompts.size() << " (only warm-ups run)\n";
        if (load_mode && cold) throw llmbench::error(llmbench::errc::usage, "--cold: not in load mode yet (--concurrency, --request-rate)");
        if (server_metrics && !backend_options.openai())
            throw llmbench::error(llmbench::errc::usage,
                                  "--server-metrics: Ollama has no /metrics (the llama-server it runs listens on a private port); use --backend "
                                  "openai with llama-server --metrics or vLLM");
        example::JsonLines out(output);

        const bool openai = backend_options.openai();
        std::string& base_url = backend_options.base_url;
        if (openai && base_url.empty() && !demo) throw llmbench::error(llmbench::errc::usage, "--backend openai needs --base-url");
        std::unique_ptr<llmbench::testing::MockOllama> mock;
        std::unique_ptr<llmbench::testing::MockOpenAI> openai_mock;
        llmbench::Endpoint endpoint = host.empty() ? llmbench::endpoint_from_env() : llmbench::parse_ollama_host(host);
        if (demo && openai) {
            openai_mock = backend_options.start_demo_server(model);
            if (!quiet)
                std::cerr << "ollama-bench: --demo: talking to the built-in OpenAI-compatible mock at " << base_url
                          << "; its numbers are synthetic, not a model's\n";
        } else if (demo) {
            mock = std::make_unique<llmbench::testing::MockOllama>(example::demo_config());
            endpoint = mock->endpoint();
            if (!quiet)
                std::cerr << "ollama-bench: --demo: talking to the built-in mock server at " << endpoint.url()
                          << "; its numbers are synthetic, not a model's\n";
        }
        llmbench::OpenAIClientOptions client_options;
        if (timeout_s > 0) client_options.timeouts.first_byte_s = client_options.timeouts.idle_s = timeout_s;
        client_options.api_key_env = backend_options.api_key_env;
        llmbench::OllamaClient client(endpoint, client_options);
        std::unique_ptr<llmbench::OpenAIClient> openai_client;
        std::unique_ptr<llmbench::Backend> backend;
        if (openai) {
            openai_client = std::make_unique<llmbench::OpenAIClient>(base_url, client_options);
            backend = std::make_unique<llmbench::OpenAIBackend>(*openai_client, backend_options.chat());
        } else {
            auto ollama = std::make_unique<llmbench::OllamaBackend>(client);
            ollama->set_server_pid(memory.server_pid);
            backend = std::move(ollama);
        }
        backend_options.quiet = quiet;
        backend = backend_options.watched(std::move(backend));
        if (demo) backend->set_label("mock");  // every record says its numbers are the mock's

        llmbench::Benchmark bench(*backend, config);
        const llmbench::StreamResult loaded = bench.preload();
        if (!loaded.ok()) {
            const auto code = loaded.failure->code();
            if (code == llmbench::errc::connect || code == llmbench::errc::model_not_found || code == llmbench::errc::timeout)
                throw *loaded.failure;
            std::cerr << "ollama-bench: warning: preloading the model failed: " << loaded.failure->what() << '\n';
        }
        std::unique_ptr<llmbench::MemorySampler> sampler;  // started before the metadata: the idle power goes in it
        if (!load_mode) sampler = openai ? memory.start_without_ollama(demo) : memory.start(endpoint, demo);
        const auto idle_power = memory.measure_idle(sampler.get(), quiet);
        auto meta = backend->describe(model);
        meta.idle_power = idle_power;
        if (demo) meta.backend_kind = openai ? "mock-openai" : "mock";
        const auto roofline = backend->capabilities().model_shape ? roofline_options.attach(meta) : std::nullopt;
        if (roofline) bench.roofline(&*roofline);
        meta.request_json = bench.request_json();
        meta.sent_options = opt;
        if (config.cold_cache) meta.notes.push_back("--cold: every request misses the prompt cache through " + bench.cold_cache_method());
        meta.set_prompts_file(prompts_path, config.prompts.size());
        meta.command_line.assign(argv, argv + argc);
        if (config.shard.sharded()) meta.shard = config.shard;
        out.write(meta.to_json());

        // The server's counters before the first measured request; after the last, differenced.
        std::optional<llmbench::PrometheusPage> metrics_before;
        llmbench::ClientTotals client_totals;
        if (server_metrics) {
            try {
                metrics_before = llmbench::parse_prometheus(openai_client->metrics_text());
            } catch (const llmbench::error& e) {
                throw llmbench::error(llmbench::errc::usage, std::string("--server-metrics: ") + e.what() + " (llama-server: start it with --metrics)");
            }
        }
        const auto write_server_metrics = [&](const std::string& note) {
            if (!metrics_before) return;
            try {
                auto delta = llmbench::ServerMetricsDelta::between(openai_client->endpoint().url() + "/metrics", *metrics_before,
                                                                   llmbench::parse_prometheus(openai_client->metrics_text()));
                if (!note.empty()) delta.notes.push_back(note);
                llmbench::JsonWriter w;
                llmbench::write_server_metrics_json(w, delta, client_totals);
                out.write(w.take());
            } catch (const llmbench::error& e) {
                std::cerr << "ollama-bench: warning: --server-metrics: reading /metrics after the runs failed: " << e.what() << '\n';
            }
        };

        if (load_mode) {  // one level, or a sweep over concurrency levels or rates
            if (concurrency.size() > 1 && !request_rates.empty())
                throw llmbench::error(llmbench::errc::usage, "--concurrency and --request-rate: sweep one of them; the other takes one value");
            llmbench::LoadSpec spec;
            spec.burstiness = burstiness;
            spec.loop_threads = loop_threads;
            spec.requests = load_requests.value_or(config.prompts.size() * static_cast<std::size_t>(runs));
            spec.duration_s = duration_s;
            spec.seed = static_cast<std::uint64_t>(seed.value_or(0));
            spec.stop = &example::stop_requested;
            const llmbench::Slo objectives = llmbench::parse_slo(slo);
            spec.slo_ttft_s = objectives.ttft_s;
            spec.slo_tpot_s = objectives.tpot_s;
            const auto make_backend = backend_options.factory(endpoint, client_options, backend->label());
            const auto request_for = [&](std::size_t i) {
                const auto& p = config.prompts[i % config.prompts.size()];
                llmbench::GenerateRequest r;
                r.model = model;
                r.prompt = p.text;
                r.system = p.system;
                r.options = opt;
                if (p.num_predict) r.options.num_predict = p.num_predict;
                r.keep_alive = keep_alive;
                r.controls = config.controls;
                return r;
            };
            example::stop_on_signals();
            const std::size_t levels = request_rates.empty() ? concurrency.size() : request_rates.size();
            bool all_ok = true;
            for (std::size_t level = 0; level < levels && !example::stop_requested; ++level) {
                spec.level = level;
                if (request_rates.empty()) {
                    spec.concurrency = concurrency[level];
                } else {
                    spec.request_rate = request_rates[level];
                    spec.concurrency = concurrency.front() > 1 ? concurrency.front() : 0;  // the cap; 0: none
                }
                spec.warmup = warmup;  // at the level's own concurrency, so every slot is warm; not recorded
                const auto result = llmbench::run_load(make_backend, request_for, spec, [&](std::size_t i, const llmbench::LoadRequest& r) {
                    client_totals.add(r.run);
                    out.write(llmbench::load_request_json(i, r, level));
                });
                out.write(llmbench::load_summary_json(result, spec));
                all_ok = all_ok && result.succeeded() == result.requests.size();
                if (!quiet)
                    std::cerr << "load " << (spec.request_rate ? example::fixed(*spec.request_rate, " req/s", 2) : std::to_string(spec.concurrency) + " streams")
                              << ": " << result.succeeded() << "/" << result.requests.size() << " ok in " << example::fixed(result.duration_s, " s", 2)
                              << "; " << example::fixed(result.request_throughput(), " req/s", 2) << ", "
                              << example::fixed(result.output_token_throughput(), " output tok/s", 1) << ", TTFT p50 "
                              << example::fixed(result.stats([](const llmbench::LoadRequest& r) { return r.ttft_s; }).p50, " s", 3) << ", goodput "
                              << example::fixed(result.goodput(), " req/s", 2) << ", peak " << result.peak_concurrency << " in flight\n";
            }
            write_server_metrics(warmup > 0 ? "the client totals leave out the " + std::to_string(warmup) +
                                                  " unrecorded warm-up requests per stream and level; the server counted them"
                                            : "");
            if (!quiet && demo) std::cerr << "(mock server: these numbers describe the mock, not a model)\n";
            if (example::server_watch.gave_up()) return example::exit_code(1, "ollama-bench");
            if (example::stop_requested) {
                std::cerr << "ollama-bench: interrupted; every request that ended is recorded\n";
                return 130;
            }
            return all_ok ? 0 : 1;
        }

        bench.memory_sampler(sampler.get());
        example::stop_on_signals();
        std::size_t done = 0;
        const std::size_t total = bench.total_runs();
        llmbench::ProgressOptions progress_options;
        progress_options.enabled = !quiet && !verbose;
        llmbench::Progress progress(std::cerr, total, 0, progress_options);
        bench.stop_when(&example::stop_requested).on_record([&](const llmbench::RunRecord& r) {
            client_totals.add(r);
            out.write(r.to_json());
            if (!r.id.warmup) ++done;
            if (!r.id.warmup) progress.run_done(r.gen_toks_per_s());
            if (!verbose || quiet) return;
            std::cerr << (r.id.warmup ? "[warm-up] " : "[" + std::to_string(done) + "/" + std::to_string(total) + "] ")
                      << r.id.prompt_id << " run " << r.id.run_index << ": ";
            if (r.ok())
                std::cerr << "ttft " << example::fixed(r.client.ttft_s, " s", 3) << ", " << example::fixed(r.gen_toks_per_s(), " tok/s", 1) << ", wall "
                          << example::fixed(r.client.wall_s, " s", 2) << '\n';
            else
                std::cerr << "FAILED (" << llmbench::to_string(*r.outcome.error_kind) << "): " << r.outcome.error_message << '\n';
        });
        auto summary = bench.run().summary();
        bench.conditions().attach_to(summary);
        progress.finish();
        out.write(summary.to_json());
        write_server_metrics("");
        if (sampler) {
            sampler->stop();
            out.write(sampler->timeline_json());
        }
        if (!quiet) {
            std::cerr << '\n' << llmbench::format_summary_table(summary);
            if (demo) std::cerr << "(mock server: these numbers describe the mock, not a model)\n";
        }
        if (example::server_watch.gave_up()) return example::exit_code(1, "ollama-bench");
        if (bench.interrupted()) {
            std::cerr << "ollama-bench: interrupted; the summary covers the " << summary.runs_ok + summary.runs_failed
                      << " runs completed\n";
            return 130;
        }
        return summary.runs_failed > 0 ? 1 : 0;
    } catch (const llmbench::error& e) {
        std::cerr << "ollama-bench: error: " << e.what() << '\n';
        return example::exit_code_for(e);
    }
}
