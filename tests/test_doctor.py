"""`xianfeng doctor` against the emulator on a real port, set to fail in each way a new deployment can:
every failure shows its own fix and a non-zero exit, and a good configuration passes."""
from __future__ import annotations

import asyncio
import io
import os
import sys

import pytest

from bot.doctor import diagnose
from tests.conftest import AES_KEY, AGENT_ID, CORP_ID, KEY_DIR, SECRET, TOKEN

# A phrase only each fix has (message_templates/cli/doctor.j2).
FIXES = {
    "token_missing": "没有设置 WECOM_TOKEN",
    "aes_length": "应为 43 位，现在是",
    "aes_alphabet": "只由英文字母和数字组成",
    "corp_id_format": "配置里有多余的字符",
    "wrong_corp_id": "企业ID不对（40013）",
    "wrong_secret": "Secret 不对（40001）",
    "not_visible_to_root": "可见范围里没有根部门（现在是部门",
    "no_group_chats": "应用不能使用群聊（60011）",
    "user_invalid": "收不到应用消息",
    "untrusted_ip": "“企业可信IP”里（60020），企业微信看到的IP是 127.0.0.1",
    "api_forbidden": "应用无权调用这个接口（48002）",
    "wrong_agent_id": "AgentId 不对（40056）",
    "unreachable": "连不上企业微信接口",
    "no_test_message": "加上 --to 账号",
}


def environment(emulator_url: str, **changes: str) -> dict[str, str]:
    env = {"WECOM_CORP_ID": CORP_ID, "WECOM_AGENT_ID": str(AGENT_ID), "WECOM_SECRET": SECRET,
           "WECOM_TOKEN": TOKEN, "WECOM_AES_KEY": AES_KEY, "WECOM_API_BASE": emulator_url,
           "XIANFENG_HTTP_TIMEOUT": "2", "XIANFENG_KEY_DIR": KEY_DIR}
    env.update(changes)
    return {name: value for name, value in env.items() if value is not None}


async def doctor(env: dict[str, str], to: str | None = "li") -> tuple[int, str, set[str]]:
    """Exit code, what it printed, and which fixes that shows."""
    out = io.StringIO()
    code = await diagnose(env, None, to, out)
    text = out.getvalue()
    return code, text, {name for name, phrase in FIXES.items() if phrase in text}


async def test_a_good_configuration_passes_every_check(emulator, emulator_url):
    code, text, fixes = await doctor(environment(emulator_url))
    assert code == 0 and fixes == set(), text
    # 9 checks; the holiday calendar's is a warning (！) from November until next year's days are written,
    # the keys' while XIANFENG_SEAL_KEY is not set
    assert text.count("✓") + text.count("！") == 9 and "✗" not in text and "全部通过" in text
    assert "test-secret" not in text  # the secret is never shown
    assert emulator.texts("li") and "xianfeng doctor" in emulator.texts("li")[0]
    assert emulator.chats == {} and emulator.count("appchat/create") == emulator.count("appchat/send") == 0


async def test_without_a_recipient_the_test_message_is_not_sent_and_not_a_failure(emulator, emulator_url):
    code, text, fixes = await doctor(environment(emulator_url), to=None)
    assert code == 0 and fixes == {"no_test_message"}, text
    assert emulator.count("message/send") == 0


def untrusted_ip(emulator):
    emulator.mode_untrusted_ip = True


def forbidden(emulator):
    emulator.forbidden_apis = {"*"}


def not_visible_to_root(emulator):
    emulator.add_department(2, "第一党支部")
    emulator.visible_root = False


def li_outside_the_range(emulator):
    emulator.invisible_users = {"li"}


def li_not_in_the_directory(emulator):
    emulator.add_person("zhang", "张伟")


@pytest.mark.parametrize("setup,env,fixes,passed", [
    (None, {"WECOM_CORP_ID": "wwothercorp0002"}, {"wrong_corp_id"}, 3),
    (None, {"WECOM_SECRET": "wrong-secret"}, {"wrong_secret"}, 3),
    (untrusted_ip, {}, {"untrusted_ip"}, 4),
    (forbidden, {}, {"api_forbidden"}, 4),
    (not_visible_to_root, {}, {"not_visible_to_root", "no_group_chats"}, 5),
    (li_outside_the_range, {}, {"user_invalid"}, 6),
    (li_not_in_the_directory, {}, {"user_invalid"}, 6),
    (None, {"WECOM_AGENT_ID": "1000099"}, {"wrong_agent_id"}, 5),
    (None, {"WECOM_TOKEN": None}, {"token_missing"}, 6),
    (None, {"WECOM_AES_KEY": AES_KEY[:-3]}, {"aes_length"}, 6),
    (None, {"WECOM_AES_KEY": AES_KEY[:-1] + "+"}, {"aes_alphabet"}, 6),
    (None, {"WECOM_CORP_ID": "ww test corp"}, {"corp_id_format", "wrong_corp_id"}, 2),
])
async def test_each_failure_shows_its_own_fix_and_exits_1(emulator, emulator_url, setup, env, fixes, passed):
    if setup:
        setup(emulator)
    code, text, shown = await doctor(environment(emulator_url, **env))
    assert code == 1 and shown == fixes, text
    assert text.count("✓") + text.count("！") == passed + 2 and "没有通过" in text  # + the holidays' and keys'



