// llmbench/report/svg.hpp - the charts reports need, drawn as inline SVG text.
//
// A distribution chart (one row per group: box from p25 to p75, whiskers to min and max, p50
// and p95 marked, every sample as a dot), an x-y chart (lines with markers, one series per
// group), a heatmap (a grid of shares from 0 to 1, e.g. accuracy by length and depth), bars
// of proportions with their intervals, and a reliability diagram. No scripts, no fonts, no
// external references: the SVG stands alone in any page.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "llmbench/core/statistics.hpp"

namespace llmbench::svg {

/// Okabe-Ito: distinguishable with the common colour-vision deficiencies, and in grey print.
inline const char* colour(std::size_t i) {
    static const char* palette[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"};
    return palette[i % (sizeof palette / sizeof *palette)];
}

/// Formats an axis or label value.
using Format = std::function<std::string(double)>;

inline std::string escape(const std::string& s) {
    std::string out;
    for (char c : s) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&#39;"; break;
            default: out += c;
        }
    }
    return out;
}

inline std::string num(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", v);
    return buf;
}

/// `v` with `digits` decimals (labels finer than num's one).
inline std::string fixed(double v, int digits) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
    return buf;
}

/// Round tick positions covering [lo, hi]: steps of 1, 2 or 5 times a power of ten.
inline std::vector<double> nice_ticks(double lo, double hi, int target = 5) {
    if (!(hi > lo)) {
        const double pad = lo == 0 ? 1 : std::fabs(lo) * 0.1;
        lo -= pad;
        hi += pad;
    }
    const double raw = (hi - lo) / target;
    const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
    double step = magnitude;
    for (double m : {1.0, 2.0, 5.0, 10.0})
        if (m * magnitude >= raw) {
            step = m * magnitude;
            break;
        }
    std::vector<double> ticks;  // integer multiples of the step, so 0.1 + 0.05 does not drift
    const auto first = static_cast<long long>(std::floor(lo / step + 1e-9));
    for (long long k = first;; ++k) {
        ticks.push_back(static_cast<double>(k) * step);
        if (ticks.back() >= hi - step * 1e-9) break;
    }
    return ticks;
}

struct Group {
    std::string label;
    std::vector<double> samples;
};

namespace detail {
inline std::string open_svg(const std::string& id, double width, double height, const std::string& title) {
    return "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" data-chart=\"" + escape(id) + "\" viewBox=\"0 0 " +
           num(width) + " " + num(height) + "\" role=\"img\" aria-label=\"" + escape(title) + "\">\n<title>" + escape(title) +
           "</title>\n<text x=\"8\" y=\"20\" class=\"chart-title\">" + escape(title) + "</text>\n";
}
inline std::string text(double x, double y, const std::string& s, const char* anchor = "start", const char* cls = "") {
    return "<text x=\"" + num(x) + "\" y=\"" + num(y) + "\" text-anchor=\"" + anchor + "\"" +
           (*cls ? std::string(" class=\"") + cls + "\"" : "") + ">" + escape(s) + "</text>\n";
}
inline std::string line(double x1, double y1, double x2, double y2, const std::string& stroke, double width = 1,
                        const char* dash = nullptr) {
    return "<line x1=\"" + num(x1) + "\" y1=\"" + num(y1) + "\" x2=\"" + num(x2) + "\" y2=\"" + num(y2) + "\" stroke=\"" + stroke +
           "\" stroke-width=\"" + num(width) + "\"" + (dash ? std::string(" stroke-dasharray=\"") + dash + "\"" : "") + "/>\n";
}
/// At most `max` characters: the middle of a long label gives way to "...".
inline std::string shorten(const std::string& s, std::size_t max) {
    if (s.size() <= max) return s;
    const std::size_t keep = max - 3;
    return s.substr(0, keep / 2) + "..." + s.substr(s.size() - (keep - keep / 2));
}
/// A deterministic jitter in [-1, 1] for the i-th dot, so reports are reproducible.
inline double jitter(std::size_t i) {
    const double golden = 0.6180339887498949;
    const double f = std::fmod(static_cast<double>(i) * golden, 1.0);
    return 2 * f - 1;
}
}  // namespace detail

