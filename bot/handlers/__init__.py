"""One router per capability. The dispatcher is built from ROUTERS."""
from bot.handlers import (assessment, comment, documents, help, me, participation, pause, pledge, pledge_summary,
                          poll, progress, progress_report, rating, resume, roster, task_marks, vote)

ROUTERS = [help.router, me.router, roster.router, progress.router, pause.router, pledge.router,
           progress_report.router, assessment.router, pledge_summary.router, resume.router, poll.router, vote.router,
           rating.router, documents.router, task_marks.router, comment.router, participation.router]