async def test_untrusted_ip_still_gets_a_token_and_names_the_address_to_trust(emulator, emulator_url):
    emulator.mode_untrusted_ip = True
    code, text, _ = await doctor(environment(emulator_url))
    token_line = next(line for line in text.splitlines() if "access_token" in line)
    assert code == 1 and token_line.startswith("✓")
    assert text.count("企业微信看到的IP是 127.0.0.1") == 3  # agent/get, the test message and appchat/get each refused


async def test_an_unreachable_api_says_so(emulator):
    code, text, fixes = await doctor(environment("http://127.0.0.1:9/cgi-bin"))
    assert code == 1 and fixes == {"unreachable"}, text
    assert "127.0.0.1:9" in text


async def test_the_command_runs_against_the_emulator(emulator, emulator_url, tmp_path):
    """`xianfeng doctor --to li` as a person types it (settings from a TOML file), and its exit code."""
    config = tmp_path / "xianfeng.toml"
    config.write_text("".join(f'{name} = "{value}"\n' for name, value in environment(emulator_url).items()),
                      encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WECOM_", "XIANFENG_"))}

    async def run(*args: str) -> tuple[int, str]:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "doctor", "--config", str(config), *args, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        output, _ = await process.communicate()
        return process.returncode, output.decode()

    code, text = await run("--to", "li")
    assert code == 0 and "全部通过" in text, text
    emulator.secret = "rotated"
    code, text = await run("--to", "li")
    assert code == 1 and FIXES["wrong_secret"] in text, text


async def test_an_errcode_doctor_has_no_words_of_its_own_for_gets_the_senders(emulator, emulator_url):
    from bot.wecom.emulator.state import Fault

    emulator.fail("message/send", Fault(errcode=48001))  # one secret for another app's API (90313)
    code, text, _fixes = await doctor(environment(emulator_url))
    assert code == 1 and "48001" in text and "应用未获授权调用此接口" in text and "Secret" in text


def test_the_keys_check(engine, db_url, tmp_path):
    """The key directory must be writable, every open poll's key there and opening under this master key;
    without XIANFENG_SEAL_KEY a warning (a new EncodingAESKey would lose the open polls)."""
    from bot.config import load_settings
    from bot.doctor import keys_check
    from storage import polls as store
    from storage import sealing
    from storage.db import transaction
    from storage.models import Branch, Poll

    base = {"DATABASE_URL": db_url, "WECOM_AES_KEY": AES_KEY, "XIANFENG_KEY_DIR": str(tmp_path / "keys")}
    assert keys_check(load_settings(base)).outcome == "seal_key_unset"
    sealed = {**base, "XIANFENG_SEAL_KEY": "s" * 40}
    assert keys_check(load_settings(sealed)).outcome == "ok"
    (tmp_path / "a-file").write_text("")
    unwritable = keys_check(load_settings({**sealed, "XIANFENG_KEY_DIR": str(tmp_path / "a-file" / "keys")}))
    assert unwritable.outcome == "keys_unwritable" and unwritable.failed
    sealing.configure(tmp_path / "keys", "s" * 40)  # as `serve` would with these settings
    try:
        with transaction(engine) as session:
            session.add(Branch(id=1, name="第一党支部"))
            session.flush()
            poll = store.create(session, voters=[], poll=Poll(
                branch_id=1, issuer="sec", rates="branch", subject="第一党支部", scale="满意度", options=["满意"],
                satisfied=["满意"], voters="both", deadline=1.9e9))
        assert keys_check(load_settings(sealed)).outcome == "ok"
        other_master = keys_check(load_settings({**sealed, "XIANFENG_SEAL_KEY": "t" * 40}))
        assert other_master.outcome == "keys_lost" and other_master.detail["polls"] == [poll.id]
        (tmp_path / "keys" / f"{poll.seal_key}.key").unlink()
        assert keys_check(load_settings(sealed)).outcome == "keys_lost"
    finally:
        sealing.configure(KEY_DIR, AES_KEY)
