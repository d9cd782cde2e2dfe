"""docs/api.md runs as it is: its Python blocks, one after the other in an empty folder, with the shipped weights;
what its comments print is checked here."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "api.md"


def test_api_doc_examples_run(tmp_path, monkeypatch, capsys):
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert len(blocks) >= 5
    monkeypatch.chdir(tmp_path)
    ns: dict = {}
    for code in blocks:
        exec(compile(code, str(DOC), "exec"), ns)
    out = capsys.readouterr().out
    assert "('posed', 'spontaneous') 3 32 50.0" in out
    assert ns["res"].frames.shape == (2, 52, 64, 64, 3) and "2.08}" in out
    assert (tmp_path / "smiles" / "sheet.png").is_file() and (tmp_path / "mode_1.mp4").is_file()
    assert ns["big"].frames.shape[1] == 40 and ns["big"].fps == 30 and ns["raw"].frames.shape[1] == 32
    assert (tmp_path / "cli_like" / "meta.json").is_file() and ns["meta"]["inputs"]["timing"]["intensity"] == 0.8
    assert sorted(p.name for p in (tmp_path / "batch").iterdir()) == ["anna", "ben"]
    assert "skipped: photos/notes.jpg: not a readable image" in out
    assert len(ns["rows"]) == 5 and ns["summary"].skipped == ["notes.jpg"]
    assert ns["rows"][0]["video"] == "videos/anna_jpg/posed/seed_0/conditional.mp4"