/// Horizontal box-and-strip plot, one row per group, on a shared linear axis.
inline std::string distribution_chart(const std::string& id, const std::string& title, const std::string& axis_label,
                                      const std::vector<Group>& groups, const Format& format) {
    const double width = 960, left = 380, right = 30, row = 34, top = 40;
    const double height = top + row * static_cast<double>(std::max<std::size_t>(groups.size(), 1)) + 64;
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    for (const auto& g : groups)
        for (double v : g.samples) {
            lo = std::min(lo, v);
            hi = std::max(hi, v);
        }
    std::string out = detail::open_svg(id, width, height, title);
    if (!(lo <= hi)) return out + detail::text(left, top + 20, "no samples") + "</svg>\n";
    const auto ticks = nice_ticks(lo > 0 && lo < 0.5 * hi ? 0 : lo, hi);  // zero in view when it is near
    const double t0 = ticks.front(), t1 = ticks.back();
    const auto x = [&](double v) { return left + (v - t0) / (t1 - t0) * (width - left - right); };
    const double bottom = top + row * static_cast<double>(groups.size());
    for (double t : ticks) {
        out += detail::line(x(t), top, x(t), bottom, "#ddd");
        out += detail::text(x(t), bottom + 16, format(t), "middle", "tick");
    }
    out += detail::text((left + width - right) / 2, bottom + 38, axis_label, "middle", "axis-label");
    for (std::size_t i = 0; i < groups.size(); ++i) {
        const auto& g = groups[i];
        const double cy = top + row * (static_cast<double>(i) + 0.5);
        out += "<g class=\"group\" data-label=\"" + escape(g.label) + "\">\n";
        out += detail::text(left - 8, cy + 4, detail::shorten(g.label, 56), "end", "group-label");
        if (g.samples.empty()) {
            out += detail::text(left + 4, cy + 4, "no successful runs", "start", "note") + "</g>\n";
            continue;
        }
        const Stats s = compute_stats(g.samples);
        const double p25 = percentile(g.samples, 25), p75 = percentile(g.samples, 75);
        const char* c = colour(i);
        out += detail::line(x(s.min), cy, x(s.max), cy, c);
        out += "<rect x=\"" + num(x(p25)) + "\" y=\"" + num(cy - 9) + "\" width=\"" + num(std::max(x(p75) - x(p25), 1.0)) +
               "\" height=\"18\" fill=\"" + c + "\" fill-opacity=\"0.15\" stroke=\"" + c + "\"/>\n";
        out += "<line class=\"p50\" x1=\"" + num(x(s.p50)) + "\" y1=\"" + num(cy - 11) + "\" x2=\"" + num(x(s.p50)) + "\" y2=\"" +
               num(cy + 11) + "\" stroke=\"" + c + "\" stroke-width=\"3\"><title>p50 " + escape(format(s.p50)) + "</title></line>\n";
        out += "<path class=\"p95\" d=\"M" + num(x(s.p95)) + " " + num(cy - 14) + " l-5 -6 h10 z\" fill=\"" + c + "\"><title>p95 " +
               escape(format(s.p95)) + "</title></path>\n";
        for (std::size_t k = 0; k < g.samples.size(); ++k)
            out += "<circle cx=\"" + num(x(g.samples[k])) + "\" cy=\"" + num(cy + 5 * detail::jitter(k)) + "\" r=\"2.5\" fill=\"" + c +
                   "\" fill-opacity=\"0.6\"/>\n";
        out += "</g>\n";
    }
    out += detail::text(width - right, height - 4, "box: p25-p75, bar: p50, triangle: p95, whiskers: min-max, dots: runs", "end",
                        "note");
    return out + "</svg>\n";
}

struct Point {
    double x = 0, y = 0;
    bool hollow = false;  ///< drawn open (e.g. a warm-up run)
};
struct Series {
    std::string name;
    std::vector<Point> points;
    bool lines = true;  ///< join the points
};

