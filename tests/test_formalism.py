"""Formalism checks on pledge items (bot/formalism.py), against a hand-labelled set.

Labels say what a careful branch secretary would say about each item, following the rule in the
module docstring: "copied" = near-identical to the other member's item given, "template" =
near-identical to the campaign's own wording, "vague" = no concrete action, or neither a measure
nor a time anchor. They were written before running the checker and not changed to fit it.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from bot.campaigns import load_campaign_file
from bot.formalism import Flag, campaign_wording, check_item, flag_items, similarity, summarise, tokens

WORDING = (
    "带头学习提高", "带头争创佳绩", "带头服务群众", "带头遵纪守法", "带头弘扬正气",
    "带头学习提高，做到政治坚定、业务精通",
    "带头争创佳绩，在本职岗位上做出显著成绩",
    "带头服务群众，积极为群众排忧解难",
    "带头遵纪守法，自觉遵守党的纪律和国家法律法规",
    "带头弘扬正气，敢于同不良风气作斗争",
)

# Other members' items, reused as the "others" of the cases below.
LISTEN = "每周听一节青年教师的课并当面交流意见"
OPEN_CLASS = "每学期上一节县级公开课，课后请教研组评课"
HOME_VISIT = "结对帮扶两名学困生，每月家访一次"
READING = "本学期读完《教育的情怀》并写3篇读书笔记"
GIFTS = "不收受学生家长的礼品礼金，不参与有偿家教"
SAFETY_NOTE = "每月在家长群发布一次食品安全提示"
MENTOR = "本学年指导1名新教师，每周至少听其2节课"
SELF = "努力提高自身素质"
STUDY = "加强学习，提高认识"
MODEL = "发挥先锋模范作用"
COLLEAGUES = (LISTEN, OPEN_CLASS, HOME_VISIT, READING, GIFTS, MENTOR)

NONE: frozenset[str] = frozenset()
VAGUE = frozenset({"vague"})
COPIED = frozenset({"copied"})
COPIED_VAGUE = frozenset({"copied", "vague"})
TEMPLATE_VAGUE = frozenset({"template", "vague"})

# (item, others, expected flag codes)
CASES: list[tuple[str, tuple[str, ...], frozenset[str]]] = [
    # Concrete items: an observable act plus a measure or a date.
    (LISTEN, (OPEN_CLASS, MENTOR, HOME_VISIT), NONE),
    (READING, ("本学期读完《给教师的建议》并写5篇读书笔记", LISTEN), NONE),  # another book: not a copy
    (HOME_VISIT, ("每月家访一次留守儿童，记录在家访手册上", READING), NONE),
    ("所教两个班的数学及格率本学年提高到85%以上", COLLEAGUES, NONE),
    (OPEN_CLASS, (LISTEN, MENTOR), NONE),
    ("每周五下午为住校生义务辅导作业一小时", COLLEAGUES, NONE),
    ("寒假期间走访班上8名留守儿童的家庭，了解假期生活和安全情况", (HOME_VISIT,), NONE),
    (GIFTS, (SELF, MODEL), NONE),  # a promise never to do a concrete act is measurable: zero
    ("不体罚和变相体罚学生", (GIFTS,), NONE),
    ("年底前完成县级课题《农村小学阅读习惯培养研究》的结题报告", COLLEAGUES, NONE),
    ("每月自学一章党章，并在支部组织生活会上交流心得", COLLEAGUES, NONE),
    ("每天早上7点半到校门口护导学生上学", COLLEAGUES, NONE),
    ("全年资助1名贫困学生学费1000元", COLLEAGUES, NONE),
    (MENTOR, (LISTEN, OPEN_CLASS), NONE),
    ("七一前为全校党员讲一次党课", COLLEAGUES, NONE),
    ("每学期开展两次校园周边安全隐患排查，发现问题当天上报", COLLEAGUES, NONE),
    ("中考前每周为毕业班学生义务补课两个晚上", COLLEAGUES, NONE),
    ("按时足额缴纳党费，每季度参加一次组织生活会", COLLEAGUES, NONE),
    ("本学期把课后服务收费标准在校务公开栏公示", COLLEAGUES, NONE),
    ("作为一名班主任，每学期与每位学生至少谈心一次", COLLEAGUES, NONE),
    ("暑假前整理好全校2015年以来的学籍档案", COLLEAGUES, NONE),
    (SAFETY_NOTE, (GIFTS, HOME_VISIT), NONE),
    ("本学期在县教育信息网发表2篇教学反思", (READING,), NONE),
    ("带头学习提高，做到政治坚定、业务精通，本学期读完3本教育专著", (READING,), NONE),  # wording + own pledge
    ("本学年实现所管校车零事故", COLLEAGUES, NONE),
    ("每周二晚上组织教研组集体备课一次", (OPEN_CLASS, LISTEN), NONE),
    ("学校图书室每天中午向学生开放一小时", COLLEAGUES, NONE),
    ("参加县教育局组织的班主任培训，6月底前取得结业证书", COLLEAGUES, NONE),
    ("每周听两节同学科教师的课，课后写听课记录", (LISTEN,), NONE),  # same habit, different pledge
    ("每学期家访班上所有留守儿童至少一次", (HOME_VISIT,), NONE),
    # Vague: nothing anyone could check later.
    (SELF, (LISTEN,), VAGUE),
    (STUDY, (), VAGUE),
    (MODEL, (), VAGUE),
    ("争做一名人民满意的教师", COLLEAGUES, VAGUE),
    ("多读书，读好书，不断充实自己", (READING,), VAGUE),
    ("关心爱护每一个学生", COLLEAGUES, VAGUE),
    ("本学期切实转变工作作风", COLLEAGUES, VAGUE),
    ("严格遵守各项规章制度，做遵纪守法的模范", (GIFTS,), VAGUE),
    ("热爱教育事业，爱岗敬业，无私奉献", COLLEAGUES, VAGUE),
    ("认真备课，认真上课，认真批改作业", (OPEN_CLASS,), VAGUE),
    ("积极参加学校组织的各项活动", COLLEAGUES, VAGUE),
    ("全心全意为学生服务，为群众办实事", COLLEAGUES, VAGUE),
    ("提高教育教学质量，争创一流业绩", COLLEAGUES, VAGUE),
    ("敢于同歪风邪气作斗争，树立良好师德形象", COLLEAGUES, VAGUE),
    ("增强“四个意识”，坚定“四个自信”", COLLEAGUES, VAGUE),
    ("坚持“三会一课”制度，按时参加组织生活", COLLEAGUES, VAGUE),
    # Near-identical to the campaign's own wording (and therefore vague too).
    ("带头学习提高，做到政治坚定、业务精通", COLLEAGUES, TEMPLATE_VAGUE),
    ("带头服务群众，主动为群众排忧解难", COLLEAGUES, TEMPLATE_VAGUE),
    ("在本职岗位上做出显著成绩，带头争创佳绩", COLLEAGUES, TEMPLATE_VAGUE),
    ("带头弘扬正气，敢于同不良风气作斗争", COLLEAGUES, TEMPLATE_VAGUE),
    ("带头遵纪守法，自觉遵守党纪国法", COLLEAGUES, TEMPLATE_VAGUE),  # the standard's wording, condensed
    ("带头服务群众", COLLEAGUES, TEMPLATE_VAGUE),
    ("带头争创佳绩，在本职工作岗位上做出显著成绩", COLLEAGUES, TEMPLATE_VAGUE),
    # Copied or lightly reworded from the colleague's item given.
    ("每周听青年教师一节课，并当面交流听课意见", (LISTEN, OPEN_CLASS), COPIED),
    ("结对帮扶2名学困生，每个月家访一次", (HOME_VISIT, READING), COPIED),
    ("努力提高自身综合素质", (SELF, LISTEN), COPIED_VAGUE),
    ("本学期读完《教育的情怀》，并撰写3篇读书笔记", (READING, LISTEN), COPIED),
    ("不收受家长礼品礼金，不从事有偿家教", (GIFTS, SELF), COPIED),
    ("每学期上一节校级公开课，课后请教研组评课", (OPEN_CLASS, MENTOR), COPIED),
    ("加强理论学习，提高思想认识", (STUDY, MODEL), COPIED_VAGUE),
    ("每月在家长群里发布一次食品安全提示", (SAFETY_NOTE, GIFTS), COPIED),
    ("发挥党员先锋模范作用", (MODEL, SELF), COPIED_VAGUE),
]


def test_labelled_pledges_accuracy() -> None:
    misses = []
    for text, others, expected in CASES:
        got = {flag.code for flag in check_item(text, others=others, wording=WORDING)}
        if got != expected:
            misses.append(f"{text}: expected {sorted(expected)}, got {sorted(got)}")
    hits = len(CASES) - len(misses)
    share = hits / len(CASES)
    print(f"formalism accuracy: {hits}/{len(CASES)} = {share:.3f}", *misses, sep="\n  ")
    # Achieved 59/62 = 0.952 with threshold 0.6. The three misses are lexical limits: 党纪国法 for
    # 党的纪律和国家法律法规, 2名/每个月 for 两名/每月, and 理论学习/思想认识 for 学习/认识.
    assert share >= 0.90, f"accuracy {hits}/{len(CASES)} = {share:.3f} < 0.90; misses:\n" + "\n".join(misses)


def test_tokens_drop_punctuation_stop_words_and_case() -> None:
    got = tokens("我要进一步加强学习，提高 PPT 制作水平！")
    assert {"加强", "学习", "提高", "ppt", "制作", "水平"} <= got
    assert not got & {"我", "要", "进一步", "，", "！", " ", "PPT"}
    assert tokens("") == frozenset()
    assert tokens("，。、！") == frozenset()


def test_similarity_is_jaccard_of_token_sets() -> None:
    assert similarity(LISTEN, LISTEN) == 1.0
    assert similarity("家访学生", "辅导作业") == 0.0
    a, b = "家访留守儿童", "家访学困生"
    ta, tb = tokens(a), tokens(b)
    assert similarity(a, b) == pytest.approx(len(ta & tb) / len(ta | tb))
    assert similarity(a, b) == similarity(b, a)
    assert 0.0 < similarity(a, b) < 1.0
    assert similarity("", "") == 1.0


def test_check_item_details() -> None:
    assert check_item(LISTEN) == []
    flags = check_item("每周听青年教师一节课，并当面交流听课意见", others=(OPEN_CLASS, LISTEN))
    assert flags == [Flag("copied", LISTEN)]
    flags = check_item("带头服务群众，主动为群众排忧解难", wording=WORDING)
    assert flags[0] == Flag("template", "带头服务群众，积极为群众排忧解难")
    assert check_item(SELF) == [Flag("vague", "动作、量化、时间")]
    assert check_item("认真备课，认真批改作业") == [Flag("vague", "量化、时间")]
    assert check_item("本学期切实转变工作作风") == [Flag("vague", "动作、量化")]
    assert check_item("关心爱护每一个学生") == [Flag("vague", "动作、时间")]


def test_threshold_is_respected() -> None:
    text = "每周听青年教师一节课，并当面交流听课意见"
    score = similarity(text, LISTEN)
    assert check_item(text, others=(LISTEN,), threshold=score) != []
    assert check_item(text, others=(LISTEN,), threshold=min(1.0, score + 0.01)) == []


def test_summarise_counts_items_per_word() -> None:
    items = [
        "每月家访一次学困生",
        "寒假家访留守学生，家访后写家访记录",  # counts once for 家访
        "每学期家访班上所有学生",
        "每周听一节青年教师的课并交流意见",
    ]
    top = summarise(items, top=3)
    assert top[:2] == [("家访", 3), ("学生", 2)]
    assert len(top) == 3
    assert summarise(items, top=3) == top  # deterministic
    words = {word for word, _ in summarise(items, top=50)}
    assert {"青年教师", "交流"} <= words
    assert not words & {"的", "一次", "一节", "每月", "每学期", "寒假", "并"}  # no stop words, measures or dates
    assert summarise([]) == []
    assert summarise(items, top=0) == []


# -- the campaign's own texts (issue 19, finding 8: the README says copying them is caught) ---------
CAMPAIGNS = Path(__file__).resolve().parents[1] / "campaigns"


def _wording(seed: str) -> list[str]:
    return campaign_wording(load_campaign_file(CAMPAIGNS / f"{seed}.yaml").model_dump(mode="json"))


@pytest.mark.parametrize("seed,copied", [
    ("seed000", "对照工作标准，查找自身差距，明确努力方向，制定跟进、赶超的具体措施"),  # a task's source_text
    ("seed000", "定期将承诺事项的落实情况向师生公开"),  # a task's source_text, whole
    ("seed001", "实事求是肯定取得的成绩，指出存在的问题和努力方向"),  # a clause of a source_text
    ("seed002", "对工作任务进行分解，明确责任、明确要求、明确措施、明确时限"),
    ("seed003", "针对差距，明确改进争优的承诺内容"),  # a task's title, after its colon
    ("seed004", "工作有措施、有落实"),
])
def test_a_sentence_copied_from_a_shipped_campaign_file_is_flagged_as_its_wording(seed, copied):
    codes = [flag.code for flag in check_item(copied, wording=_wording(seed))]
    assert "template" in codes


@pytest.mark.parametrize("seed", ["seed000", "seed001", "seed002", "seed003", "seed004"])
def test_a_members_own_concrete_items_are_not_the_campaigns_wording(seed):
    wording = _wording(seed)
    assert not [text for text in (LISTEN, HOME_VISIT, READING, MENTOR, OPEN_CLASS)
                if "template" in {flag.code for flag in check_item(text, wording=wording)}]


def test_the_standards_names_and_aims_stay_in_the_wording():
    wording = _wording("seed003")
    assert "比本领，带头学习钻研强素质" in wording and "教书育人楷模" in wording


# -- who copied whom: only the later of two alike items is a copy -----------------------------------
def _copied(items: list[str], written: dict, userid: str, at: float) -> list[bool]:
    flagged = flag_items([{"what": what} for what in items], written=written, userid=userid, at=at, campaign={})
    return [any(f["code"] == "copied" for f in item["flags"]) for item in flagged]


def test_the_original_author_is_not_flagged_when_someone_copies_their_item():
    copy = "每周听青年教师一节课，并当面交流听课意见"  # near LISTEN, not the same text
    written = {"li": [(LISTEN, 100.0)], "qian": [(copy, 200.0)]}  # li wrote it first, qian after
    assert _copied([LISTEN], written, "li", at=300.0) == [False]  # li's edit keeps the item she wrote first
    assert _copied([copy], written, "qian", at=300.0) == [True]  # qian's edit still copies it
    assert _copied([copy], {"li": [(LISTEN, 100.0)]}, "zhao", at=300.0) == [True]  # a new copier is flagged


def test_an_item_rewritten_after_the_copy_is_judged_at_its_own_time():
    copy = "每周听青年教师一节课，并当面交流听课意见"
    written = {"li": [(OPEN_CLASS, 100.0)], "qian": [(copy, 200.0)]}
    # li now writes, at 300, something close to what qian wrote at 200: li is the later one
    assert _copied([LISTEN], written, "li", at=300.0) == [True]


def test_a_form_item_is_judged_whole_its_measures_and_deadline_included() -> None:
    """The preview said 缺少量化、时间 right under 措施：每两周一次；时限：12月31日前: the 事项 was judged
    alone. The 措施 counts towards being concrete; a 时限 is never reported missing, but since the form
    asks everyone for one, it does not make a vague item concrete."""
    item = {"standard": "岗位承诺", "what": "做实教研组集体备课", "how": "每两周一次", "by": "2026-12-31"}
    assert flag_items([item], written={}, userid="u002", at=1.0, campaign={})[0]["flags"] == []
    vague = {"standard": "带头学习提高", "what": "进一步加强理论修养", "how": "认真对待", "by": "2026-12-31"}
    flags = flag_items([vague], written={}, userid="u002", at=1.0, campaign={})[0]["flags"]
    assert flags == [{"code": "vague", "detail": "动作、量化"}]  # 时间 is there: the deadline
    assert check_item("认真备课，认真批改作业", details="每周一次") == []  # 备课 and 每周
    assert check_item("认真备课，认真批改作业", deadline=True) == [Flag("vague", "量化")]
    assert check_item("认真备课，认真批改作业") == [Flag("vague", "量化、时间")]
    # copying is judged on the 事项 alone: 措施 that happen to match do not make a copy
    copied = flag_items([{"what": "家访留守儿童", "how": "每月一次", "by": "2026-12-31"}],
                        written={"u001": [("家访留守儿童", 0.5)]}, userid="u002", at=1.0, campaign={})
    assert [f["code"] for f in copied[0]["flags"]] == ["copied"]
