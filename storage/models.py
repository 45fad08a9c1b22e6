"""SQLModel tables. Machine times (deadlines, leases) are Unix seconds as floats: portable
between SQLite and PostgreSQL and free of time-zone ambiguity; local dates come later with
campaigns and are always Asia/Shanghai unless configured."""
from __future__ import annotations

import time
from datetime import date
from enum import StrEnum
from typing import Any, Optional

from sqlalchemy import JSON, Column, Index, LargeBinary, Text, UniqueConstraint, func, literal_column
from sqlmodel import Field, SQLModel


class Role(StrEnum):
    member = "member"
    secretary = "secretary"
    committee = "committee"
    masses = "masses"


class OutboxStatus(StrEnum):
    pending = "pending"
    sent = "sent"
    dead = "dead"


class Branch(SQLModel, table=True):
    """A 支部 and the group chat the app created for it (apps may only post to their own chats)."""

    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=100)
    chat_id: Optional[str] = Field(default=None, unique=True, max_length=32)
    chat_members: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    chat_owner: Optional[str] = Field(default=None, max_length=64)
    chat_revision: int = 0


class Person(SQLModel, table=True):
    # WeChat Work's UserIDs are case-insensitive: one person per lower(userid), and the lookup by it
    # (storage.people.find) uses this index. The userid itself stays as the roster spells it.
    __table_args__ = (Index("ux_person_userid_lower", func.lower(literal_column("userid")), unique=True),)
    userid: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=64)
    branch_id: Optional[int] = Field(default=None, foreign_key="branch.id", index=True)
    role: str = Field(max_length=16)
    attributes: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class ProcessedCallback(SQLModel, table=True):
    """Keys of callbacks already received: inserted with the InboundUpdate row (or, through
    Dispatcher.feed_update, with the effect), so a retried callback has no second effect."""

    __tablename__ = "processed_callback"
    key: str = Field(primary_key=True, max_length=64)
    received_at: float = Field(default_factory=time.time)


class InboundUpdate(SQLModel, table=True):
    """A callback answered but not yet handled: written with its ProcessedCallback key before the 200,
    deleted in the transaction that carries its effect. Holds a vote's choice for those milliseconds,
    so it is never kept once handled, nor after giving up."""

    __tablename__ = "inbound_update"
    id: Optional[int] = Field(default=None, primary_key=True)
    userid: str = Field(max_length=64, index=True)
    payload: str  # the decrypted callback XML
    received_at: float
    lease_until: float = 0.0  # a process handling it; after the lease another may take it over
    attempts: int = 0


class Outbox(SQLModel, table=True):
    """A message or API call waiting to leave; the only way anything reaches WeChat Work."""

    # ix_outbox_claim walks due rows in claiming order; ix_outbox_channel_order answers "is an earlier
    # row of this channel still pending?" for each of them without reading the rest of the queue.
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),
                      Index("ix_outbox_claim", "status", "priority", "id"),
                      Index("ix_outbox_channel_order", "channel", "status", "priority", "id"))
    id: Optional[int] = Field(default=None, primary_key=True)
    idem_key: str = Field(unique=True, max_length=200)
    endpoint: str = Field(max_length=64)  # e.g. "message/send", "appchat/send"
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    recipients: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # Rows sharing a channel and priority leave in id order (a person's replies, a chat's create-then-send).
    channel: Optional[str] = Field(default=None, max_length=100)
    # Claimed lowest first (storage.outbox.REPLY, BULK): Monday's digest must not hold up replies.
    priority: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    status: str = Field(default=OutboxStatus.pending, max_length=16)
    attempts: int = 0
    next_attempt_at: float = Field(default_factory=time.time)
    lease_until: float = 0.0
    last_error: Optional[str] = Field(default=None, sa_column=Column(Text))
    result: Optional[dict[str, Any]] = Field(default=None, sa_column=Column(JSON))
    created_at: float = Field(default_factory=time.time)
    sent_at: Optional[float] = None


