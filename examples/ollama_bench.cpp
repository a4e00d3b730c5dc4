// ollama-bench: the reference benchmark's command line, measured properly.
//
//   ollama-bench --model llama3.1:8b --prompts prompts.jsonl --runs 5 --temperature 0 --num_predict 256
//
// stdout: a metadata object, one JSON object per run (flushed as measured), a summary object.
// stderr: progress and a human summary table.
// Exit: 0 all runs ok; 1 some runs failed; 2 setup error (arguments, prompts file, model
// missing); 3 server unreachable; 130 interrupted (the summary still prints).
#include <llmbench/llmbench.hpp>
#include <llmbench/load.hpp>
#include <llmbench/report/progress.hpp>
#include <llmbench/testing/mock_ollama.hpp>
#include <llmbench/testing/mock_openai.hpp>

#include <CLI/CLI.hpp>

#include <cstdlib>
#include <iostream>
#include <memory>

#include "example_support.hpp"

int main(int argc, char** argv) {
    CLI::App app{"ollama-bench: time to first token, token rates and latency of an Ollama model, with honest statistics"};
    std::string model, prompts_path, host, output, keep_alive = "30m", backend_kind = "ollama", base_url, api_key_env = "OPENAI_API_KEY",
                openai_endpoint = "chat";
    int runs = 5, warmup = 1;
    double timeout_s = 0;
    bool demo = false, quiet = false, verbose = false;
    int concurrency = 1;
    std::optional<double> request_rate;
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
    app.add_option("--backend", backend_kind, "ollama (native API) or openai (llama.cpp, vLLM, LM Studio, Ollama /v1)")
        ->capture_default_str()
        ->check(CLI::IsMember({"ollama", "openai"}));
    app.add_option("--base-url,--base_url", base_url, "OpenAI-compatible server, e.g. http://127.0.0.1:8080 (llama-server)");
    app.add_option("--api-key-env", api_key_env, "Environment variable with the API key (sent as a Bearer token, never recorded)")
        ->capture_default_str();
    app.add_option("--openai-endpoint", openai_endpoint, "chat (/v1/chat/completions) or completions (/v1/completions)")
        ->capture_default_str()
        ->check(CLI::IsMember({"chat", "completions"}));
    app.add_option("--timeout", timeout_s, "Seconds to wait for the first byte and between chunks (default 600 / 120)")
        ->check(CLI::PositiveNumber);
    app.add_option("--output,-o", output, "Also write the JSON lines to this file");
    app.add_flag("--demo", demo, "Run against the built-in mock server (no Ollama needed; numbers are not a model's)");
    app.add_flag("--quiet,-q", quiet, "No progress or table on stderr");
    app.add_flag("--verbose,-v", verbose, "A line per run on stderr instead of the progress bar");
    app.add_option("--concurrency", concurrency, "Load: requests in flight at once (closed loop; with --request-rate, the cap)")
        ->capture_default_str()
        ->check(CLI::Range(1, 4096));
    app.add_option("--request-rate", request_rate, "Load: requests per second (open loop, Poisson)")->check(CLI::PositiveNumber);
    app.add_option("--burstiness", burstiness, "Load: gamma shape of the arrival gaps (1 = Poisson, < 1 burstier)")
        ->capture_default_str()
        ->check(CLI::PositiveNumber);
    app.add_option("--requests", load_requests, "Load: number of requests (default: prompts x runs)");
    app.add_option("--slo", slo, "Load: goodput targets, e.g. ttft_s=0.5,tpot_s=0.05");
    example::MemoryOptions memory;
    memory.add_to(app);
    CLI11_PARSE(app, argc, argv);

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
        example::JsonLines out(output);

        const bool openai = backend_kind == "openai";
        if (openai && base_url.empty() && !demo) throw llmbench::error(llmbench::errc::usage, "--backend openai needs --base-url");
        std::unique_ptr<llmbench::testing::MockOllama> mock;
        std::unique_ptr<llmbench::testing::MockOpenAI> openai_mock;
        llmbench::Endpoint endpoint = host.empty() ? llmbench::endpoint_from_env() : llmbench::parse_ollama_host(host);
        if (demo && openai) {
            llmbench::testing::MockOpenAIConfig cfg;
            cfg.flavour = llmbench::testing::OpenAIFlavour::llamacpp;
            cfg.model = model;
            cfg.tokens = 300;
            cfg.first_token_delay = std::chrono::milliseconds(20);
            cfg.token_delay = std::chrono::microseconds(500);
            openai_mock = std::make_unique<llmbench::testing::MockOpenAI>(cfg);
            base_url = openai_mock->base_url();
            config.backend_label = "mock";
            if (!quiet)
                std::cerr << "ollama-bench: --demo: talking to the built-in OpenAI-compatible mock at " << base_url
                          << "; its numbers are synthetic, not a model's\n";
        } else if (demo) {
            mock = std::make_unique<llmbench::testing::MockOllama>(example::demo_config());
            endpoint = mock->endpoint();
            config.backend_label = "mock";
            if (!quiet)
                std::cerr << "ollama-bench: --demo: talking to the built-in mock server at " << endpoint.url()
                          << "; its numbers are synthetic, not a model's\n";
        }
        llmbench::OpenAIClientOptions client_options;
        if (timeout_s > 0) client_options.timeouts.first_byte_s = client_options.timeouts.idle_s = timeout_s;
        client_options.api_key_env = api_key_env;
        llmbench::OllamaClient client(endpoint, client_options);
        std::unique_ptr<llmbench::OpenAIClient> openai_client;
        std::unique_ptr<llmbench::Backend> backend;
        if (openai) {
            openai_client = std::make_unique<llmbench::OpenAIClient>(base_url, client_options);
            backend = std::make_unique<llmbench::OpenAIBackend>(*openai_client, openai_endpoint == "chat");
            if (!demo) config.backend_label = "openai";
        } else {
            backend = std::make_unique<llmbench::OllamaBackend>(client);
        }

        llmbench::Benchmark bench(*backend, config);
        const llmbench::StreamResult loaded = bench.preload();
        if (!loaded.ok()) {
            const auto code = loaded.failure->code();
            if (code == llmbench::errc::connect || code == llmbench::errc::model_not_found || code == llmbench::errc::timeout)
                throw *loaded.failure;
            std::cerr << "ollama-bench: warning: preloading the model failed: " << loaded.failure->what() << '\n';
        }
        auto meta = openai ? llmbench::describe_openai_server(*openai_client, model) : llmbench::RunMetadata::collect(client, model);
        if (demo) meta.backend_kind = openai ? "mock-openai" : "mock";
        meta.request_json = bench.request_json();
        meta.set_prompts_file(prompts_path, config.prompts.size());
        meta.command_line.assign(argv, argv + argc);
        out.write(meta.to_json());

        if (concurrency > 1 || request_rate) {  // load mode
            llmbench::LoadSpec spec;
            spec.concurrency = request_rate ? (concurrency > 1 ? concurrency : 0) : concurrency;
            spec.request_rate = request_rate;
            spec.burstiness = burstiness;
            spec.requests = load_requests.value_or(config.prompts.size() * static_cast<std::size_t>(runs));
            spec.seed = static_cast<std::uint64_t>(seed.value_or(0));
            llmbench::detail::for_each_list_item(slo, [&](const std::string& item) {
                const auto eq = item.find('=');
                const std::string key = item.substr(0, eq);
                const double value = eq == std::string::npos ? -1 : std::atof(item.c_str() + eq + 1);
                if (value <= 0 || (key != "ttft_s" && key != "tpot_s"))
                    throw llmbench::error(llmbench::errc::usage, "--slo: '" + item + "' is not ttft_s=SECONDS or tpot_s=SECONDS");
                (key == "ttft_s" ? spec.slo_ttft_s : spec.slo_tpot_s) = value;
            });
            const auto make_backend = [&]() -> std::unique_ptr<llmbench::Backend> {
                struct OwningOpenAI : llmbench::OpenAIBackend {
                    OwningOpenAI(std::unique_ptr<llmbench::OpenAIClient> c, bool chat) : OpenAIBackend(*c, chat), client(std::move(c)) {}
                    std::unique_ptr<llmbench::OpenAIClient> client;
                };
                struct OwningOllama : llmbench::OllamaBackend {
                    explicit OwningOllama(std::unique_ptr<llmbench::OllamaClient> c) : OllamaBackend(*c), client(std::move(c)) {}
                    std::unique_ptr<llmbench::OllamaClient> client;
                };
                if (openai)
                    return std::make_unique<OwningOpenAI>(std::make_unique<llmbench::OpenAIClient>(base_url, client_options), openai_endpoint == "chat");
                return std::make_unique<OwningOllama>(std::make_unique<llmbench::OllamaClient>(endpoint, client_options));
            };
            const auto request_for = [&](std::size_t i) {
                const auto& p = config.prompts[i % config.prompts.size()];
                llmbench::GenerateRequest r;
                r.model = model;
                r.prompt = p.text;
                r.system = p.system;
                r.options = opt;
                if (p.num_predict) r.options.num_predict = p.num_predict;
                r.keep_alive = keep_alive;
                return r;
            };
            if (warmup > 0) {  // at the run's own concurrency, so every slot is warm; not recorded
                llmbench::LoadSpec w = spec;
                w.request_rate.reset();
                w.concurrency = std::max(1, concurrency);
                w.requests = static_cast<std::size_t>(w.concurrency * warmup);
                llmbench::run_load(make_backend, request_for, w);
            }
            example::stop_on_ctrl_c();
            const auto result = llmbench::run_load(make_backend, request_for, spec, [&](std::size_t i, const llmbench::LoadRequest& r) {
                out.write(llmbench::load_request_json(i, r));
            });
            out.write(llmbench::load_summary_json(result, spec));
            if (!quiet)
                std::cerr << "load: " << result.succeeded() << "/" << result.requests.size() << " ok in " << example::fixed(result.duration_s, " s", 2)
                          << "; " << example::fixed(result.request_throughput(), " req/s", 2) << ", "
                          << example::fixed(result.output_token_throughput(), " output tok/s", 1) << ", goodput "
                          << example::fixed(result.goodput(), " req/s", 2) << ", peak " << result.peak_concurrency << " in flight\n"
                          << (demo ? "(mock server: these numbers describe the mock, not a model)\n" : "");
            return result.succeeded() == result.requests.size() ? 0 : 1;
        }

        const auto sampler = openai ? memory.start_without_ollama(demo) : memory.start(endpoint, demo);
        bench.memory_sampler(sampler.get());
        example::stop_on_ctrl_c();
        std::size_t done = 0;
        const std::size_t total = bench.total_runs();
        llmbench::ProgressOptions progress_options;
        progress_options.enabled = !quiet && !verbose;
        llmbench::Progress progress(std::cerr, total, 0, progress_options);
        bench.stop_when(&example::stop_requested).on_record([&](const llmbench::RunRecord& r) {
            out.write(r.to_json());
            if (!r.warmup) ++done;
            if (!r.warmup) progress.run_done(r.gen_toks_per_s());
            if (!verbose || quiet) return;
            std::cerr << (r.warmup ? "[warm-up] " : "[" + std::to_string(done) + "/" + std::to_string(total) + "] ")
                      << r.prompt_id << " run " << r.run_index << ": ";
            if (r.ok)
                std::cerr << "ttft " << example::fixed(r.ttft_s, " s", 3) << ", " << example::fixed(r.gen_toks_per_s(), " tok/s", 1) << ", wall "
                          << example::fixed(r.wall_s, " s", 2) << '\n';
            else
                std::cerr << "FAILED (" << llmbench::to_string(*r.error_kind) << "): " << r.error_message << '\n';
        });
        const auto summary = bench.run().summary();
        progress.finish();
        out.write(summary.to_json());
        if (sampler) {
            sampler->stop();
            out.write(sampler->timeline_json());
        }
        if (!quiet) {
            std::cerr << '\n' << llmbench::format_summary_table(summary);
            if (demo) std::cerr << "(mock server: these numbers describe the mock, not a model)\n";
        }
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
