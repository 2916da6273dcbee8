// The HTML page of a performance report: rendered from the report's JSON only, every number
// through perfValueText, so the page shows exactly what the JSON holds. Self-contained: inline
// CSS, a few lines of inline JS (sorting the layer table), charts drawn as inline SVG.
#include <fmt/format.h>

#include <algorithm>

#include "report/perf_report.h"

namespace hq {

std::string perfValueText(const OrderedJson& value) {
  if (value.is_string()) return value.get<std::string>();
  return value.dump();
}

namespace {

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string text(const OrderedJson& v) { return escape(perfValueText(v)); }

struct Series {
  const char* name;
  const char* color;
  const OrderedJson* values;
};

/// A line chart of per-interval values: one polyline per series, y from 0 to `y_max`.
std::string lineChart(const std::string& id, const std::string& title,
                      const std::vector<Series>& series, double y_max,
                      const std::string& y_max_text, const OrderedJson& summary) {
  constexpr double kW = 760, kH = 220, kLeft = 60, kRight = 12, kTop = 24, kBottom = 36;
  const double w = kW - kLeft - kRight, h = kH - kTop - kBottom;
  const size_t n = series.empty() ? 0 : series[0].values->size();
  if (y_max <= 0) y_max = 1;
  std::string svg = fmt::format(
      "<svg id=\"{}\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" "
      "height=\"{}\" "
      "viewBox=\"0 0 {} {}\" role=\"img\" aria-label=\"{}\">\n",
      id, kW, kH, kW, kH, escape(title));
  svg += fmt::format("<text x=\"{}\" y=\"16\" class=\"ct\">{}</text>\n", kLeft, escape(title));
  svg += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" class=\"frame\"/>\n",
                     kLeft, kTop, w, h);
  svg += fmt::format("<text x=\"{}\" y=\"{}\" class=\"ax\" text-anchor=\"end\">{}</text>\n",
                     kLeft - 4, kTop + 4, escape(y_max_text));
  svg += fmt::format("<text x=\"{}\" y=\"{}\" class=\"ax\" text-anchor=\"end\">0</text>\n",
                     kLeft - 4, kTop + h);
  svg += fmt::format("<text x=\"{}\" y=\"{}\" class=\"ax\">{} intervals of {} ms</text>\n", kLeft,
                     kH - 8, text(summary["interval number"]), text(summary["interval time (ms)"]));
  double legend_x = kLeft + w;
  for (auto it = series.rbegin(); it != series.rend(); ++it) {
    svg += fmt::format(
        "<text x=\"{}\" y=\"{}\" class=\"ax\" text-anchor=\"end\" fill=\"{}\">{}</text>\n",
        legend_x, kH - 8, it->color, it->name);
    legend_x -= 110;
  }
  for (const Series& s : series) {
    std::string points;
    for (size_t i = 0; i < n; ++i) {
      const double v = std::clamp((*s.values)[i].get<double>() / y_max, 0.0, 1.0);
      const double x = kLeft + (static_cast<double>(i) + 0.5) / static_cast<double>(n) * w;
      points += fmt::format("{}{:.1f},{:.1f}", i ? " " : "", x, kTop + h - v * h);
    }
    svg +=
        fmt::format("<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\" points=\"{}\"/>\n",
                    s.color, points);
  }
  svg += "</svg>\n";
  return svg;
}

/// A horizontal bar `width` pixels long for a fraction (achieved share of the roofline
/// bound), capped at 1.
std::string fractionBar(const OrderedJson& v, int width) {
  const double f = std::clamp(v.get<double>(), 0.0, 1.0);
  return fmt::format(
      "<svg width=\"{0}\" height=\"12\" xmlns=\"http://www.w3.org/2000/svg\"><rect width=\"{0}\" "
      "height=\"12\" class=\"bg\"/><rect width=\"{1:.1f}\" height=\"12\" class=\"fg\"/></svg> ",
      width, width * f);
}

const char* kStyle = R"(body{font-family:sans-serif;margin:24px;color:#222}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px}
th{background:#eee;text-align:left}table.sortable th{cursor:pointer}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.chart{display:block;margin:8px 0}.chart .frame{fill:none;stroke:#999}
.ct{font-size:13px;font-weight:bold}.ax{font-size:11px}
rect.bg{fill:#e6e6e6}rect.fg{fill:#3a7}
)";

const char* kSortScript =
    R"(document.querySelectorAll('table.sortable th').forEach(function(th, i) {
  th.addEventListener('click', function() {
    var body = th.closest('table').tBodies[0], rows = Array.from(body.rows);
    var dir = th.dataset.dir === 'asc' ? -1 : 1;
    th.dataset.dir = dir > 0 ? 'asc' : 'desc';
    rows.sort(function(a, b) {
      var x = a.cells[i].dataset.v, y = b.cells[i].dataset.v, nx = parseFloat(x), ny = parseFloat(y);
      return dir * (!isNaN(nx) && !isNaN(ny) ? nx - ny : x.localeCompare(y));
    });
    rows.forEach(function(r) { body.appendChild(r); });
  });
});
)";

}  // namespace

