"""The ComfyUI translation of a run's events (``backend/compat/live.py``): what an interrupted prompt reports as
executed, in order and once each."""

from __future__ import annotations

from backend.compat.live import PromptTranslator


def events(*items: tuple[str, str | None, dict]) -> list[dict]:
    return [
        {"seq": seq, "type": kind, "node": node, "data": data, "time": 1.0 + seq}
        for seq, (kind, node, data) in enumerate(items, start=1)
    ]


def test_an_interrupted_prompt_lists_each_finished_node_once_in_order():
    translator = PromptTranslator("p1", {"1": "A", "2": "B", "3": "C"})
    messages = []
    for event in events(
        ("run_started", None, {"nodes": ["1", "2", "3"]}),
        ("node_started", "2", {}),
        ("node_finished", "2", {}),
        ("node_started", "1", {}),
        ("node_finished", "1", {}),
        ("node_finished", "2", {}),  # reported again (a retried attempt): still once
        ("node_started", "3", {}),
        ("run_finished", None, {"status": "cancelled"}),
    ):
        messages += translator.translate(event)
    (interrupted,) = [m for m in messages if isinstance(m, dict) and m["type"] == "execution_interrupted"]
    assert interrupted["data"]["executed"] == ["2", "1"]
    assert interrupted["data"]["node_id"] == "3"
