"""One router per capability. The dispatcher is built from ROUTERS."""
from bot.handlers import assessment, help, me, pause, pledge, progress, resume, roster

ROUTERS = [help.router, me.router, roster.router, progress.router, pause.router, pledge.router,
           assessment.router, resume.router]
