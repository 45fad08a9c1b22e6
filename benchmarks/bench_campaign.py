"""The campaign the benchmarks with many people share: one phase, five member tasks of five kinds
(tasks of one kind and audience in a phase own successive windows: the ledger owes the second only
after the first's due date, and each member is to owe all five), plus whatever a benchmark adds."""

MEMBER_TASKS = "".join(f"      - {{id: t{n}, title: 任务{n}, kind: {kind}, audience: members, due: 2026-04-{10 + n}}}\n"
                       for n, kind in enumerate(["pledge", "self_assessment", "progress", "document", "poll"]))


def bench_campaign(extra_tasks: str = "") -> str:
    """The campaign file's text; extra_tasks: more task lines, indented as MEMBER_TASKS's."""
    return """
name: 基准活动
source: benchmark
standards: {member: 五带头, branch: 五个好}
standard_sets: {五带头: {items: [带头学习提高]}, 五个好: {items: [领导班子好]}}
phases:
  - name: 全面推进
    start: 2026-03-02
    end: 2026-06-30
    tasks:
""" + MEMBER_TASKS + extra_tasks
