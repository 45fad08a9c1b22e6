"""A local stand-in for the WeChat Work servers, for tests and the demo."""
from bot.wecom.emulator.api import Fault, WeComEmulator

__all__ = ["Fault", "WeComEmulator"]
