"""Every word the bot says lives here, as Jinja2 templates (*.j2), so a county edits words, not code."""
