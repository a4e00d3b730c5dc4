// llmbench/eval/scoring.hpp - accuracy with its uncertainty, calibration, pass@k, MMLU
// categories, and Meta's published numbers for llama3.1 8B Instruct.
#pragma once

#include <cmath>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace llmbench::eval {

/// The 95% Wilson score interval of a proportion: unlike the normal approximation it stays
/// inside [0, 1] and is honest at 0 or 100% and for small n.
inline std::pair<double, double> wilson_interval(std::size_t correct, std::size_t n, double z = 1.959963984540054) {
    if (n == 0) return {0, 1};
    const double dn = static_cast<double>(n), p = static_cast<double>(correct) / dn, z2 = z * z;
    const double centre = (p + z2 / (2 * dn)) / (1 + z2 / dn);
    const double half = z * std::sqrt(p * (1 - p) / dn + z2 / (4 * dn * dn)) / (1 + z2 / dn);
    return {std::max(0.0, centre - half), std::min(1.0, centre + half)};
}

/// One multiple-choice item as a calibration sees it: the probability given to each option
/// (summing to 1) and the right one.
struct ProbabilisticAnswer {
    std::vector<double> probabilities;
    std::size_t gold = 0;
};

/// How well confidence matches accuracy. Confidence is the probability of the chosen option
/// (the most likely; ties to the earlier one). `bins` are equal-width over [0, 1]: bin b holds
/// confidences in (b/B, (b+1)/B], and bin 0 also 0 itself.
struct Calibration {
    std::size_t n = 0;
    double accuracy = 0, mean_confidence = 0;
    /// Expected calibration error: sum over bins of (n_b / n) * |accuracy_b - confidence_b|.
    double ece = 0;
    /// Multi-class Brier score: the mean over items of sum_k (p_k - [k == gold])^2; 0 is
    /// perfect, 2 is certain and wrong.
    double brier = 0;
    struct Bin {
        double lower = 0, upper = 0;
        std::size_t n = 0;
        double accuracy = 0, mean_confidence = 0;  ///< 0 when the bin is empty
    };
    std::vector<Bin> bins;  ///< every bin, empty ones too: a reliability diagram's bars
};

/// Calibration over `answers` in `bin_count` bins (15, as Guo et al. 2017 and most since).
inline Calibration calibration(const std::vector<ProbabilisticAnswer>& answers, std::size_t bin_count = 15) {
    Calibration c;
    c.bins.resize(bin_count);
    for (std::size_t b = 0; b < bin_count; ++b) {
        c.bins[b].lower = static_cast<double>(b) / static_cast<double>(bin_count);
        c.bins[b].upper = static_cast<double>(b + 1) / static_cast<double>(bin_count);
    }
    std::vector<double> correct_in(bin_count, 0), confidence_in(bin_count, 0);
    for (const auto& a : answers) {
        if (a.probabilities.empty()) continue;
        std::size_t chosen = 0;
        double brier = 0;
        for (std::size_t k = 0; k < a.probabilities.size(); ++k) {
            if (a.probabilities[k] > a.probabilities[chosen]) chosen = k;
            const double miss = a.probabilities[k] - (k == a.gold ? 1.0 : 0.0);
            brier += miss * miss;
        }
        const double confidence = a.probabilities[chosen];
        const bool right = chosen == a.gold;
        // ceil(conf * B) - 1 puts an edge value (say 1/15) in the lower bin, as (lower, upper] says
        const double scaled = std::ceil(confidence * static_cast<double>(bin_count)) - 1;
        const std::size_t b = scaled <= 0 ? 0 : std::min(bin_count - 1, static_cast<std::size_t>(scaled));
        ++c.bins[b].n;
        correct_in[b] += right ? 1 : 0;
        confidence_in[b] += confidence;
        ++c.n;
        c.accuracy += right ? 1 : 0;
        c.mean_confidence += confidence;
        c.brier += brier;
    }
    if (c.n == 0) return c;
    const double n = static_cast<double>(c.n);
    for (std::size_t b = 0; b < bin_count; ++b) {
        auto& bin = c.bins[b];
        if (bin.n == 0) continue;
        bin.accuracy = correct_in[b] / static_cast<double>(bin.n);
        bin.mean_confidence = confidence_in[b] / static_cast<double>(bin.n);
        c.ece += static_cast<double>(bin.n) / n * std::fabs(bin.accuracy - bin.mean_confidence);
    }
    c.accuracy /= n;
    c.mean_confidence /= n;
    c.brier /= n;
    return c;
}

/// Unbiased pass@k for one problem with `n` samples of which `c` passed (Chen et al. 2021):
/// 1 - C(n-c, k) / C(n, k), computed as a product so nothing overflows. nullopt when k > n
/// (undefined: the reference script skips such k).
inline std::optional<double> pass_at_k(std::size_t n, std::size_t c, std::size_t k) {
    if (k == 0 || k > n || c > n) return std::nullopt;
    if (n - c < k) return 1.0;
    double all_fail = 1.0;
    for (std::size_t i = n - c + 1; i <= n; ++i) all_fail *= 1.0 - static_cast<double>(k) / static_cast<double>(i);
    return 1.0 - all_fail;
}

