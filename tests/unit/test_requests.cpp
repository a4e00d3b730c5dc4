#include <llmbench/client/ollama_client.hpp>

#include <doctest/doctest.h>

using namespace llmbench;

TEST_CASE("options that are not set are not sent") {
    GenerateRequest r;
    r.model = "llama3.1:8b";
    r.prompt = "hi";
    CHECK(r.to_json() == R"({"model":"llama3.1:8b","prompt":"hi","stream":true,"options":{}})");
}

TEST_CASE("every documented option is sent when set, with Ollama's names") {
    GenerateRequest r;
    r.model = "m";
    r.prompt = "p";
    r.system = "sys";
    r.raw = false;
    r.keep_alive = "10m";
    auto& o = r.options;
    o.num_ctx = 8192;
    o.num_predict = 256;
    o.temperature = 0;
    o.top_p = 0.9;
    o.top_k = 40;
    o.min_p = 0.05;
    o.seed = 42;
    o.repeat_penalty = 1.1;
    o.stop = std::vector<std::string>{"\n\n", "User:"};
    o.num_thread = 8;
    o.num_gpu = 99;
    CHECK(r.to_json() ==
          R"({"model":"m","prompt":"p","system":"sys","raw":false,"keep_alive":"10m","stream":true,"options":{)"
          R"("num_ctx":8192,"num_gpu":99,"num_thread":8,"num_predict":256,"temperature":0,"top_p":0.9,"top_k":40,)"
          R"("min_p":0.05,"repeat_penalty":1.1,"seed":42,"stop":["\n\n","User:"]}})");
}

TEST_CASE("keep_alive: numbers are sent as numbers, durations as strings") {
    GenerateRequest r;
    r.keep_alive = "-1";
    CHECK(r.to_json().find(R"("keep_alive":-1,)") != std::string::npos);
    r.keep_alive = "0";
    CHECK(r.to_json().find(R"("keep_alive":0,)") != std::string::npos);
    r.keep_alive = "5m";
    CHECK(r.to_json().find(R"("keep_alive":"5m",)") != std::string::npos);
}

TEST_CASE("chat requests carry their messages in order") {
    ChatRequest c{"m", {{"system", "be brief"}, {"user", "hi \"there\""}}, {}, {}, true, {}};
    CHECK(c.to_json() ==
          R"({"model":"m","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi \"there\""}],)"
          R"("stream":true,"options":{}})");
}
