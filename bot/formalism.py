"""Spotting formalism (形式主义) in pledge items: copied, campaign wording, or too vague to check.

"copied"/"template": Jaccard similarity of token sets >= threshold (default 0.6). Tokens come from
jieba's search mode, which also emits the words inside compounds (思想认识 -> 思想, 认识). It is
lexical: synonyms (党纪国法 / 党的纪律和国家法律) and 2名 / 两名 are not seen as the same.
* copied: like another member's item written earlier. Of two alike items only the later is a copy:
  an item keeps the time its author first wrote it (an edit that keeps it does not make it new).
* template: like the campaign file's own texts (campaign_wording): the standards and their aims,
  the summary, and every phase's and task's title and quoted source text, each cut into sentences
  and runs of clauses, since a pledge copies a sentence or a clause, not a whole paragraph.

"vague" (四化三可, applied gently to the item's 事项 and 措施, since a measure is often written as the
措施): an item is vague when it names no concrete action (动作), or has neither a measure (量化) nor a
time anchor (时间) in its words. The form asks everyone for a 时限, so a deadline does not make an item
concrete, but it is not reported missing either: the flag's detail lists the parts that are really
missing, e.g. "量化、时间", or "量化" under a 时限. Copying is judged on the 事项 alone.
* 动作: an observable act from a short list (听课, 家访, 辅导, 撰写, 读完, 讲, 公示 ...) or a stated
  result (达到, 提高到, 控制在, 获得 ...); abstract verbs (加强, 提高, 发挥, 做到, 树立) do not count.
* 量化: a number not part of a date (3篇, 85%), a Chinese numeral with a measure word (一节, 两次),
  a frequency or "each" (每周, 每位, 逐一), or a concrete act promised never to happen (不收受…,
  不体罚…: zero is a number too). Set phrases (做一名, 一份力, 四个意识, 三会一课) are not measures.
* 时间: a term or date in the text (本学期, 年底前, 6月底, 寒假, 七一前).
"""
from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import jieba

STOP_WORDS = frozenset(
    "的 地 得 了 着 和 与 及 以及 等 在 把 被 要 将 会 能 我 我们 本人 自己 自身 进一步 并 并且 为 对 于 向 从 给 让 使 以 "
    "也 都 还 又 就 是 之 其 上 中 里 做 好 积极 主动 认真 努力 切实 不断 自觉 坚持 始终 全面 更加 更好 争取 力争 做到".split()
)
GENERIC_WORDS = frozenset("带头 加强 提高 提升 发挥 树立 增强 做好 工作 作用 方面 各项 问题 情况".split())
ACTION_WORDS = (  # observable acts, then stated results; matched anywhere in the text
    "听课 评课 上课 上好 授课 讲课 讲授 宣讲 备课 批改 辅导 补课 家访 走访 回访 谈心 谈话 结对 帮扶 资助 捐助 捐赠 "
    "读完 阅读 通读 精读 学完 学习 自学 背诵 抄写 撰写 写好 写出 编写 编制 完成 提交 发表 整理 录制 制作 设计 开设 "
    "开展 组织 举办 主持 参加 参与 承担 建立 建档 培训 指导 带教 示范 展示 观摩 汇报 开放 值班 值周 护导 巡查 检查 "
    "排查 维修 安装 接送 陪伴 联系 回复 公示 公开 交流 分享 送教 支教 收受 接受 索要 体罚 从事 推销 驾车 驾驶 缴纳 "
    "交纳 记录 填写 上报 发布 举报 达到 提高到 提升到 降到 降低到 控制在 保持在 获得 考取 实现"
).split()
SHORT_ACTIONS = frozenset("听 读 写 讲 教".split())  # single characters count only as whole jieba tokens
NEGATIONS = frozenset("不 不再 绝不 决不 从不 严禁 杜绝 拒绝".split())

