"""Plan -> PDF: the recommendation, its reasons, its numbers and charts, how to deploy it, and where
every figure came from, in a document a person can print or forward.

`plan_pdf(plan, catalog=None, probe=None)` returns the PDF bytes; `write_pdf` writes them to a file
(the CLI's `--pdf`). The charts are the dashboard's own data (`planner.charts.plan`) drawn with
matplotlib (`planner.report.charts`); the deployment commands come from `planner.deploy.files`.

Text in any script: the body font is a Unicode TrueType font found on the system (Noto Sans, else
DejaVu Sans), with per-glyph fallbacks (DejaVu, Noto Arabic/Hebrew/Devanagari/Thai/Symbols, Noto
CJK) added only when the document's text needs them. Characters no font covers print as "?".
User strings are flattened to one line and shortened where they label things, so they cannot
break the layout. A probe result may carry secrets by mistake: keys named like api_key,
authorization or token are dropped, and their values masked wherever else they appear.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import json
import logging
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from fpdf import FPDF, FontFace
from fpdf.enums import TableBordersLayout, TableCellFillMode, XPos, YPos

from planner.catalog.loading import Catalog, load_catalog
from planner.charts import plan as charts
from planner.deploy.files import DeploymentError, launch_commands
from planner.errors import LookupFailed
from planner.plan.model import Candidate, Plan
from planner.report.charts import cost_chart_png, memory_chart_png
from planner.report.fonts import FontFile, find_font, font_codepoints, load_fonts  # noqa: F401 (public here too)
from planner.report.sanitize import is_secret_key, sanitize_probe  # noqa: F401 (is_secret_key: public here too)

log = logging.getLogger(__name__)

TITLE_CHARS = 140  # the title shows this much of the name (the constraints allow 200)
LABEL_CHARS = 120
CELL_CHARS = 600  # no table cell grows beyond this (a pasted essay must not fill pages)

# Colours (RGB)
INK = (33, 37, 41)
MUTED = (108, 117, 125)
RULE = (206, 212, 218)
HEAD_FILL = (233, 236, 239)
ZEBRA = (248, 249, 250)
CODE_FILL = (244, 246, 248)
VERDICT_FILL = {"self-host": (220, 239, 226), "api": (222, 233, 247), "either": (248, 240, 214)}
VERDICT_TEXT = {"self-host": "Self-host", "api": "Use a paid API", "either": "Either: self-hosting and an API are close"}


def _band(speed, metric: str, fmt: str = ",.0f") -> str:
    """A second line '(low–high)' from the estimate's 80% band, or nothing when it has none."""
    low, high = (speed.ranges or {}).get(metric, (None, None))
    return f"\n({low:{fmt}}–{high:{fmt}})" if low is not None else ""


def plan_pdf(plan: Plan, catalog: Catalog | None = None, probe: dict | None = None,
             generated_on: dt.date | None = None) -> bytes:
    """The plan as PDF bytes; with `probe` (a probe result dict), a measured-vs-predicted section."""
    catalog = catalog or load_catalog()
    clean_probe = sanitize_probe(probe) if probe else None
    return _Report(plan, catalog, clean_probe, generated_on or dt.date.today()).build()


def write_pdf(plan: Plan, path: str | Path, probe: dict | None = None, catalog: Catalog | None = None) -> Path:
    """Write the plan's PDF to `path` (parent folders created); returns the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(plan_pdf(plan, catalog, probe))
    return target


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


# --- the document ---------------------------------------------------------------------------------


class _PDF(FPDF):
    """FPDF with the report's footer: title, date and page X of N."""

    footer_text = ""
    footer_font = "helvetica"
    pin_font = False  # see _Report.font

    def footer(self) -> None:
        self.set_y(-11)
        self.set_font(self.footer_font, size=7.5)
        if self.pin_font:
            self.text(self.l_margin, self.h - 5, "")
        self.set_text_color(*MUTED)
        self.cell(self.epw * 0.75, 5, self.footer_text, align="L")
        self.cell(self.epw * 0.25, 5, f"Page {self.page_no()} of {{nb}}", align="R")


