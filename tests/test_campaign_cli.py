"""`xianfeng campaign load|show` and `xianfeng jobs list|run` as an operator uses them."""
from __future__ import annotations

from pathlib import Path

from bot.cli import main

SEED_002 = Path(__file__).resolve().parent.parent / "campaigns" / "seed002.yaml"


def test_load_is_idempotent_rebases_and_shows(db_url, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", db_url)
    assert main(["campaign", "load", str(SEED_002), "--start", "2026-03-02"]) == 0
    assert "已载入" in capsys.readouterr().out
    assert main(["campaign", "load", str(SEED_002), "--start", "2026-03-02"]) == 0
    assert "没有变化" in capsys.readouterr().out
    assert main(["campaign", "load", str(SEED_002), "--start", "2026-03-09"]) == 0
    assert "已更新" in capsys.readouterr().out
    assert main(["campaign", "show"]) == 0
    shown = capsys.readouterr().out
    assert "1. 调查摸底、分类定级：2026-03-09 至 2026-04-28" in shown  # 3月上旬–4月中旬, moved a week on


def test_invalid_file_names_line_and_field(db_url, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("DATABASE_URL", db_url)
    broken = tmp_path / "broken.yaml"
    broken.write_text(SEED_002.read_text(encoding="utf-8").replace("kind: poll", "kind: vote", 1), encoding="utf-8")
    assert main(["campaign", "load", str(broken)]) == 1
    err = capsys.readouterr().err
    line = next(n for n, text in enumerate(broken.read_text(encoding="utf-8").splitlines(), 1) if "kind: vote" in text)
    assert f"broken.yaml:{line}:" in err and ".kind" in err and "未载入" in err


def test_jobs_list_and_run(db_url, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", db_url)
    assert main(["jobs", "list"]) == 0
    listed = capsys.readouterr().out
    assert "announcements" in listed and "digest" in listed
    assert main(["jobs", "run", "digest", "--now", "2026-03-09 09:00"]) == 0
    assert "2026-03-09 09:00" in capsys.readouterr().out
    assert main(["jobs", "run", "nothing"]) == 2
    assert main(["jobs", "run", "digest", "--now", "Monday"]) == 2


def test_the_export_command_offers_exactly_the_sheets_there_are():
    from bot.cli import EXPORTS
    from bot.exports import BOOKS

    assert set(EXPORTS) == set(BOOKS)
