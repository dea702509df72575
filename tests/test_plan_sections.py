"""What fine-tuning adds to a plan, in the core, the CLI summary and the PDF."""

import subprocess

from planner.catalog.loading import load_catalog
from planner.plan.constraints import Constraints
from planner.plan.recommend import recommend
from planner.report.document import plan_pdf


def test_fine_tuning_adds_a_section_and_findings():
    c = Constraints(fine_tuning="qlora", models=["llama3.1:70b"], privacy="on-prem", gpus_available=[{"gpu": "h100-sxm", "count": 8}],
                    fine_tuning_tokens=50_000_000, fine_tuning_epochs=2)
    plan = recommend(c, load_catalog())
    ft = plan.fine_tuning
    assert ft["method"] == "qlora" and ft["model"] == "meta-llama/Llama-3.1-70B-Instruct"
    assert ft["plan"]["tokens"] == 50_000_000 and ft["plan"]["epochs"] == 2
    # QLoRA of a 70B model needs one 80 GB GPU; full fine-tuning needs many more.
    assert ft["gpus_needed"]["qlora"] == 1
    assert ft["gpus_needed"]["full"] > 8
    assert any(f.rule.startswith("finetune") for f in plan.findings)
    assert any("fine-tuning" in r for r in plan.verdict_reasons)


def test_no_fine_tuning_no_section():
    assert recommend(Constraints(), load_catalog()).fine_tuning == {}


def test_pdf_carries_the_fine_tuning_section_and_speed_bands(tmp_path):
    plan = recommend(Constraints(fine_tuning="lora", models=["llama3.1:8b"]), load_catalog())
    path = tmp_path / "plan.pdf"
    path.write_bytes(plan_pdf(plan))
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    assert "Fine-tuning" in text and "Trainable parameters" in text
    low, high = plan.recommendation.speed.ranges["decode_tokens_per_s"]
    assert f"{low:,.0f}–{high:,.0f}" in text
