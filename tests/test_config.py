"""The configuration contract: names, precedence, one clear line per problem, secrets never shown."""
from __future__ import annotations

import sys

import pytest

from bot.cli import main
from bot.config import DEFAULT_API_BASE, ConfigError, load_settings
from tests.conftest import AES_KEY

FULL = {"WECOM_CORP_ID": "wwcorp", "WECOM_AGENT_ID": "1000002", "WECOM_SECRET": "s3cr3t-value-xyz",
        "WECOM_TOKEN": "tok3n-value", "WECOM_AES_KEY": AES_KEY}


def test_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = load_settings(env=FULL).require_wecom()
    assert settings.api_base == DEFAULT_API_BASE == "https://qyapi.weixin.qq.com/cgi-bin"
    assert settings.tz == "Asia/Shanghai" and settings.agent_id == 1000002
    assert settings.database_url == f"sqlite:///{tmp_path / 'data' / 'xianfeng.db'}"


def test_environment_overrides_the_toml_file(tmp_path):
    path = tmp_path / "xianfeng.toml"
    path.write_text('WECOM_CORP_ID = "from-file"\nWECOM_API_BASE = "https://gov.example.cn/cgi-bin/"\nXIANFENG_TZ = "Asia/Urumqi"\n')
    settings = load_settings(env={"XIANFENG_CONFIG": str(path), "XIANFENG_TZ": "Asia/Shanghai"})
    assert settings.corp_id == "from-file" and settings.tz == "Asia/Shanghai"
    assert settings.api_base == "https://gov.example.cn/cgi-bin"
    assert load_settings(env={}, config_file=str(path)).tz == "Asia/Urumqi"


@pytest.mark.parametrize("name,value", [("WECOM_AES_KEY", "short"), ("WECOM_AGENT_ID", "abc"),
                                        ("XIANFENG_TZ", "Mars/Olympus"), ("DATABASE_URL", "::nonsense::")])
def test_malformed_setting_is_named(name, value):
    with pytest.raises(ConfigError) as caught:
        load_settings(env={**FULL, name: value})
    assert caught.value.name == name


@pytest.mark.parametrize("missing", ["WECOM_CORP_ID", "WECOM_AGENT_ID", "WECOM_SECRET", "WECOM_TOKEN", "WECOM_AES_KEY"])
def test_missing_setting_is_named(missing):
    env = {k: v for k, v in FULL.items() if k != missing}
    with pytest.raises(ConfigError) as caught:
        load_settings(env=env).require_wecom()
    assert caught.value.name == missing


def test_bad_toml_and_unknown_keys(tmp_path):
    broken = tmp_path / "broken.toml"
    broken.write_text("WECOM_CORP_ID = ")
    with pytest.raises(ConfigError, match="XIANFENG_CONFIG"):
        load_settings(env={"XIANFENG_CONFIG": str(broken)})
    typo = tmp_path / "typo.toml"
    typo.write_text('WECOM_CORPID = "x"')
    with pytest.raises(ConfigError, match="WECOM_CORPID"):
        load_settings(env={"XIANFENG_CONFIG": str(typo)})


def test_secrets_are_not_in_repr():
    text = repr(load_settings(env=FULL))
    assert "s3cr3t" not in text and "tok3n" not in text and AES_KEY not in text and "wwcorp" in text


def test_serve_stops_with_one_line_naming_the_setting(monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)
    for key in FULL:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("WECOM_CORP_ID", "wwcorp")
    assert main(["serve"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "WECOM_AGENT_ID" in err


def test_config_option_is_read(monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "c.toml"
    path.write_text('XIANFENG_TZ = "Nowhere/Land"\n')
    assert main(["serve", "--config", str(path)]) == 2
    assert "XIANFENG_TZ" in capsys.readouterr().err


def test_the_consoles_sign_in_settings(tmp_path, monkeypatch):
    """WECOM_OAUTH_BASE: 网页授权 (91022) at open.weixin.qq.com unless 政务微信 or the emulator serve it
    elsewhere; XIANFENG_PUBLIC_URL: only scheme, host and port (the console lives at /console/ of it)."""
    monkeypatch.chdir(tmp_path)
    settings = load_settings(env=FULL)
    assert settings.oauth_base == "https://open.weixin.qq.com/connect/oauth2/authorize" and settings.public_url == ""
    settings = load_settings(env={**FULL, "WECOM_OAUTH_BASE": "https://gov.example.cn/connect/oauth2/authorize/",
                                  "XIANFENG_PUBLIC_URL": "https://xf.example.cn/"})
    assert settings.oauth_base == "https://gov.example.cn/connect/oauth2/authorize"
    assert settings.public_url == "https://xf.example.cn"
    for name, value in (("WECOM_OAUTH_BASE", "open.weixin.qq.com/connect"), ("XIANFENG_PUBLIC_URL", "ftp://x"),
                        ("XIANFENG_PUBLIC_URL", "https://xf.example.cn/console"), ("WECOM_OAUTH_BASE", "https://a b")):
        with pytest.raises(ConfigError) as caught:
            load_settings(env={**FULL, name: value})
        assert caught.value.name == name


def test_the_consoles_key_is_derived_never_the_secret_itself():
    settings = load_settings(env=FULL)
    key = settings.console_key()
    assert key and len(key) == 32 and AES_KEY.encode() not in key
    assert load_settings(env={**FULL, "XIANFENG_SEAL_KEY": "s" * 40}).console_key() != key
    assert load_settings(env={}).console_key() is None


@pytest.mark.parametrize("command", [["db", "upgrade"], ["serve"], ["doctor"]])
def test_postgresql_without_its_driver_says_what_to_install(command, monkeypatch, capsys, tmp_path):
    # `pip install .` leaves PostgreSQL's driver out (it is the extra xianfeng[postgresql]).
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg fails, as in such an install
    for key, value in FULL.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    assert main(command) != 0
    out = capsys.readouterr()
    lines = (out.err + out.out).strip().splitlines()
    assert len(lines) == 1 and "DATABASE_URL" in lines[0] and "'xianfeng[postgresql]'" in lines[0], lines


def test_postgresql_with_its_driver_and_sqlite_without_it_load(monkeypatch):
    url = "postgresql://postgres@127.0.0.1:5432/test"
    assert load_settings(env={"DATABASE_URL": url}).database_url == url
    monkeypatch.setitem(sys.modules, "psycopg", None)
    assert load_settings(env={"DATABASE_URL": "sqlite:///x.db"}).database_url == "sqlite:///x.db"
