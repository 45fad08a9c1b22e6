"""The formalism guard's cost per pledge item against 1,000 other members' items (issue 7: it ran
on every pledge preview and submit, and tokenised every other item again each time). Run:

    .venv/bin/python benchmarks/formalism_guard.py

Prints the median milliseconds of `check_item` over 6 items (after one warm-up).
"""
import sys, time, random
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent))
from bot import formalism
words = ["每周", "听课", "一节", "组织", "学生", "开展", "读书", "活动", "家访", "十次", "备课", "教研", "课题", "月底", "完成", "撰写", "心得", "体会", "帮扶", "后进生"]
rng = random.Random(1)
others = ["".join(rng.choice(words) for _ in range(8)) for _ in range(1000)]
formalism.tokens("预热")
import statistics
def bench():
    times = []
    for i in range(7):
        t = time.perf_counter()
        formalism.check_item(others[i] + "并写总结", others=others, wording=[])
        times.append(time.perf_counter() - t)
    return statistics.median(times[1:])
print(f"check_item against 1,000 others: {bench()*1000:.1f} ms median")
