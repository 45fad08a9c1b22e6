"""One router per capability. The dispatcher is built from ROUTERS."""
from bot.handlers import (assessment, help, me, pause, pledge, pledge_summary, progress, progress_report, resume,
                          roster)

ROUTERS = [help.router, me.router, roster.router, progress.router, pause.router, pledge.router,
           progress_report.router, assessment.router, pledge_summary.router, resume.router]
