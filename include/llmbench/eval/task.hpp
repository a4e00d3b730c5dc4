// llmbench/eval/task.hpp - the quality tasks by name, and the ways a multiple-choice answer is
// read. Small on purpose: result readers (llmbench-report) need the names without the datasets.
#pragma once

#include <string>

#include "llmbench/core/error.hpp"

namespace llmbench::eval {

enum class TaskKind { mmlu, arc_challenge, hellaswag, truthfulqa_mc1, truthfulqa_mc0, gsm8k, humaneval, mbpp };

inline const char* to_string(TaskKind t) {
    switch (t) {
        case TaskKind::mmlu: return "mmlu";
        case TaskKind::arc_challenge: return "arc_challenge";
        case TaskKind::hellaswag: return "hellaswag";
        case TaskKind::truthfulqa_mc1: return "truthfulqa_mc1";
        case TaskKind::truthfulqa_mc0: return "truthfulqa_mc0";
        case TaskKind::gsm8k: return "gsm8k";
        case TaskKind::humaneval: return "humaneval";
        case TaskKind::mbpp: return "mbpp";
    }
    return "";
}

inline TaskKind parse_task(const std::string& name) {
    for (TaskKind t : {TaskKind::mmlu, TaskKind::arc_challenge, TaskKind::hellaswag, TaskKind::truthfulqa_mc1, TaskKind::truthfulqa_mc0, TaskKind::gsm8k,
                       TaskKind::humaneval, TaskKind::mbpp})
        if (name == to_string(t)) return t;
    throw error(errc::usage, "unknown task '" + name + "' (mmlu, arc_challenge, hellaswag, truthfulqa_mc1, truthfulqa_mc0, gsm8k, humaneval, mbpp)");
}

inline bool is_code_task(TaskKind t) { return t == TaskKind::humaneval || t == TaskKind::mbpp; }
inline bool is_choice_task(TaskKind t) { return !is_code_task(t) && t != TaskKind::gsm8k; }

/// How a multiple-choice answer is read: the letter the model writes (generative), or the
/// option letter most likely as the one token after "Answer:" (logprob, lm-evaluation-harness's
/// MMLU acc).
enum class Scoring { generative, logprob };

inline const char* to_string(Scoring s) { return s == Scoring::logprob ? "logprob" : "generative"; }

inline Scoring parse_scoring(const std::string& name) {
    if (name == "generative") return Scoring::generative;
    if (name == "logprob") return Scoring::logprob;
    throw error(errc::usage, "unknown scoring '" + name + "' (generative, logprob)");
}

/// Alternatives asked for the one token logprob scoring reads: Ollama's most (20).
inline constexpr int letter_top_logprobs = 20;

}  // namespace llmbench::eval
