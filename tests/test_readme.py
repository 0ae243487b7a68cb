"""The README's Python API example runs as written."""

import re
from pathlib import Path

from cfsnn.cli import main

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_python_example(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--hidden", "16", "--T", "2", "--epochs", "1", "--out", "runs/digits",
                 "--no-progress"]) == 0
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert blocks, "no python example in the README"
    for code in blocks:
        exec(compile(code, "README.md", "exec"), {})
    assert (tmp_path / "hand.cfsnn").exists()


def test_readme_mentions_the_two_commands():
    text = README.read_text()
    assert "make demo" in text and "make test" in text