_NUM = "[一二两三四五六七八九十百千万]"
_MEASURE = "个月|课时|小时|学期|学年|万字|千字|个|名|位|节|次|篇|本|堂|份|场|项|门|天|周|年|遍|部|条|件|户|所|首|套|轮|批|组|册|元|人|期|回|趟|处|家|分|页|章"
_SET_PHRASES = re.compile(
    rf"(?:做|当|争做|争当|成为|作为|是|像){_NUM}(?:名|个|位)|一份(?:力|光|热)|[一二两三四五]个(?:意识|自信|维护|确立|全面|服务)"
    r"|两学一做|三会一课|三严三实|[四五]有|五带头|五个好|一岗双责"
)
_QUANTITY = re.compile(
    rf"\d+(?:\.\d+)?(?![\d.年月日号])|{_NUM}+(?:{_MEASURE})|半(?:天|年|小时|学期)|每(?:{_MEASURE}|一|星期|季度|晚|日)"
    r"|逐一|逐个|全覆盖|百分之|[%％]|零(?:事故|投诉|违纪|差错)"
)
_TIME = re.compile(
    r"本学期|本学年|本年度|今年|明年|下学期|上半年|下半年|学期末|学年末|期中|期末|年底|年末|年内|月底|月末|"
    r"寒假|暑假|开学|毕业前|[月日底末假考]前|\d{2,4}年|(?:\d+|[一二三四五六七八九十]+)月|\d+日|七一|国庆|截至|截止"
)


_SENTENCE_ENDS = re.compile(r"[。；;！？!?…\n]+")
_CLAUSE_ENDS = re.compile(r"[，,：:]+")
_QUOTES = str.maketrans("", "", "“”\"‘’'「」『』")


@dataclass(frozen=True)
class Flag:
    code: str  # "copied", "template" or "vague"
    detail: str  # the text it resembles, or the missing parts of a vague item ("量化、时间")


@lru_cache(maxsize=20_000)  # a county's pledges: ~1,000 members x 6 items; a few MB
def tokens(text: str) -> frozenset[str]:
    """jieba search-mode tokens, lower-cased, without punctuation, whitespace and stop words.
    Cached: an item is compared with every other member's items, on every pledge preview and submit,
    so the same texts are tokenised again and again (92 ms per item against 1,000 pledges uncached)."""
    words = {t.strip().lower() for t in jieba.lcut_for_search(text)}
    return frozenset(w for w in words if w and w not in STOP_WORDS and not _is_punctuation(w))


def _is_punctuation(word: str) -> bool:
    return all(unicodedata.category(ch)[0] in "PSZ" for ch in word)


def similarity(a: str, b: str) -> float:
    """Jaccard similarity of the token sets: 1.0 for the same words, 0.0 for none in common."""
    ta, tb = tokens(a), tokens(b)
    if not ta and not tb:
        return 1.0 if a.strip() == b.strip() else 0.0
    return len(ta & tb) / len(ta | tb)


def _closest(text: str, candidates: Sequence[str], threshold: float) -> str | None:
    """The most similar candidate (the first one on a tie), if it reaches the threshold."""
    best, best_score = None, -1.0
    for candidate in candidates:
        if (score := similarity(text, candidate)) > best_score:
            best, best_score = candidate, score
    return best if best_score >= threshold else None


def _has_action(text: str, words: Sequence[str]) -> bool:
    return any(w in text for w in ACTION_WORDS) or any(w in SHORT_ACTIONS for w in words)


def _has_prohibition(words: Sequence[str]) -> bool:
    """A negation followed within two words by a concrete act: 不收受, 不体罚, 绝不酒后驾车."""
    following = (words[i + 1 : i + 3] for i, word in enumerate(words) if word in NEGATIONS)
    return any(_has_action(w, [w]) for after in following for w in after)


def _missing_parts(text: str) -> list[str]:
    """Which of 动作/量化/时间 the item's words lack."""
    words = [w for w in jieba.lcut(text) if w.strip()]
    present = {
        "动作": _has_action(text, words),
        "量化": bool(_QUANTITY.search(_SET_PHRASES.sub("，", text))) or _has_prohibition(words),
        "时间": bool(_TIME.search(text)),
    }
    return [part for part, found in present.items() if not found]


