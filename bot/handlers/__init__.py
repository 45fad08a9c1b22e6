"""One router per capability. The dispatcher is built from ROUTERS."""
from bot.handlers import help, me, pause, pledge, progress, resume, roster

ROUTERS = [help.router, me.router, roster.router, progress.router, pause.router, pledge.router, resume.router]
