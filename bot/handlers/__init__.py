"""One router per capability. The dispatcher is built from ROUTERS."""
from bot.handlers import help, me, pause, progress, roster

ROUTERS = [help.router, me.router, roster.router, progress.router, pause.router]
