"""The console: web pages inside WeChat Work (opened from the app's 应用主页) for the committee, a
branch's secretary and each member, on the bot's own aiohttp app. Sign-in by the platform's 网页授权
(auth.py); pages built in views.py from bounded queries (progress.py counts in the database) and
rendered from message_templates/console/; routes.py ties them to /console/."""
from bot.console.routes import add_routes

__all__ = ["add_routes"]