class _Report:
    def __init__(self, plan: Plan, catalog: Catalog, probe: dict | None, generated_on: dt.date):
        self.plan = plan
        self.catalog = catalog
        self.probe = probe
        self.generated_on = generated_on
        self.c = plan.constraints
        self.pdf = _PDF(orientation="P", unit="mm", format="A4")
        self.pdf.set_margins(16, 15, 16)
        self.pdf.set_auto_page_break(True, margin=16)
        self.missing: frozenset[int] = frozenset()
        self._setup_fonts()

    # fonts and text

    def _setup_fonts(self) -> None:
        fonts = load_fonts(self.pdf, self._all_text())
        self.body, self.mono = fonts.body, fonts.mono
        self.covered, self.fallbacks = fonts.covered, fonts.fallbacks

    @functools.cached_property
    def _text_sources(self) -> str:
        parts = [json.dumps(self.plan.to_json_dict(), ensure_ascii=False)]
        if self.probe:
            parts.append(json.dumps(self.probe, ensure_ascii=False))
        return "".join(parts)

    def _all_text(self) -> str:
        # Plan and probe strings plus the report's own wording (a fixed, small set of symbols).
        return self._text_sources + "·×—–…•"

    def t(self, value: object, limit: int | None = None, one_line: bool = True) -> str:
        """Text safe to print: control characters flattened, shortened to `limit`, characters no
        loaded font covers replaced by '?'."""
        text = "—" if value is None else str(value)
        if one_line:
            text = " ".join(_CONTROL.sub(" ", text).split())
        else:  # keep line breaks and indentation (code), drop other control characters
            lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
            text = "\n".join(re.sub(r"[\x00-\x1f\x7f]", " ", line.replace("\t", "    ")).rstrip() for line in lines)
            text = re.sub(r"\n{3,}", "\n\n", text).strip("\n")
        if limit and len(text) > limit:
            text = text[: limit - 1].rstrip() + "…"
        return "".join(ch if ord(ch) in self.covered or ch == "\n" else "?" for ch in text)

    def font(self, family: str, style: str = "", size: float = 9) -> None:
        """set_font, then pin the font in the page's content outside any q/Q block.

        fpdf2 2.8 sets the font inside a line's q/Q (colour) block when the line starts with a
        fallback-font glyph, and later lines then have no font ("No font in show" in viewers);
        an empty text() call writes the font at page level first.
        """
        pdf = self.pdf
        pdf.set_font(family, style, size)
        if self.fallbacks and pdf.page:
            pdf.text(pdf.l_margin, pdf.t_margin, "")

    # building

    def build(self) -> bytes:
        pdf = self.pdf
        name = self.t(self.c.get("name") or "Untitled plan", TITLE_CHARS)
        pdf.footer_text = self.t(f"{self.c.get('name') or 'Untitled plan'}", 70) + f" · {self.generated_on.isoformat()}"
        pdf.set_title(self.t(self.c.get("name") or "Untitled plan", TITLE_CHARS))
        pdf.set_author("Open-Weights Deployment Planner")
        pdf.set_creator("planner.report.document")
        pdf.set_creation_date(dt.datetime.combine(self.generated_on, dt.time(12, 0), tzinfo=dt.UTC))
        pdf.add_page()
        self._title(name)
        self._verdict()
        self._constraints()
        self._top_pick()
        self._memory()
        self._latency()
        self._alternatives()
        self._cost()
        self._decision()
        if self.plan.fine_tuning:
            self._fine_tuning()
        self._deployment()
        if self.probe:
            self._probe()
        self._assumptions()
        self._sources()
        return bytes(pdf.output())

    # layout helpers

    def heading(self, text: str, size: float = 12.5, keep: float = 20) -> None:
        """A section heading, moved to the next page unless `keep` mm of what follows fit under it."""
        pdf = self.pdf
        if pdf.will_page_break(14 + keep) and pdf.get_y() > pdf.t_margin + 1:  # never leave a page empty
            pdf.add_page()
        pdf.ln(3)
        self.font(self.body, "B", size)
        pdf.set_text_color(*INK)
        pdf.multi_cell(0, 6.5, self.t(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_draw_color(*RULE)
        pdf.line(pdf.l_margin, pdf.get_y() + 0.5, pdf.w - pdf.r_margin, pdf.get_y() + 0.5)
        pdf.ln(2.5)

    def para(self, text: str, size: float = 9, style: str = "", colour=INK, limit: int | None = 2000, height: float = 4.6) -> None:
        pdf = self.pdf
        self.font(self.body, style, size)
        pdf.set_text_color(*colour)
        pdf.multi_cell(0, height, self.t(text, limit), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def bullets(self, items: Iterable[str], size: float = 9, limit: int = 700) -> None:
        pdf = self.pdf
        self.font(self.body, "", size)
        pdf.set_text_color(*INK)
        for item in items:
            x = pdf.l_margin
            pdf.set_x(x)
            pdf.cell(4, 4.6, "•" if ord("•") in self.covered else "-")
            pdf.multi_cell(pdf.epw - 4, 4.6, self.t(item, limit), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            pdf.ln(0.6)

    def table(self, headers: Sequence[str] | None, rows: Sequence[Sequence[object]], widths: Sequence[float],
              size: float = 8, align: Sequence[str] | None = None, limit: int = CELL_CHARS, bold_first_col: bool = False) -> None:
        pdf = self.pdf
        self.font(self.body, "", size)
        pdf.set_text_color(*INK)
        pdf.set_draw_color(*RULE)
        pdf.set_line_width(0.2)
        head = FontFace(emphasis="BOLD", fill_color=HEAD_FILL, color=INK)
        with pdf.table(
            width=pdf.epw, col_widths=tuple(widths), text_align=tuple(align) if align else "LEFT",
            line_height=size * 0.48, padding=(1.0, 1.4), headings_style=head, first_row_as_headings=headers is not None,
            borders_layout=TableBordersLayout.HORIZONTAL_LINES, cell_fill_color=ZEBRA, cell_fill_mode=TableCellFillMode.ROWS,
            repeat_headings=1,
        ) as tbl:
            if headers is not None:
                row = tbl.row()
                for h in headers:
                    row.cell(self.t(h, 80))
            for values in rows:
                row = tbl.row()
                for i, value in enumerate(values):
                    style = FontFace(emphasis="BOLD") if bold_first_col and i == 0 else None
                    row.cell(self.t(value, limit), style=style)
        pdf.ln(1.5)

    def image_height(self, png: bytes | None, width: float | None = None) -> float:
        """Height in mm the image takes at `width` (the text width by default)."""
        if png is None:
            return 6
        from PIL import Image

        with Image.open(io.BytesIO(png)) as img:
            w_px, h_px = img.size
        return (width or self.pdf.epw) * h_px / w_px

    def image(self, png: bytes | None, width: float | None = None, alt: str = "") -> None:
        pdf = self.pdf
        if png is None:
            self.para(alt or "No chart: nothing to draw.", colour=MUTED, style="I")
            return
        width = width or pdf.epw
        height = self.image_height(png, width)
        if pdf.will_page_break(height + 2) and pdf.get_y() > pdf.t_margin + 1:
            pdf.add_page()
        pdf.image(io.BytesIO(png), x=pdf.l_margin + (pdf.epw - width) / 2, w=width, h=height, alt_text=self.t(alt, 200))
        pdf.ln(1.5)

    def code(self, text: str, size: float = 7.2) -> None:
        pdf = self.pdf
        self.font(self.mono, "", size)
        pdf.set_text_color(*INK)
        pdf.set_fill_color(*CODE_FILL)
        pdf.multi_cell(0, size * 0.47, self.t(text, 4000, one_line=False), fill=True, padding=(1.5, 2),
                       new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(1.5)

    # sections

    def _title(self, name: str) -> None:
        pdf = self.pdf
        self.font(self.body, "B", 17)
        pdf.set_text_color(*INK)
        pdf.multi_cell(0, 8, name, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        dates = sorted(self.plan.data_as_of.values())
        sub = (f"Deployment plan · generated {self.generated_on.isoformat()} · data as of {dates[-1] if dates else 'unknown'} · "
               f"{self.plan.candidates_evaluated:,} configurations evaluated")
        self.para(sub, size=8.5, colour=MUTED)
        pdf.ln(1)

    def _verdict(self) -> None:
        pdf = self.pdf
        plan = self.plan
        self.heading("Verdict")
        pdf.set_fill_color(*VERDICT_FILL.get(plan.verdict, HEAD_FILL))
        self.font(self.body, "B", 11.5)
        pdf.set_text_color(*INK)
        label = VERDICT_TEXT.get(plan.verdict, plan.verdict)
        top = plan.recommendation
        if top is not None:
            label += f" — top pick: {top.model_name}, {top.quant} on {top.engine}, {top.gpus}× {top.gpu_name}"
        pdf.multi_cell(0, 6, self.t(label, 300), fill=True, padding=(2, 3), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(1.5)
        self.bullets(plan.verdict_reasons or ["No reasons were recorded."])

    def _constraints(self) -> None:
        c = self.c
        self.heading("Constraints")
        gpus = c.get("gpus_available")
        pairs = [
            ("Requests per day", _num(c.get("requests_per_day"))),
            ("Peak / average", _num(c.get("peak_to_average"), "×")),
            ("Input tokens", _num(c.get("input_tokens"))),
            ("Output tokens", _num(c.get("output_tokens"))),
            ("Max time to first token", _num(c.get("max_ttft_s"), " s") if c.get("max_ttft_s") else "none"),
            ("Min tokens/s per user", _num(c.get("min_tokens_per_s")) if c.get("min_tokens_per_s") else "none"),
            ("Context", _num(c.get("context_tokens")) + " tokens" if c.get("context_tokens") else "input + output"),
            ("Privacy", c.get("privacy")),
            ("Task", c.get("task")),
            ("Fine-tuning", c.get("fine_tuning")),
            ("Commercial use", "yes" if c.get("commercial_use", True) else "no"),
            ("Budget", f"${c['budget_usd_per_month']:,.0f}/month" if c.get("budget_usd_per_month") is not None else "none"),
            ("Hardware", ", ".join(f"{g.get('count', 1)}× {g.get('gpu')}" for g in gpus) if gpus else "rent in the cloud"),
            ("KV cache", c.get("kv_cache_dtype", "auto")),
        ]
        if c.get("models"):
            pairs.append(("Models considered", ", ".join(map(str, c["models"]))))
        rows = []
        for i in range(0, len(pairs), 2):
            left, right = pairs[i], pairs[i + 1] if i + 1 < len(pairs) else ("", "")
            rows.append([left[0], left[1], right[0], right[1]])
        self.table(None, rows, (22, 28, 22, 28), size=8, limit=300)

    def _top_pick(self) -> None:
        plan = self.plan
        top = plan.recommendation
        self.heading("Top pick and why")
        if top is None:
            self.para("No self-hosted configuration meets every hard rule. The ruled-out list below says why for each model; "
                      "relax the constraint named there, or use an API.")
            self.bullets(f.message for f in plan.findings)
            return
        m, s, cost = top.memory, top.speed, top.cost
        rows = [
            ["Model", f"{top.model_name} ({top.model})", "Quantization", top.quant],
            ["Engine", top.engine, "Hardware", f"{top.gpus}× {top.gpu_name} per replica, {top.replicas} replica(s)"],
            ["Memory per GPU", f"{m.per_gpu_gib:.1f} of {m.capacity_gib:.1f} GiB ({m.split})", "Monthly cost",
             f"${cost.usd_per_month:,.0f} ({cost.mode}, {cost.gpu_count} GPU(s))"],
            ["Time to first token", f"{s.ttft_s:.2f} s at peak", "Decode per user", f"{s.decode_tokens_per_s:,.1f} tokens/s"],
            ["Capability", f"{top.capability_score:g} ({top.capability_benchmark})" if top.capability_score is not None else "no published score",
             "Cost per million tokens", f"${cost.usd_per_mtok:,.3f}" if cost.usd_per_mtok is not None else "—"],
        ]
        self.table(None, rows, (20, 32, 20, 28), size=8, limit=300, bold_first_col=False)
        findings = _unique_findings(list(top.findings) + [f for f in plan.findings if f not in top.findings])
        if findings:
            self.para("Rules that fired", size=9.5, style="B")
            self.table(["Rule", "Effect", "What it means"], [[f.rule, f.effect, f.message] for f in findings],
                       (22, 12, 66), size=7.8)
        if top.basis:
            self.para("How the numbers were derived", size=9.5, style="B")
            self.bullets(top.basis, size=8)

    def _memory(self) -> None:
        png = memory_chart_png(charts.memory_breakdown(self.plan))
        self.heading("Memory per GPU", keep=self.image_height(png) + 10)
        self.para("Weights, KV cache and the engine's overhead on the busiest GPU of one replica, against what the engine may use "
                  "of the GPU (red mark). Same data as the dashboard's memory chart.", size=8.5, colour=MUTED)
        self.image(png, alt="Memory per GPU: no configuration fits the constraints.")

    def _latency(self) -> None:
        self.heading("Latency and throughput")
        candidates = _candidates(self.plan)
        if not candidates:
            self.para("No configuration to show.", colour=MUTED, style="I")
            return
        rows = []
        for i, cand in enumerate(candidates):
            s = cand.speed
            rows.append([("Top pick: " if i == 0 else "") + charts.candidate_label(cand),
                         f"{cand.gpus}×{cand.replicas}",
                         f"{s.ttft_s:.2f}{_band(s, 'ttft_s', '.2f')}", f"{s.decode_tokens_per_s:,.1f}{_band(s, 'decode_tokens_per_s')}",
                         f"{s.decode_tokens_per_s_at_concurrency:,.1f}",
                         f"{s.throughput_tokens_per_s:,.0f}{_band(s, 'throughput_tokens_per_s')}", f"{s.concurrency}", s.bound])
        self.table(["Configuration", "GPUs × replicas", "TTFT (s)", "Decode, 1 user (tok/s)", "Decode at load (tok/s)",
                    "Throughput per replica (tok/s)", "In flight", "Bound by"], rows,
                   (31, 8, 11, 10, 9, 11, 7, 11), size=7.4, align=("LEFT", "CENTER", "RIGHT", "RIGHT", "RIGHT", "RIGHT", "RIGHT", "LEFT"))
        self.para("TTFT includes queueing at the peak request rate; throughput is output tokens per second of one replica at its "
                  "planned concurrency. Ranges in brackets are 80% bands from the estimator's leave-one-source-out error against "
                  "published measurements (data/accuracy.csv).", size=7.8, colour=MUTED)

    def _alternatives(self) -> None:
        plan = self.plan
        self.heading("Alternatives and what was ruled out")
        if plan.alternatives:
            rows = []
            for cand in plan.alternatives:
                notes = "; ".join(f.message for f in cand.findings if f.effect in {"warning", "excluded"})
                rows.append([charts.candidate_label(cand), f"{cand.score:g}", f"${cand.cost.usd_per_month:,.0f}",
                             f"{cand.memory.per_gpu_gib:.1f}/{cand.memory.capacity_gib:.0f}", notes or "—"])
            self.table(["Alternative", "Score", "$/month", "GiB/GPU", "Cautions"], rows, (36, 7, 10, 9, 38), size=7.4,
                       align=("LEFT", "RIGHT", "RIGHT", "RIGHT", "LEFT"), limit=400)
        else:
            self.para("No alternative configuration passed every hard rule.", colour=MUTED, style="I")
        if plan.ruled_out:
            self.para(f"Ruled out ({len(plan.ruled_out)} model(s))", size=9.5, style="B")
            rows = [[r.model_name, r.rule, r.reason] for r in plan.ruled_out[:40]]
            self.table(["Model", "Rule", "Reason"], rows, (24, 16, 60), size=7.4, limit=400)
            if len(plan.ruled_out) > 40:
                self.para(f"… and {len(plan.ruled_out) - 40} more.", size=8, colour=MUTED)

    def _cost(self) -> None:
        plan = self.plan
        points = charts.break_even_points(plan)
        png = cost_chart_png(charts.cost_curve(plan), points, charts.plan_tokens_per_month(plan))
        self.heading("Monthly cost against volume", keep=self.image_height(png) + 4)
        self.image(png, alt="No self-hosted configuration and no API to compare.")
        if points:
            self.bullets((p["text"] for p in points), size=8.5)
        apis = sorted(plan.apis, key=lambda a: a.usd_per_month)[:10]
        if apis:
            rows = [[a.id, "open" if a.open_weights else "closed", f"{a.usd_per_mtok:,.3f}", f"{a.usd_per_month:,.0f}",
                     charts.format_tokens(a.break_even_tokens_per_month) if a.break_even_tokens_per_month else "—",
                     "yes" if a.allowed else "no (privacy)"] for a in apis]
            self.table(["API (cheapest 10 at your volume)", "Weights", "$ per M tokens", "$/month at your volume",
                        "Break-even (tokens/month)", "Allowed"], rows, (38, 9, 12, 14, 15, 12), size=7.4,
                       align=("LEFT", "LEFT", "RIGHT", "RIGHT", "RIGHT", "LEFT"))

    def _decision(self) -> None:
        plan = self.plan
        if not plan.decision.get("points"):
            return
        from planner.charts.decision import decision_frame
        from planner.report.decision_chart import decision_chart_png

        png = decision_chart_png(decision_frame(plan), plan.objective.get("benchmark"))
        self.heading("The decision: capability against cost", keep=self.image_height(png) + 4)
        if plan.objective.get("rule"):
            self.para(f"Objective: {plan.objective['rule']}.", size=8.5)
        self.image(png, alt="No feasible configuration to compare.")
        self.bullets([plan.decision[k]["why"] for k in ("more_capable", "cheaper") if k in plan.decision]
                     + ([plan.idle_hardware] if plan.idle_hardware else []), size=8.5)

    def _fine_tuning(self) -> None:
        ft = self.plan.fine_tuning
        p, mem = ft["plan"], ft["plan"]["memory"]
        self.heading("Fine-tuning")
        rows = [["Method", ft["method"]], ["Model", p["model_name"]],
                ["GPUs", f"{ft['gpus']} × {p['gpu_name']}" + (" (owned)" if ft.get("owned") else "")],
                ["Memory per GPU", f"{mem['total_per_gpu_gib']:.1f} of {mem['capacity_gib']:.0f} GiB (weights {mem['weights_gib']:.1f}, "
                                   f"gradients {mem['gradients_gib']:.1f}, optimizer {mem['optimizer_gib']:.1f}, activations {mem['activations_gib']:.1f})"],
                ["Trainable parameters", f"{p['trainable_params'] / 1e6:,.1f} M"],
                ["Training", f"{p['tokens'] * p['epochs'] / 1e6:,.0f} M tokens, about {p['time_hours']:,.1f} h, ${p['cost_usd']:,.2f} rented"],
                ["GPUs needed per method", ", ".join(f"{m}: {n if n else 'does not fit'}" for m, n in ft["gpus_needed"].items())]]
        self.table(["Item", "Value"], rows, (28, 72), size=8)
        self.bullets((f["message"] for f in ft.get("findings", [])), size=8.5)

    def _deployment(self) -> None:
        self.heading("Deployment commands")
        try:
            commands = launch_commands(self.plan, self.catalog)
        except DeploymentError as exc:
            self.para(str(exc), colour=MUTED, style="I")
            return
        if not commands:
            self.para("Nothing to deploy: no self-hosted configuration meets the constraints.", colour=MUTED, style="I")
            return
        self.para("Launch commands for the top pick. All the files (compose, Kubernetes manifests, Modelfile, README with the "
                  "documentation of every flag) come from: python -m planner plan --constraints FILE --deploy-dir DIR, "
                  "or the dashboard's download.", size=8.5, colour=MUTED)
        for title, command in commands:
            self.para(title, size=8.8, style="B")
            self.code(command)

    def _probe(self) -> None:
        probe = self.probe or {}
        self.heading("Measured against predicted")
        info = [f"Endpoint: {probe.get('url', 'unknown')} ({probe.get('api', '?')})", f"Model: {probe.get('model') or 'unknown'}",
                f"Measured: {probe.get('started_at', 'unknown')}"]
        self.bullets(info, size=8.5, limit=300)
        levels = [lv for lv in probe.get("levels") or [] if isinstance(lv, dict)]
        if levels:
            rows = []
            for lv in levels:
                rows.append([lv.get("concurrency"), f"{lv.get('succeeded', 0)}/{lv.get('requests', 0)}",
                             _fmt(_pct(lv, "ttft_s", "p50"), 3), _fmt(_pct(lv, "ttft_s", "p90"), 3),
                             _fmt(_pct(lv, "output_tokens_per_s_per_stream", "p50"), 1),
                             _fmt(lv.get("aggregate_output_tokens_per_s"), 1), lv.get("errors", 0)])
            self.table(["Concurrency", "OK / requests", "TTFT p50 (s)", "TTFT p90 (s)", "Decode per stream p50 (tok/s)",
                        "Aggregate (tok/s)", "Errors"], rows, (11, 13, 12, 12, 20, 16, 9), size=7.6,
                       align=("RIGHT",) * 7)
        comparison = [row for row in probe.get("comparison") or [] if isinstance(row, dict)]
        if not comparison and levels and self.plan.recommendation is not None:
            comparison = _derived_comparison(self.plan.recommendation, levels)
        if comparison:
            rows = [[r.get("target"), _fmt(r.get("predicted"), 3), _fmt(r.get("measured"), 3),
                     (f"{r['error_pct']:+.0f}%" if isinstance(r.get("error_pct"), int | float) else "—"),
                     r.get("at_concurrency") or "—", r.get("verdict", "—"), r.get("sentence", "")] for r in comparison]
            self.table(["Target", "Predicted", "Measured", "Error", "Concurrency", "Verdict", "In words"], rows,
                       (16, 10, 10, 8, 12, 9, 35), size=7.4, align=("LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT", "LEFT", "LEFT"))
        if not levels and not comparison:
            self.para("The probe result holds no measurements.", colour=MUTED, style="I")

    def _assumptions(self) -> None:
        a = self.plan.assumptions
        self.heading("Assumptions")
        rows = [
            ["Utilisation", f"{a.utilisation:.0%} of the month the GPUs are paid for (rented) or powered (owned)"],
            ["Power price", f"${a.power_usd_per_kwh:.4f} per kWh"],
            ["PUE", f"{a.pue:g} (data-centre power per unit of IT power)"],
            ["GPU power draw", f"{a.gpu_power_draw_fraction:.0%} of rated power"],
            ["Amortisation", f"{a.amortisation_months:g} months for purchased hardware"],
            ["Colocation", f"${a.colocation_usd_per_kw_month:,.2f} per kW of GPU power per month"],
            ["GPU price", f"${a.gpu_usd_per_hour:,.2f} per GPU-hour (yours)" if a.gpu_usd_per_hour is not None
             else "cheapest listed rental price per GPU-hour"],
        ]
        load = self.plan.load
        rows.append(["Load", f"{load.average_requests_per_s:.3f} requests/s average, {load.peak_requests_per_s:.3f} at peak; "
                             f"{charts.format_tokens(load.input_tokens_per_month + load.output_tokens_per_month)} tokens/month"])
        self.table(None, rows, (22, 78), size=8, bold_first_col=True)

    def _sources(self) -> None:
        plan = self.plan
        self.heading("Data sources")
        rows = [[f"{kind} (newest row)", "data/" + _DATA_FILES.get(kind, kind + ".csv"), as_of]
                for kind, as_of in sorted(plan.data_as_of.items())]
        top = plan.recommendation
        if top is not None:
            rows += self._rows_used(top)
        for api in charts.competing_apis(plan):
            rows.append([f"API price: {api.id}", api.source, api.as_of])
        self.table(["What", "Source", "As of"], rows, (30, 56, 14), size=7.4, limit=400)

    def _rows_used(self, top: Candidate) -> list[list[str]]:
        rows: list[list[str]] = []
        cat = self.catalog
        try:
            model = cat.model(top.model)
            rows.append([f"Model: {model.name}", model.source, model.as_of.isoformat()])
            if model.capability_source:
                rows.append([f"Capability score ({model.capability_benchmark})", model.capability_source, model.as_of.isoformat()])
        except LookupFailed:
            rows.append([f"Model: {top.model}", "custom model (from its config.json)", "—"])
        for kind, getter in (("GPU", cat.gpu), ("Quantization", cat.quant), ("Engine", cat.engine)):
            key = {"GPU": top.gpu, "Quantization": top.quant, "Engine": top.engine}[kind]
            try:
                rec = getter(key)
                rows.append([f"{kind}: {getattr(rec, 'name', key)}", rec.source, rec.as_of.isoformat()])
                if kind == "Quantization" and getattr(rec, "bits_source", None) and rec.bits_source != rec.source:
                    rows.append(["Bits per weight", rec.bits_source, rec.as_of.isoformat()])
            except LookupFailed:
                rows.append([f"{kind}: {key}", "not in the catalogue", "—"])
        rows.append(["GPU price", top.cost.price_source, _date_in(top.cost.price_source) or "—"])
        for factor, basis in top.speed.efficiency_basis.items():
            rows.append([f"Efficiency: {factor.replace('_', ' ')}", basis, plan_date(self.plan, "benchmarks")])
        return rows


# --- helpers ------------------------------------------------------------------------------------

_DATA_FILES = {"models": "models.csv", "gpus": "gpus.csv", "gpu_prices": "gpu_prices.csv", "quants": "quants.csv",
               "engines": "engines.csv", "apis": "api_prices.csv", "benchmarks": "benchmarks.csv"}


def plan_date(plan: Plan, kind: str) -> str:
    return plan.data_as_of.get(kind, "—")


def _candidates(plan: Plan) -> list[Candidate]:
    return ([plan.recommendation] if plan.recommendation else []) + list(plan.alternatives)


def _unique_findings(findings):
    seen, out = set(), []
    for f in findings:
        key = (f.rule, f.message)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


def _num(value: object, suffix: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, int | float):
        return f"{value:,.0f}{suffix}" if float(value).is_integer() else f"{value:,.2f}{suffix}"
    return f"{value}{suffix}"


def _fmt(value: object, digits: int) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "—"
    return f"{value:,.{digits}f}"


def _pct(level: dict, key: str, which: str):
    block = level.get(key)
    return block.get(which) if isinstance(block, dict) else None


def _date_in(text: str) -> str | None:
    found = re.search(r"\d{4}-\d{2}-\d{2}", text or "")
    return found.group(0) if found else None


def _derived_comparison(top: Candidate, levels: list[dict]) -> list[dict]:
    """Predicted vs measured for the top pick when the probe carried no comparison: TTFT and
    decode speed per stream at the level nearest the plan's concurrency."""
    target_concurrency = top.speed.concurrency
    level = min(levels, key=lambda lv: abs(int(lv.get("concurrency") or 0) - target_concurrency))
    rows = []
    for target, predicted, measured in (
        ("Time to first token (s)", top.speed.ttft_s, _pct(level, "ttft_s", "p50")),
        ("Decode per stream (tokens/s)", top.speed.decode_tokens_per_s_at_concurrency, _pct(level, "output_tokens_per_s_per_stream", "p50")),
    ):
        error = (measured - predicted) / predicted * 100 if isinstance(measured, int | float) and predicted else None
        rows.append({"target": target, "predicted": predicted, "measured": measured, "error_pct": error,
                     "at_concurrency": level.get("concurrency"), "verdict": "no-target",
                     "sentence": "Measured median against the plan's estimate for this concurrency."})
    return rows