/// Lines with markers on linear axes; a legend names each series.
inline std::string xy_chart(const std::string& id, const std::string& title, const std::string& x_label, const std::string& y_label,
                            const std::vector<Series>& series, const Format& format_x, const Format& format_y) {
    const double width = 960, left = 90, right = 30, top = 40, bottom = 60, legend_row = 18;
    const double plot_bottom_h = 380;  // plot and axes; the legend adds a row per series below
    const double height = plot_bottom_h + legend_row * static_cast<double>(series.size());
    double x_lo = std::numeric_limits<double>::infinity(), x_hi = -x_lo, y_hi = -x_lo;
    for (const auto& s : series)
        for (const auto& p : s.points) {
            x_lo = std::min(x_lo, p.x);
            x_hi = std::max(x_hi, p.x);
            y_hi = std::max(y_hi, p.y);
        }
    std::string out = detail::open_svg(id, width, height, title);
    if (!(x_lo <= x_hi)) return out + detail::text(left, top + 20, "no data") + "</svg>\n";
    const auto xt = nice_ticks(x_lo, x_hi), yt = nice_ticks(0, y_hi);  // rates and times read best from zero
    const double plot_w = width - left - right, plot_h = plot_bottom_h - top - bottom;
    const auto x = [&](double v) { return left + (v - xt.front()) / (xt.back() - xt.front()) * plot_w; };
    const auto y = [&](double v) { return top + plot_h - (v - yt.front()) / (yt.back() - yt.front()) * plot_h; };
    for (double t : yt) {
        out += detail::line(left, y(t), left + plot_w, y(t), "#ddd");
        out += detail::text(left - 6, y(t) + 4, format_y(t), "end", "tick");
    }
    for (double t : xt) out += detail::text(x(t), top + plot_h + 16, format_x(t), "middle", "tick");
    out += detail::line(left, top + plot_h, left + plot_w, top + plot_h, "#888");
    out += detail::text(left + plot_w / 2, plot_bottom_h - 22, x_label, "middle", "axis-label");
    out += "<text x=\"16\" y=\"" + num(top + plot_h / 2) + "\" text-anchor=\"middle\" class=\"axis-label\" transform=\"rotate(-90 16 " +
           num(top + plot_h / 2) + ")\">" + escape(y_label) + "</text>\n";
    for (std::size_t i = 0; i < series.size(); ++i) {
        const auto& s = series[i];
        const char* c = colour(i);
        out += "<g class=\"series\" data-label=\"" + escape(s.name) + "\">\n";
        if (s.lines && s.points.size() > 1) {
            out += "<polyline fill=\"none\" stroke=\"" + std::string(c) + "\" stroke-width=\"1.5\" points=\"";
            for (const auto& p : s.points) out += num(x(p.x)) + "," + num(y(p.y)) + " ";
            out += "\"/>\n";
        }
        for (const auto& p : s.points)
            out += "<circle cx=\"" + num(x(p.x)) + "\" cy=\"" + num(y(p.y)) + "\" r=\"3\" fill=\"" + (p.hollow ? "#fff" : c) +
                   "\" stroke=\"" + c + "\"><title>" + escape(s.name + ": " + format_x(p.x) + ", " + format_y(p.y)) + "</title></circle>\n";
        const double ly = plot_bottom_h - 4 + legend_row * static_cast<double>(i);
        out += detail::line(left, ly, left + 20, ly, c, 3);
        out += detail::text(left + 26, ly + 4, s.name, "start", "legend");
        out += "</g>\n";
    }
    return out + "</svg>\n";
}

/// A colour from red (0) through yellow to green (1).
inline std::string share_colour(double v) {
    v = std::min(1.0, std::max(0.0, v));
    const auto channel = [](double x) { return static_cast<int>(std::lround(std::min(255.0, std::max(0.0, x)))); };
    const int r = channel(v < 0.5 ? 215 : 215 - (v - 0.5) * 2 * (215 - 26));
    const int g = channel(v < 0.5 ? 48 + v * 2 * (190 - 48) : 190 - (v - 0.5) * 2 * (190 - 150));
    const int b = channel(v < 0.5 ? 39 : 39 + (v - 0.5) * 2 * (80 - 39));
    char buf[8];
    std::snprintf(buf, sizeof buf, "#%02x%02x%02x", r, g, b);
    return buf;
}

