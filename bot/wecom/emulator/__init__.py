"""A local stand-in for the WeChat Work servers, for tests and the demo."""
from bot.wecom.emulator.emulator import WeComEmulator
from bot.wecom.emulator.state import Fault, UnknownCard

__all__ = ["Fault", "UnknownCard", "WeComEmulator"]