def check_item(
    text: str, *, others: Sequence[str] = (), wording: Sequence[str] = (), threshold: float = 0.6,
    details: str = "", deadline: bool = False,
) -> list[Flag]:
    """Flags for one pledge item: "copied", "template", "vague", in that order; [] when it looks fine.
    `text` is the 事项, compared with others and with the campaign's wording; `details` (the 措施) count
    towards how concrete it is; with `deadline` (a 时限 was given) 时间 is never said to be missing."""
    flags = []
    if (source := _closest(text, others, threshold)) is not None:
        flags.append(Flag("copied", source))
    if (source := _closest(text, wording, threshold)) is not None:
        flags.append(Flag("template", source))
    missing = _missing_parts(f"{text}，{details}" if details else text)
    if "动作" in missing or {"量化", "时间"} <= set(missing):
        flags.append(Flag("vague", "、".join(m for m in missing if not (deadline and m == "时间"))))
    return flags


def campaign_wording(content: Mapping) -> list[str]:
    """The campaign's own texts (a CampaignRecord's content, or a Campaign dumped as JSON), as the
    pieces a pledge item could copy: each sentence and each run of its clauses."""
    sets = content.get("standard_sets", {}).values()
    phases = content.get("phases", [])
    texts = [content.get("summary", ""), *content.get("rules", {}).get("source_texts", {}).values(),
             *(text for s in sets for text in (*s.get("items", []), *s.get("aims", {}).values())),
             *(p.get(key, "") for p in phases for key in ("name", "summary", "source_text")),
             *(t.get(key, "") for p in phases for t in p.get("tasks", []) for key in ("title", "source_text"))]
    return list(dict.fromkeys(piece for text in texts for piece in _pieces(text)))


def _pieces(text: str) -> Iterable[str]:
    """Each sentence's runs of consecutive clauses (对照工作标准,查找自身差距,明确努力方向 gives all six)."""
    for sentence in _SENTENCE_ENDS.split(text.translate(_QUOTES)):
        clauses = [c.strip() for c in _CLAUSE_ENDS.split(sentence) if c.strip()]
        for first in range(len(clauses)):
            for last in range(first, len(clauses)):
                yield "，".join(clauses[first:last + 1])


def flag_items(items: Sequence[dict], *, written: Mapping[str, Sequence[tuple[str, float]]], userid: str,
               at: float, campaign: Mapping) -> list[dict]:
    """Each pledge item ({"what": …, …}) with its flags ({"code", "detail"}). `written`: every member's
    items (storage.pledges.written_items), each with when its author first wrote it; an item of this
    person's that is already there keeps its time, a new one is written `at` now, and only what others
    wrote before it can have been copied."""
    wording = campaign_wording(campaign)
    threshold = campaign.get("rules", {}).get("copy_similarity", 0.6)
    first_written = dict(written.get(userid, ()))
    flagged = []
    for item in items:
        since = first_written.get(item["what"], at)
        earlier = [what for who, theirs in written.items() if who != userid for what, when in theirs if when < since]
        flags = check_item(item["what"], others=earlier, wording=wording, threshold=threshold,
                           details=item.get("how") or "", deadline=bool(item.get("by")))
        flagged.append({**item, "flags": [{"code": f.code, "detail": f.detail} for f in flags]})
    return flagged


def summarise(items: Sequence[str], top: int = 5) -> list[tuple[str, int]]:
    """The `top` nouns and verbs used by the most items, as (word, number of items using it).

    Each item counts a word once, so one long item cannot dominate; ties keep first appearance.
    """
    counts: Counter[str] = Counter()
    for item in items:
        counts.update(dict.fromkeys(_theme_words(item), 1))
    return counts.most_common(top)


def _theme_words(text: str) -> list[str]:
    """Nouns, verbs and abbreviations of two or more characters, minus stop words, dates and measures."""
    from jieba import posseg  # here, not at the top: its tables take half a second to import

    words = []
    for pair in posseg.lcut(text):
        word = pair.word.strip().lower()
        if len(word) >= 2 and pair.flag[:1] in ("n", "v", "j") and _is_theme(word):
            words.append(word)
    return words


def _is_theme(word: str) -> bool:
    return word not in STOP_WORDS | GENERIC_WORDS and not _TIME.search(word) and not _QUANTITY.search(word)
