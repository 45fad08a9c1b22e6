"""What `pip install .` puts on a machine: the wheel built by the project's own backend.

The README's demo command installs a wheel, not the working tree, so a template, a migration or the
chart font left out of it would only show on a fresh machine. The wheel is built here in-process with
the backend pyproject.toml names (pdm-backend), as pip's isolated build does.
"""
from __future__ import annotations

import email
import zipfile
from pathlib import Path

import pytest

pdm_backend = pytest.importorskip("pdm.backend")

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "storage", "message_templates", "campaigns")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(ROOT)  # the backend builds the project in the current directory
        name = pdm_backend.build_wheel(str(out))
    with zipfile.ZipFile(out / name) as archive:
        yield archive


def source_files() -> set[str]:
    return {path.relative_to(ROOT).as_posix()
            for package in PACKAGES for path in (ROOT / package).rglob("*")
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"}


def test_the_wheel_carries_every_file_of_the_four_packages_and_nothing_else(wheel):
    names = {name for name in wheel.namelist() if ".dist-info/" not in name}
    assert source_files() - names == set()
    assert names - source_files() == set()  # no tests, benchmarks, docs or build leftovers
    for needed in ("bot/data/fonts/NotoSansCJKsc-Regular-subset.otf", "bot/data/fonts/OFL.txt",
                   "bot/data/demo_roster.csv", "campaigns/seed004.yaml", "storage/migrations/script.py.mako",
                   "message_templates/cli/config_error.j2"):
        assert needed in names


def test_a_first_install_leaves_postgresqls_driver_to_its_extra(wheel):
    # issue 19, finding 11: the demo runs on SQLite; psycopg (4 MB) comes with xianfeng[postgresql].
    [metadata] = [name for name in wheel.namelist() if name.endswith(".dist-info/METADATA")]
    requires = email.message_from_bytes(wheel.read(metadata)).get_all("Requires-Dist")
    base = [r for r in requires if "extra ==" not in r]
    assert not any(r.lower().startswith(("psycopg", "mplfonts", "matplotlib")) for r in base), base
    assert any(r.startswith("psycopg[binary]") and 'extra == "postgresql"' in r for r in requires), requires
    [entry_points] = [name for name in wheel.namelist() if name.endswith(".dist-info/entry_points.txt")]
    assert "xianfeng = bot.cli:main" in wheel.read(entry_points).decode()
