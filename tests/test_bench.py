"""The benchmark command runs and reports every candidate with a ratio (no timing asserted)."""

from cfsnn.bench import bench_train_step
from cfsnn.cli import main


def test_bench_rows():
    rows = bench_train_step(sizes=(12, 8, 8, 3), T=2, batch=4, repeats=3, warmup=1)
    names = [r["name"] for r in rows]
    assert names[:3] == ["mlp", "cfsnn-cf", "cfsnn-lif"]
    assert rows[0]["ratio_vs_mlp"] == 1.0
    assert all(r["ms"] > 0 and r["ratio_vs_mlp"] > 0 for r in rows)


def test_bench_cli(capsys):
    assert main(["bench", "train-step", "--sizes", "12", "8", "3", "--T", "2", "--batch", "4",
                 "--repeats", "3"]) == 0
    out = capsys.readouterr().out
    assert "x mlp" in out and "cfsnn-cf" in out
