"""A local stand-in for the WeChat Work servers, for tests and the demo."""
from bot.wecom.emulator.emulator import UnknownCard, WeComEmulator
from bot.wecom.emulator.state import Fault

__all__ = ["Fault", "UnknownCard", "WeComEmulator"]