/// MMLU's four categories (STEM, humanities, social sciences, other), by subject, as
/// lm-evaluation-harness groups them (mmlu_stem, ...). The dataset authors' categories.py
/// differs in one place: it files anatomy under "other" (health).
inline std::string mmlu_category(const std::string& subject) {
    static const std::map<std::string, const char*> categories = {
        {"abstract_algebra", "STEM"}, {"anatomy", "STEM"}, {"astronomy", "STEM"}, {"college_biology", "STEM"},
        {"college_chemistry", "STEM"}, {"college_computer_science", "STEM"}, {"college_mathematics", "STEM"},
        {"college_physics", "STEM"}, {"computer_security", "STEM"}, {"conceptual_physics", "STEM"},
        {"electrical_engineering", "STEM"}, {"elementary_mathematics", "STEM"}, {"high_school_biology", "STEM"},
        {"high_school_chemistry", "STEM"}, {"high_school_computer_science", "STEM"}, {"high_school_mathematics", "STEM"},
        {"high_school_physics", "STEM"}, {"high_school_statistics", "STEM"}, {"machine_learning", "STEM"},
        {"formal_logic", "humanities"}, {"high_school_european_history", "humanities"}, {"high_school_us_history", "humanities"},
        {"high_school_world_history", "humanities"}, {"international_law", "humanities"}, {"jurisprudence", "humanities"},
        {"logical_fallacies", "humanities"}, {"moral_disputes", "humanities"}, {"moral_scenarios", "humanities"},
        {"philosophy", "humanities"}, {"prehistory", "humanities"}, {"professional_law", "humanities"}, {"world_religions", "humanities"},
        {"econometrics", "social sciences"}, {"high_school_geography", "social sciences"},
        {"high_school_government_and_politics", "social sciences"}, {"high_school_macroeconomics", "social sciences"},
        {"high_school_microeconomics", "social sciences"}, {"high_school_psychology", "social sciences"},
        {"human_sexuality", "social sciences"}, {"professional_psychology", "social sciences"}, {"public_relations", "social sciences"},
        {"security_studies", "social sciences"}, {"sociology", "social sciences"}, {"us_foreign_policy", "social sciences"},
        {"business_ethics", "other"}, {"clinical_knowledge", "other"}, {"college_medicine", "other"}, {"global_facts", "other"},
        {"human_aging", "other"}, {"management", "other"}, {"marketing", "other"}, {"medical_genetics", "other"},
        {"miscellaneous", "other"}, {"nutrition", "other"}, {"professional_accounting", "other"}, {"professional_medicine", "other"},
        {"virology", "other"},
    };
    const auto it = categories.find(subject);
    return it == categories.end() ? "other" : it->second;
}

/// A published score, and which of our settings measures the same thing.
struct Reference {
    double score;         ///< as a fraction
    const char* model;    ///< which weights: Meta publishes both the base and the Instruct model
    const char* setting;  ///< what it measured, in the publisher's words
    const char* ours;     ///< our setting (TaskSpec::setting()) that measures it the same way; "" for none
    const char* source;
};

/// Meta's numbers for Llama 3.1 (meta-llama/llama-models MODEL_CARD.md @ a9c89c4), Instruct
/// first. Full-precision weights: Ollama's default 4-bit quantization is expected to land
/// somewhat lower. HellaSwag and TruthfulQA are not in the model card.
inline std::vector<Reference> meta_references(const std::string& task) {
    static const char* source = "Meta, Llama 3.1 model card (full precision)";
    static const std::vector<std::pair<std::string, Reference>> all = {
        {"mmlu", {0.694, "Llama 3.1 8B Instruct", "5-shot, generated letter, macro average", "chat/5-shot", source}},
        {"mmlu", {0.730, "Llama 3.1 8B Instruct", "0-shot CoT, macro average", "chat/0-shot", source}},
        {"mmlu", {0.667, "Llama 3.1 8B base", "5-shot, letter likelihood, macro average", "completion/5-shot/logprob", source}},
        {"arc_challenge", {0.834, "Llama 3.1 8B Instruct", "0-shot, generated letter", "chat/0-shot", source}},
        {"arc_challenge", {0.797, "Llama 3.1 8B base", "25-shot, letter likelihood", "", source}},
        {"gsm8k", {0.845, "Llama 3.1 8B Instruct", "8-shot CoT, em_maj1@1", "chat/8-shot", source}},
        {"humaneval", {0.726, "Llama 3.1 8B Instruct", "0-shot pass@1", "chat/0-shot", source}},
    };
    std::vector<Reference> out;
    for (const auto& [name, ref] : all)
        if (name == task) out.push_back(ref);
    return out;
}

/// Ollama names base (pretrained, not instruction-tuned) weights with "text" in the tag
/// (llama3.1:8b-text-q4_K_M); its plain tags serve the Instruct model.
inline bool is_base_model_tag(const std::string& model) { return model.find("-text") != std::string::npos; }

/// The published number to set beside a run: the one measured the same way on the same kind
/// of weights, else the task's first (Instruct) number, marked not comparable with the reason.
struct ReferenceMatch {
    Reference reference;
    bool comparable = false;
    std::string why_not;  ///< empty when comparable
};

/// nullopt when Meta published nothing for `task`.
inline std::optional<ReferenceMatch> meta_reference(const std::string& task, const std::string& setting, const std::string& model) {
    const auto refs = meta_references(task);
    if (refs.empty()) return std::nullopt;
    const bool base = is_base_model_tag(model);
    for (const auto& r : refs) {
        if (setting != r.ours) continue;
        const bool base_ref = std::string(r.model).find("base") != std::string::npos;
        if (base_ref == base) return ReferenceMatch{r, true, ""};
        return ReferenceMatch{r, false, std::string("same setting, but Meta's number is for the ") + r.model + " and '" + model + "' is " +
                                            (base ? "a base model" : "an Instruct model (base tags have '-text')")};
    }
    return ReferenceMatch{refs.front(), false, "ours is " + setting + ", Meta's is " + refs.front().setting};
}

}  // namespace llmbench::eval
