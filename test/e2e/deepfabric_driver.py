"""Runs DeepFabric scenarios in one Python process (DeepFabric takes 10-40 s to import on a busy 2-core machine,
so importing it once per scenario would dominate the end-to-end run) and writes a JSON report.

Each scenario runs DeepFabric's own entry points exactly as a user would: the click CLI (`deepfabric generate`,
`deepfabric evaluate --backend ollama`) or, for the `llm` evaluation backend that the CLI does not expose, the
documented Python API (Evaluator + InferenceConfig). Generated samples are checked with DeepFabric's own
Conversation model. Usage: python deepfabric_driver.py scenarios.json report.json
"""

import json
import os
import sys
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path


def now() -> str:
    return datetime.now(timezone.utc).isoformat()


def run_cli(args: list[str]) -> int:
    from deepfabric.cli import cli

    try:
        cli.main(args=args, prog_name="deepfabric", standalone_mode=False)
        return 0
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)


def check_dataset(path: Path) -> dict:
    from deepfabric.schemas import Conversation

    out = {"exists": path.exists(), "samples": 0, "valid": 0, "errors": []}
    if not path.exists():
        return out
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        out["samples"] += 1
        try:
            Conversation.model_validate(json.loads(line))
            out["valid"] += 1
        except Exception as e:  # noqa: BLE001
            out["errors"].append(str(e)[:300])
    failures = sorted(path.parent.glob(path.stem + "_failures_*.jsonl"))
    out["failures"] = sum(len(f.read_text().splitlines()) for f in failures)
    out["failure_reasons"] = [json.loads(l).get("error", "")[:300] for f in failures for l in f.read_text().splitlines()[:3]]
    return out


def check_topics(path: Path) -> dict:
    if not path.exists():
        return {"exists": False, "lines": 0}
    text = path.read_text()
    if path.suffix == ".json":
        data = json.loads(text)
        return {"exists": True, "lines": len(data.get("nodes", data) if isinstance(data, dict) else data)}
    return {"exists": True, "lines": len([l for l in text.splitlines() if l.strip()])}


def check_evaluation(path: Path) -> dict:
    if not path.exists():
        return {"exists": False}
    data = json.loads(path.read_text())
    predictions = data.get("predictions") or []
    return {
        "exists": True,
        "metrics": data.get("metrics"),
        "samples": len(predictions),
        "errors": [p.get("error") for p in predictions if p.get("error")][:5],
        "predicted_tools": [p.get("predicted_tool") for p in predictions],
        "predicted_parameters": [p.get("predicted_parameters") for p in predictions],
    }


def evaluate_llm(s: dict) -> int:
    from deepfabric.evaluation import EvaluatorConfig, InferenceConfig
    from deepfabric.evaluation.evaluator import Evaluator

    inference = InferenceConfig(
        model=s["model"],
        backend="llm",
        provider=s["provider"],
        base_url=s.get("base_url"),
        temperature=0.0,
        max_tokens=s.get("max_tokens", 128),
        top_p=1.0,
    )
    config = EvaluatorConfig(
        dataset_path=s["dataset"],
        output_path=s["output"],
        inference_config=inference,
        evaluators=["tool_calling"],
        reporters=["file"],
        multi_turn=s.get("multi_turn", False),
    )
    evaluator = Evaluator(config)
    try:
        evaluator.evaluate()
    finally:
        evaluator.cleanup()
    return 0


def run(s: dict) -> dict:
    result = {"name": s["name"], "started": now()}
    saved = dict(os.environ)
    os.environ.update(s.get("env", {}))
    cwd = os.getcwd()
    os.chdir(s["cwd"])
    t0 = time.monotonic()
    try:
        if s["kind"] == "cli":
            result["code"] = run_cli(s["args"])
        elif s["kind"] == "evaluate-llm":
            result["code"] = evaluate_llm(s)
        else:
            raise ValueError(f"unknown scenario kind {s['kind']}")
    except Exception:  # noqa: BLE001
        result["code"] = 1
        result["exception"] = traceback.format_exc()[-3000:]
    finally:
        result["seconds"] = round(time.monotonic() - t0, 2)
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(saved)
    result["ended"] = now()
    base = Path(s["cwd"])
    if "dataset" in s.get("check", {}):
        result["dataset"] = check_dataset(base / s["check"]["dataset"])
    if "topics" in s.get("check", {}):
        result["topics"] = check_topics(base / s["check"]["topics"])
    if "evaluation" in s.get("check", {}):
        result["evaluation"] = check_evaluation(base / s["check"]["evaluation"])
    return result


def main() -> None:
    scenarios = json.loads(Path(sys.argv[1]).read_text())
    report_path = Path(sys.argv[2])
    t0 = time.monotonic()
    import deepfabric.cli  # noqa: F401  (import once, timed separately)

    report = {"import_seconds": round(time.monotonic() - t0, 2), "scenarios": []}
    for s in scenarios:
        report["scenarios"].append(run(s))
        report_path.write_text(json.dumps(report, indent=2))
        print(f"[driver] {s['name']}: code {report['scenarios'][-1]['code']} in {report['scenarios'][-1]['seconds']} s", flush=True)
    report_path.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
