"""The README's Python example runs as written (on the session's prepared springs mini tier)."""

import re
from pathlib import Path


def test_readme_python_example_runs(springs_mini, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # it saves into ./results, and save_result never overwrites
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, "the README lost its Python example"
    scope: dict = {}
    exec(
        compile(blocks[0].replace("print(", "(lambda *a: None)("), "README.md", "exec"), scope
    )  # our own file
    assert scope["result"]["metrics"]["mse"]["value"] > 0
    assert scope["result"]["task"]["name"] == "particles/springs-forecast"