/// A grid: columns `x_labels`, rows `y_labels`, each cell a share in [0, 1] printed as a
/// percentage, or empty ("-") where nothing was scored.
inline std::string heatmap(const std::string& id, const std::string& title, const std::string& x_label, const std::string& y_label,
                           const std::vector<std::string>& x_labels, const std::vector<std::string>& y_labels,
                           const std::vector<std::vector<std::optional<double>>>& values) {
    const double left = 90, top = 40, cell_w = std::max(40.0, std::min(110.0, 840.0 / std::max<double>(1, static_cast<double>(x_labels.size())))),
                 cell_h = 26;
    const double width = left + cell_w * static_cast<double>(x_labels.size()) + 20;
    const double height = top + cell_h * static_cast<double>(y_labels.size()) + 60;
    std::string out = detail::open_svg(id, width, height, title);
    for (std::size_t r = 0; r < y_labels.size(); ++r) {
        const double y = top + cell_h * static_cast<double>(r);
        out += detail::text(left - 8, y + cell_h / 2 + 4, y_labels[r], "end", "tick");
        for (std::size_t c = 0; c < x_labels.size(); ++c) {
            const double x = left + cell_w * static_cast<double>(c);
            const std::optional<double> v = r < values.size() && c < values[r].size() ? values[r][c] : std::nullopt;
            const std::string label = v ? std::to_string(std::lround(*v * 100)) + "%" : "-";
            out += "<g class=\"cell\" data-x=\"" + escape(x_labels[c]) + "\" data-y=\"" + escape(y_labels[r]) + "\" data-value=\"" +
                   (v ? num(*v) : std::string("none")) + "\"><rect x=\"" + num(x) + "\" y=\"" + num(y) + "\" width=\"" + num(cell_w - 2) +
                   "\" height=\"" + num(cell_h - 2) + "\" fill=\"" + (v ? share_colour(*v) : std::string("#eeeeee")) + "\"><title>" +
                   escape(x_labels[c] + ", " + y_labels[r] + ": " + label) + "</title></rect>\n";
            out += detail::text(x + cell_w / 2 - 1, y + cell_h / 2 + 4, label, "middle", "cell-label") + "</g>\n";
        }
    }
    const double bottom = top + cell_h * static_cast<double>(y_labels.size());
    for (std::size_t c = 0; c < x_labels.size(); ++c)
        out += detail::text(left + cell_w * (static_cast<double>(c) + 0.5), bottom + 16, x_labels[c], "middle", "tick");
    out += detail::text(left + cell_w * static_cast<double>(x_labels.size()) / 2, bottom + 40, x_label, "middle", "axis-label");
    out += "<text x=\"14\" y=\"" + num(top + (bottom - top) / 2) + "\" text-anchor=\"middle\" class=\"axis-label\" transform=\"rotate(-90 14 " +
           num(top + (bottom - top) / 2) + ")\">" + escape(y_label) + "</text>\n";
    return out + "</svg>\n";
}

/// One proportion with its interval, for interval_bars.
struct Interval {
    std::string label;
    double value = 0, low = 0, high = 0;
    std::size_t n = 0;
};

/// Horizontal bars on a 0-100% axis, one row per entry in the order given, each with its
/// interval as a whisker and its n beside the label.
inline std::string interval_bars(const std::string& id, const std::string& title, const std::string& axis_label, const std::vector<Interval>& rows) {
    const double width = 960, left = 260, right = 70, top = 40, row_h = 16, bottom = 50;
    const double plot_w = width - left - right, height = top + row_h * static_cast<double>(rows.size()) + bottom;
    const auto x_of = [&](double v) { return left + plot_w * std::max(0.0, std::min(1.0, v)); };
    std::string out = detail::open_svg(id, width, height, title);
    const double plot_bottom = top + row_h * static_cast<double>(rows.size());
    for (int t = 0; t <= 10; t += 2) {
        const double x = x_of(t / 10.0);
        out += detail::line(x, top, x, plot_bottom, "#e6e6e6");
        out += detail::text(x, plot_bottom + 14, std::to_string(t * 10) + "%", "middle", "tick");
    }
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const auto& r = rows[i];
        const double y = top + row_h * static_cast<double>(i);
        out += "<g class=\"bar\" data-label=\"" + escape(r.label) + "\" data-value=\"" + fixed(r.value, 4) + "\">";
        out += "<rect x=\"" + num(left) + "\" y=\"" + num(y + 2) + "\" width=\"" + num(x_of(r.value) - left) + "\" height=\"" + num(row_h - 4) +
               "\" fill=\"" + colour(0) + "\"><title>" + escape(r.label + ": " + num(r.value * 100) + "% [" + num(r.low * 100) + ", " +
               num(r.high * 100) + "], n=" + std::to_string(r.n)) + "</title></rect>";
        out += detail::line(x_of(r.low), y + row_h / 2, x_of(r.high), y + row_h / 2, "#222", 1.2);
        out += detail::text(left - 6, y + row_h - 4, detail::shorten(r.label, 38) + " (" + std::to_string(r.n) + ")", "end", "tick") + "</g>\n";
    }
    out += detail::text(left + plot_w / 2, plot_bottom + 36, axis_label, "middle", "axis-label");
    return out + "</svg>\n";
}