std::string renderPerfHtml(const OrderedJson& report) {
  const OrderedJson& s = report["summary"];
  const std::string name = text(s["model name"]);
  std::string h;
  h += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  h += "<title>hq-perf: " + name + "</title>\n<style>\n" + kStyle + "</style>\n</head>\n<body>\n";
  h += "<h1>Performance of " + name + " on " + text(s["BPU march"]) + "</h1>\n";
  h += fmt::format(
      "<p class=\"headline\">FPS=<span id=\"fps\">{}</span>, latency = <span id=\"latency-us\">{}"
      "</span> us, DDR <span id=\"ddr-mb-frame\">{}</span> megabytes per frame</p>\n",
      text(s["FPS"]), text(s["latency (us)"]), text(s["DDR megabytes per frame"]));

  // Summary: every scalar field, in the JSON's order; lists and objects have their own sections.
  h += "<h2>Summary</h2>\n<table id=\"summary\">\n";
  for (const auto& [key, v] : s.items()) {
    if (v.is_array() || v.is_object()) continue;
    h += fmt::format("<tr><th>{}</th><td class=\"{}\" data-key=\"{}\">{}</td></tr>\n", escape(key),
                     v.is_number() ? "n" : "s", escape(key), text(v));
  }
  const OrderedJson& features = s["input features"];
  for (size_t i = 1; i < features.size(); ++i) {
    h += fmt::format("<tr><th>input {}</th><td class=\"s\">{}</td></tr>\n", text(features[i][0]),
                     text(features[i][1]));
  }
  h += "</table>\n";

  // Roofline of the model.
  const OrderedJson& roof = s["roofline"];
  h += "<h2>Roofline</h2>\n<p>The bound is the larger of the compute time at the peak MAC and "
       "vector rates and the DDR time at peak bandwidth; the achieved fraction is bound / "
       "simulated latency.</p>\n<table id=\"roofline\">\n";
  h += "<tr><th>simulated latency (us)</th><td class=\"n\">" + text(s["latency (us)"]) +
       "</td></tr>\n";
  for (const auto& [key, v] : roof.items()) {
    h += fmt::format("<tr><th>{}</th><td class=\"n\">{}{}</td></tr>\n", escape(key),
                     key == "achieved fraction" ? fractionBar(v, 160) : "", text(v));
  }
  h += "</table>\n";

  // Charts over time.
  const OrderedJson& load = s["interval loading bandwidth (megabytes/s)"];
  const OrderedJson& store = s["interval storing bandwidth (megabytes/s)"];
  const OrderedJson* bw_max = nullptr;
  for (const OrderedJson* list : {&load, &store}) {
    for (const auto& v : *list) {
      if (!bw_max || v.get<double>() > bw_max->get<double>()) bw_max = &v;
    }
  }
  h += "<h2>Over time</h2>\n";
  h += lineChart("utilization", "Utilization (busy fraction per interval)",
                 {{"MAC array", "#c33", &s["interval computing unit utilization"]},
                  {"vector unit", "#36c", &s["interval vector unit utilization"]}},
                 1.0, "1", s);
  h += lineChart("bandwidth", "DDR bandwidth (megabytes/s per interval)",
                 {{"loading", "#3a7", &load}, {"storing", "#c80", &store}},
                 bw_max ? bw_max->get<double>() : 1.0, bw_max ? perfValueText(*bw_max) : "1", s);

  // Layer table (click a header to sort).
  const OrderedJson& details = s["layer details"];
  const OrderedJson& layers = report["layers"];
  h += "<h2>Layers</h2>\n<table id=\"layers\" class=\"sortable\">\n<thead><tr><th>#</th>";
  for (const auto& head : details[0]) h += "<th>" + text(head) + "</th>";
  h += "<th>op</th><th>group</th><th>latency (us)</th><th>roofline (us)</th>"
       "<th>achieved (bound / latency)</th></tr></thead>\n<tbody>\n";
  auto cell = [](const OrderedJson& v) {
    return fmt::format("<td class=\"{}\" data-v=\"{}\">{}</td>", v.is_number() ? "n" : "s", text(v),
                       text(v));
  };
  for (size_t i = 1; i < details.size(); ++i) {
    const OrderedJson& row = details[i];
    const OrderedJson& l = layers[i - 1];
    h += fmt::format("<tr><td class=\"n\" data-v=\"{}\">{}</td>", i, i);
    for (const auto& v : row) h += cell(v);
    h += cell(l["op_type"]) + cell(l["group"]) + cell(l["latency_us"]) + cell(l["roofline_us"]);
    h += fmt::format("<td class=\"n\" data-v=\"{}\">{}{}</td></tr>\n", text(l["achieved"]),
                     fractionBar(l["achieved"], 60), text(l["achieved"]));
  }
  h += "</tbody>\n</table>\n";
  h += "<p>Costs in us. computing cost: the layer's compute instructions (no DDR); load/store "
       "cost: its DMA transfers; share: its part of the run's latency (time shared by the "
       "instructions running together; shares sum to 1).</p>\n";
  h += std::string("<script>\n") + kSortScript + "</script>\n</body>\n</html>\n";
  return h;
}

}  // namespace hq
