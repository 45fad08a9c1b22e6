"""The WeChat Work adapter: callback crypto and parsing, API client, outbox sender, emulator."""