/// One confidence bin of a reliability diagram.
struct ReliabilityBin {
    double lower = 0, upper = 0, accuracy = 0, mean_confidence = 0;
    std::size_t n = 0;
};

/// Accuracy per confidence bin (bars, with each bin's count above it) against the diagonal
/// of perfect calibration; a dot marks each bin's mean confidence. Empty bins draw nothing.
inline std::string reliability_diagram(const std::string& id, const std::string& title, const std::vector<ReliabilityBin>& bins) {
    const double size = 360, left = 60, top = 40, bottom = 50, right = 20;
    const double width = left + size + right, height = top + size + bottom;
    const auto x_of = [&](double v) { return left + size * v; };
    const auto y_of = [&](double v) { return top + size * (1 - v); };
    std::string out = detail::open_svg(id, width, height, title);
    for (int t = 0; t <= 10; t += 2) {
        out += detail::line(x_of(t / 10.0), top, x_of(t / 10.0), top + size, "#eeeeee");
        out += detail::line(left, y_of(t / 10.0), left + size, y_of(t / 10.0), "#eeeeee");
        out += detail::text(x_of(t / 10.0), top + size + 14, fixed(t / 10.0, 1), "middle", "tick");
        out += detail::text(left - 6, y_of(t / 10.0) + 4, fixed(t / 10.0, 1), "end", "tick");
    }
    out += detail::line(x_of(0), y_of(0), x_of(1), y_of(1), "#999", 1, "4 3");
    for (const auto& b : bins) {
        if (b.n == 0) continue;
        const double x = x_of(b.lower) + 1, w = x_of(b.upper) - x_of(b.lower) - 2;
        out += "<g class=\"bin\" data-n=\"" + std::to_string(b.n) + "\" data-accuracy=\"" + fixed(b.accuracy, 4) + "\">";
        out += "<rect x=\"" + num(x) + "\" y=\"" + num(y_of(b.accuracy)) + "\" width=\"" + num(w) + "\" height=\"" + num(size * b.accuracy) +
               "\" fill=\"" + colour(0) + "\" fill-opacity=\"0.75\"><title>" +
               escape("confidence " + fixed(b.lower, 2) + "-" + fixed(b.upper, 2) + ": accuracy " + fixed(b.accuracy, 3) + ", mean confidence " +
                      fixed(b.mean_confidence, 3) + ", n=" + std::to_string(b.n)) +
               "</title></rect>";
        out += "<circle cx=\"" + num(x_of(b.mean_confidence)) + "\" cy=\"" + num(y_of(b.mean_confidence)) + "\" r=\"3\" fill=\"" + colour(1) + "\"/>";
        out += detail::text(x + w / 2, y_of(b.accuracy) - 3, std::to_string(b.n), "middle", "note") + "</g>\n";
    }
    out += detail::text(left + size / 2, top + size + 36, "confidence (probability of the chosen option)", "middle", "axis-label");
    out += "<text x=\"14\" y=\"" + num(top + size / 2) + "\" text-anchor=\"middle\" class=\"axis-label\" transform=\"rotate(-90 14 " +
           num(top + size / 2) + ")\">accuracy</text>\n";
    return out + "</svg>\n";
}

}  // namespace llmbench::svg