class Delivery(SQLModel, table=True):
    """One message counted against one person's per-minute and per-hour limits."""

    __table_args__ = (Index("ix_delivery_user_time", "userid", "sent_at"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    userid: str = Field(max_length=64)
    sent_at: float


class ConversationState(SQLModel, table=True):
    """Where a person is in a form; in the database so a restart resumes at the same question."""

    __tablename__ = "conversation_state"
    userid: str = Field(primary_key=True, foreign_key="person.userid", max_length=64)
    form: str = Field(max_length=64)  # the current step is derived from the answers in data
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    updated_at: float = Field(default_factory=time.time)


class AccessToken(SQLModel, table=True):
    """The app's access token, shared by every worker so they fetch it once between expiries."""

    __tablename__ = "access_token"
    key: str = Field(primary_key=True, max_length=100)
    token: str = Field(sa_column=Column(Text, nullable=False))
    expires_at: float


class BotState(SQLModel, table=True):
    """Small facts about this installation that several processes read: its id (part of every card's
    task_id, which the platform refuses if the app ever used it) and whether sending is paused by a
    setup error (what `xianfeng status` shows)."""

    __tablename__ = "bot_state"
    key: str = Field(primary_key=True, max_length=64)
    value: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    updated_at: float = Field(default_factory=time.time)


class CampaignRecord(SQLModel, table=True):
    """A loaded campaign file; its validated content is kept whole, its tasks also as rows below."""

    __tablename__ = "campaign"
    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=200)
    source_file: str = Field(max_length=500)
    content: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    content_hash: str = Field(max_length=64)
    start: date
    end: date
    loaded_at: float = Field(default_factory=time.time)


class CampaignTask(SQLModel, table=True):
    __tablename__ = "campaign_task"
    __table_args__ = (UniqueConstraint("campaign_id", "key"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    key: str = Field(max_length=100)
    phase_index: int
    title: str = Field(max_length=200)
    kind: str = Field(max_length=32)
    audience: str = Field(max_length=32)
    due: date
    remind_days: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # Set on tasks the bot adds for one branch (a 整改方案 after a poll below the line); campaign
    # file tasks are for every branch and have none.
    branch_id: Optional[int] = Field(default=None, foreign_key="branch.id")
    # Set, with branch_id, on a task the bot adds for one person: a member's 整改方案 after their
    # 民主评议党员 fell below the campaign's line.
    userid: Optional[str] = Field(default=None, max_length=64)


class TaskDone(SQLModel, table=True):
    """A task done by a person (subject = userid) or a branch (subject = "branch:<id>"): fulfilled by a
    submission, or marked by the committee (`/标记`) as done or not applicable, with its reason."""

    __tablename__ = "task_done"
    task_id: int = Field(foreign_key="campaign_task.id", primary_key=True)
    subject: str = Field(primary_key=True, max_length=80)
    done_at: float = Field(default_factory=time.time)
    how: str = Field(default="fulfilled", max_length=16, sa_column_kwargs={"server_default": "fulfilled"})
    reason: Optional[str] = Field(default=None, sa_column=Column(Text))
    marked_by: Optional[str] = Field(default=None, max_length=64)


class ReminderPause(SQLModel, table=True):
    """/请假: no nudges for this person until (and including) this local date."""

    __tablename__ = "reminder_pause"
    userid: str = Field(primary_key=True, foreign_key="person.userid", max_length=64)
    until: date


class Nudge(SQLModel, table=True):
    """Personal reminders sent in one ISO week, to keep under the weekly cap."""

    userid: str = Field(primary_key=True, max_length=64)
    week: str = Field(primary_key=True, max_length=10)  # e.g. 2026-W47
    count: int = 0


class JobRun(SQLModel, table=True):
    """Periods a job has already acted for (e.g. the digest of 2026-W47): "already sent" lives here,
    not in APScheduler, which forgets missed one-shot runs."""

    __tablename__ = "job_run"
    job: str = Field(primary_key=True, max_length=50)
    period: str = Field(primary_key=True, max_length=50)
    ran_at: float = Field(default_factory=time.time)


class SchedulerLease(SQLModel, table=True):
    """Which process's scheduler may act; renewed while alive, taken over after it expires."""

    __tablename__ = "scheduler_lease"
    name: str = Field(primary_key=True, max_length=50)
    holder: str = Field(max_length=100)
    expires_at: float


class Pledge(SQLModel, table=True):
    """A submitted 公开承诺 for one pledge task (seed000's branch pledges in 2010 and 2012 are two).
    Edits add a version of that task's pledge; earlier versions stay as history."""

    __table_args__ = (UniqueConstraint("campaign_id", "task_id", "userid", "kind", "version"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    # The task it fulfils; none only on pledges made before pledges were tied to tasks (0012).
    task_id: Optional[int] = Field(default=None, foreign_key="campaign_task.id", index=True)
    userid: str = Field(foreign_key="person.userid", max_length=64, index=True)
    branch_id: Optional[int] = Field(default=None, foreign_key="branch.id")
    kind: str = Field(default="member", max_length=16)
    version: int = 1
    items: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    submitted_at: float = Field(default_factory=time.time)


class SelfAssessment(SQLModel, table=True):
    """A 自评 / 党性分析 (kind "member") or a branch's 党组织自评 (kind "branch"). Private: shown only to
    the person, their secretary and the committee; never published."""

    __tablename__ = "self_assessment"
    id: Optional[int] = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    # The task it fulfils; none when no self-assessment task's window held the day it was made.
    task_id: Optional[int] = Field(default=None, foreign_key="campaign_task.id", index=True)
    userid: str = Field(foreign_key="person.userid", max_length=64)
    branch_id: Optional[int] = Field(default=None, foreign_key="branch.id")
    kind: str = Field(default="member", max_length=16)
    items: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    submitted_at: float = Field(default_factory=time.time)


class PledgeProgress(SQLModel, table=True):
    """A 践诺 report on one item of a pledge: what was done, and how far along (optional)."""

    __tablename__ = "pledge_progress"
    # A photo no form takes looks for the sender's report of the last half hour (progress_photos).
    __table_args__ = (Index("ix_pledge_progress_userid_reported_at", "userid", "reported_at"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    pledge_id: int = Field(foreign_key="pledge.id", index=True)
    item: int
    text: str = Field(sa_column=Column(Text, nullable=False))
    percent: Optional[int] = None
    reported_at: float = Field(default_factory=time.time)
    # Who reported: any secretary of the branch may report on the branch's pledge (/践诺 支部), so the
    # pledge's author is not always the reporter. None on reports made before 0016 (the pledge's author).
    userid: Optional[str] = Field(default=None, max_length=64)


class ProgressPhoto(SQLModel, table=True):
    """A photo sent with a 践诺 report (a member's or a branch's), as its callback carried it, then its
    bytes, fetched with media/get behind the reply like a /报送 file (bot/document_files.py): fetching
    (due at fetch_due_at) | kept (the bytes below) | lost (its MediaId expired or was refused; the
    reporter was asked to send it again) | too_large. Once kept it is posted to `chat_id`, the branch
    group the report was published to (None: not published). Up to PHOTOS_PER_REPORT a report."""

    __tablename__ = "progress_photo"
    id: Optional[int] = Field(default=None, primary_key=True)
    progress_id: int = Field(foreign_key="pledge_progress.id", index=True, ondelete="CASCADE")
    seq: int  # 1, 2, 3 … in the order they were sent
    userid: str = Field(max_length=64)
    media_id: str = Field(max_length=256)
    pic_url: Optional[str] = Field(default=None, sa_column=Column(Text))
    sent_at: float  # the callback's time: the platform keeps the media three days from then
    chat_id: Optional[str] = Field(default=None, max_length=64)
    file_status: str = Field(default="fetching", max_length=16, index=True)
    fetch_due_at: Optional[float] = None
    fetch_attempts: int = 0
    fetch_error: Optional[str] = Field(default=None, sa_column=Column(Text))
    filename: Optional[str] = Field(default=None, max_length=255)
    content_type: Optional[str] = Field(default=None, max_length=128)
    size: Optional[int] = None
    sha256: Optional[str] = Field(default=None, max_length=64)
    fetched_at: Optional[float] = None
    data: Optional[bytes] = Field(default=None, sa_column=Column(LargeBinary))


class Poll(SQLModel, table=True):
    """An anonymous 评议. Who may vote and who has voted are in PollVoter; what was chosen is in
    Ballot, which nothing links to a voter, sealed until the close. ``result`` is written once, when
    the poll closes: the counts and comments, after which the ballots are gone."""

    id: Optional[int] = Field(default=None, primary_key=True)
    campaign_id: Optional[int] = Field(default=None, foreign_key="campaign.id")
    task_id: Optional[int] = Field(default=None, foreign_key="campaign_task.id")
    branch_id: int = Field(foreign_key="branch.id", index=True)
    issuer: str = Field(max_length=64)
    rates: str = Field(max_length=16)  # branch | leadership | members
    subject: str = Field(max_length=200)  # what is rated, in words
    subject_userid: Optional[str] = Field(default=None, max_length=64)  # 民主评议党员: who is rated
    description: str = Field(default="", max_length=200)
    scale: str = Field(max_length=32)
    options: list[str] = Field(sa_column=Column(JSON, nullable=False))
    satisfied: list[str] = Field(sa_column=Column(JSON, nullable=False))
    voters: str = Field(max_length=16)  # members | masses | both
    deadline: float
    min_ballots: int = 5
    status: str = Field(default="open", max_length=16, index=True)
    closed_at: Optional[float] = None
    result: Optional[dict[str, Any]] = Field(default=None, sa_column=Column(JSON))
    created_at: float = Field(default_factory=time.time)
    # The key (storage/sealing.py) its ballots and comments are sealed under, destroyed at the close;
    # None for a poll open when sealing came (0021), whose ballots stay as they were stored.
    seal_key: Optional[str] = Field(default=None, max_length=64)


class PollVoter(SQLModel, table=True):
    """Eligibility and participation: who may vote in a poll and whether they have. No choice here,
    and no time of voting."""

    __tablename__ = "poll_voter"
    poll_id: int = Field(foreign_key="poll.id", primary_key=True)
    userid: str = Field(primary_key=True, max_length=64)
    voted: bool = False
    reminded_on: Optional[date] = None


class Ballot(SQLModel, table=True):
    """One vote's content and nothing else, sealed under its poll's key until the poll closes (then
    counted into poll.result and deleted): a random id (so key order is not vote order; SQLite keeps
    the rows in key order, WITHOUT ROWID), no voter, no time. The sealed text is {"choice", "group"},
    group ("member" or "masses", never who) only where the poll counts 群众 apart."""

    __table_args__ = {"sqlite_with_rowid": False}
    id: str = Field(primary_key=True, max_length=32)
    poll_id: int = Field(foreign_key="poll.id", index=True)
    sealed: str = Field(sa_column=Column(Text, nullable=False))


class PollComment(SQLModel, table=True):
    """A comment written with a vote, kept apart from the ballot: nothing joins the two, so a comment
    (a lone commenter's words) never tells the choice it came with. Sealed like a ballot, with a
    random id of its own; published with the result, which is where it stays."""

    __tablename__ = "poll_comment"
    __table_args__ = {"sqlite_with_rowid": False}
    id: str = Field(primary_key=True, max_length=32)
    poll_id: int = Field(foreign_key="poll.id", index=True)
    sealed: str = Field(sa_column=Column(Text, nullable=False))


class BranchParticipation(SQLModel, table=True):
    """党员参与率 in 三会一课 (seed004's 作用发挥), entered by the branch secretary from the branch's records:
    a percentage, or attended of total. Every entry stays; a campaign's latest for the branch counts."""

    __tablename__ = "branch_participation"
    id: Optional[int] = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    branch_id: int = Field(foreign_key="branch.id")
    rate: float  # 0..1
    attended: Optional[int] = None
    total: Optional[int] = None
    note: Optional[str] = Field(default=None, sa_column=Column(Text))  # where the figure comes from, as typed
    entered_by: str = Field(max_length=64)
    entered_on: date  # the secretary's local date
    entered_at: float = Field(default_factory=time.time)


class MediaBlob(SQLModel, table=True):
    """An image waiting to be uploaded with media/upload when its message leaves (media ids expire
    after three days, so the upload happens at send time, not when the message is queued)."""

    __tablename__ = "media_blob"
    key: str = Field(primary_key=True, max_length=100)
    filename: str = Field(max_length=100)
    content_type: str = Field(max_length=64)
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class Rating(SQLModel, table=True):
    """A branch's 分类定级 (and stars, red flag) in one rating round, i.e. one `kind: rating` task of a
    campaign (seed002 rates in phase 1 and again in phase 4): proposed by the bot from the inputs,
    decided when a committee member confirms it. Every round keeps its own row, so a change of level
    (晋位升级) can be shown. A round removed from its campaign file takes its ratings with it."""

    __table_args__ = (UniqueConstraint("task_id", "branch_id"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    task_id: int = Field(foreign_key="campaign_task.id", index=True, ondelete="CASCADE")
    branch_id: int = Field(foreign_key="branch.id")
    inputs: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    score: Optional[float] = None
    level: str = Field(default="", max_length=16)
    stars: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    red_flag: bool = False
    rule_version: str = Field(default="", max_length=64)
    status: str = Field(default="proposed", max_length=16)  # proposed | confirmed
    proposed_by: Optional[str] = Field(default=None, max_length=64)
    confirmed_by: Optional[str] = Field(default=None, max_length=64)
    confirmed_at: Optional[float] = None
    created_at: float = Field(default_factory=time.time)


class DocumentSubmission(SQLModel, table=True):
    """A document (方案, 总结, 评估小结 …) sent with /报送 for a `kind: document` task: a text, or an image or
    a file as its callback carried it (MediaId, PicUrl, name; a MediaId can be fetched for three days).
    A committee member accepts it, which fulfils the task for its subject, or returns it with a comment."""

    __tablename__ = "document_submission"
    id: Optional[int] = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    # None once the campaign file dropped the task; its title stays for the export.
    task_id: Optional[int] = Field(default=None, foreign_key="campaign_task.id", index=True, ondelete="SET NULL")
    task_title: str = Field(max_length=200)
    subject: str = Field(max_length=80)  # whom it fulfils the task for: "branch:<id>" or a userid
    branch_id: Optional[int] = Field(default=None, foreign_key="branch.id")
    userid: str = Field(foreign_key="person.userid", max_length=64)
    kind: str = Field(max_length=16)  # text | image | file
    text: Optional[str] = Field(default=None, sa_column=Column(Text))
    media_id: Optional[str] = Field(default=None, max_length=256)
    pic_url: Optional[str] = Field(default=None, sa_column=Column(Text))
    file_name: Optional[str] = Field(default=None, max_length=255)
    status: str = Field(default="pending", max_length=16, index=True)  # pending | accepted | returned
    reviewer: Optional[str] = Field(default=None, max_length=64)
    comment: Optional[str] = Field(default=None, sa_column=Column(Text))
    submitted_at: float = Field(default_factory=time.time)
    reviewed_at: Optional[float] = None
    # An image's or a file's bytes, fetched with media/get behind the callback (bot/document_files.py):
    # fetching (due at fetch_due_at) | kept (in document_file) | lost (its MediaId expired or was refused;
    # the submitter was asked to send it again) | too_large (past what one media/get returns); None for a text.
    file_status: Optional[str] = Field(default=None, max_length=16, index=True)
    fetch_due_at: Optional[float] = None
    fetch_attempts: int = 0
    fetch_error: Optional[str] = Field(default=None, sa_column=Column(Text))


class DocumentFile(SQLModel, table=True):
    """The bytes of a submission's image or file, kept in the database (not a data directory): every
    worker of a PostgreSQL deployment reads the same ones, a database backup holds the 党建档案 whole,
    and a file is at most MAX_BYTES (20 MB, what one media/get returns and media/upload takes back)."""

    __tablename__ = "document_file"
    submission_id: int = Field(foreign_key="document_submission.id", primary_key=True, ondelete="CASCADE")
    filename: str = Field(max_length=255)
    content_type: str = Field(max_length=128)
    size: int
    sha256: str = Field(max_length=64)
    fetched_at: float
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class LeaderComment(SQLModel, table=True):
    """A 领导点评 (`kind: comment` task): a committee member's comment on one branch, posted to the
    branch's group. "全部" writes the same text to every branch, one row each. The task is the
    committee's, done once every branch has a comment for it (storage.comments)."""

    __tablename__ = "leader_comment"
    id: Optional[int] = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", index=True)
    # None once the campaign file dropped the task; its title stays for the export.
    task_id: Optional[int] = Field(default=None, foreign_key="campaign_task.id", index=True, ondelete="SET NULL")
    task_title: str = Field(max_length=200)
    branch_id: int = Field(foreign_key="branch.id", index=True)
    userid: str = Field(foreign_key="person.userid", max_length=64)
    text: str = Field(sa_column=Column(Text, nullable=False))
    written_at: float = Field(default_factory=time.time)


class AuditEntry(SQLModel, table=True):
    """One entry of the audit log (storage/audit.py): who (a userid, "cli" or "system") did what
    (a short action code) to what (subject, e.g. "poll:12"), with a few details (never anything from a
    ballot). Each entry's hash covers its fields and the hash of the entry before it, so an edit or a
    deletion shows; `seq` runs 1, 2, 3… without gaps, assigned under a lock (no autoincrement)."""

    __tablename__ = "audit_entry"
    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    at: float
    actor: str = Field(max_length=64)
    action: str = Field(max_length=32)
    subject: str = Field(max_length=120)
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)
